/**
 * Test fixture: drawn faces whose every result is known exactly. Each face is a set of
 * polygons in a face-local frame (unit circle = the face oval), moved by a pose (centre,
 * size, roll, and a yaw/pitch that slide the features across the oval). The same polygons
 * give the SVG that becomes the video frame, the 68 landmarks and the parsing mask, so
 * overlays drawn from the results line up with the picture.
 */
import { CROP_MARGIN, INPUT_SIZE, PARSING_LABELS } from '../../src/model/contract.js';
import type { Box } from '../../src/pipeline/types.js';

/** Where a face is and how it is turned, in frame pixels and degrees. */
export interface FacePose {
  cx: number;
  cy: number;
  /** Half width and half height of the face oval in pixels. */
  rx: number;
  ry: number;
  roll: number;
  yaw: number;
  pitch: number;
  /** 0 closed to 1 open. */
  mouthOpen: number;
}

/** Colours and style of one drawn person. */
export interface FaceLook {
  skin: string;
  skinShade: string;
  hair: string;
  longHair: boolean;
  shirt: string;
  iris: string;
  lips: string;
  glasses: boolean;
}

type Point = [number, number];

interface Shape {
  /** Parsing class index, or undefined for drawing-only shapes (glasses). */
  cls: number | undefined;
  fill: string;
  stroke?: string;
  points: Point[];
}

const CLASS = Object.fromEntries(PARSING_LABELS.map((name, i) => [name, i])) as Record<
  (typeof PARSING_LABELS)[number],
  number
>;

/** Maps a face-local point to frame pixels. */
export function toFrame(pose: FacePose, [u, v]: Point): Point {
  const a = (pose.roll * Math.PI) / 180;
  const x = u * pose.rx;
  const y = v * pose.ry;
  return [pose.cx + x * Math.cos(a) - y * Math.sin(a), pose.cy + x * Math.sin(a) + y * Math.cos(a)];
}

/** The 68 iBUG points of a face in frame pixels. */
export function landmarks(pose: FacePose): Point[] {
  return localLandmarks(pose).map((p) => toFrame(pose, p));
}

/** The detector box: the oval plus a little forehead. */
export function detectorBox(pose: FacePose): Box {
  const corners = [
    [-1, -1.05],
    [1, -1.05],
    [1, 1],
    [-1, 1],
  ].map((p) => toFrame(pose, p as Point));
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** The crop the model would see: the box grown by CROP_MARGIN and clipped to the frame. */
export function cropBox(box: Box, width: number, height: number): Box {
  const x0 = Math.max(0, Math.floor(box.x - (box.width * CROP_MARGIN) / 2));
  const y0 = Math.max(0, Math.floor(box.y - (box.height * CROP_MARGIN) / 2));
  const x1 = Math.min(width, Math.ceil(box.x + box.width * (1 + CROP_MARGIN / 2)));
  const y1 = Math.min(height, Math.ceil(box.y + box.height * (1 + CROP_MARGIN / 2)));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** An SVG picture of a room with the given people in it. */
export function sceneSvg(
  width: number,
  height: number,
  people: Array<{ pose: FacePose; look: FaceLook }>,
): string {
  const w = (f: number) => (width * f).toFixed(1);
  const h = (f: number) => (height * f).toFixed(1);
  const frame = 'stroke="#1d232b" stroke-width="6"';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    '<defs><linearGradient id="wall" x1="0" y1="0" x2="0" y2="1">',
    '<stop offset="0" stop-color="#4a5566"/><stop offset="1" stop-color="#2c333d"/>',
    '</linearGradient><linearGradient id="floor" x1="0" y1="0" x2="0" y2="1">',
    '<stop offset="0" stop-color="#3b3026"/><stop offset="1" stop-color="#221b15"/>',
    '</linearGradient></defs>',
    `<rect width="${width}" height="${height}" fill="url(#wall)"/>`,
    `<rect y="${h(0.78)}" width="${width}" height="${h(0.22)}" fill="url(#floor)"/>`,
    `<rect x="${w(0.06)}" y="${h(0.12)}" width="${w(0.2)}" height="${h(0.42)}" fill="#8fb3cf" ${frame}/>`,
    `<line x1="${w(0.16)}" y1="${h(0.12)}" x2="${w(0.16)}" y2="${h(0.54)}" ${frame}/>`,
    `<rect x="${w(0.8)}" y="${h(0.2)}" width="${w(0.13)}" height="${h(0.58)}" fill="#5b4634" ${frame}/>`,
    `<circle cx="${w(0.905)}" cy="${h(0.5)}" r="4" fill="#d8c48a"/>`,
  ];
  for (const { pose, look } of people) {
    for (const shape of shapes(pose, look)) {
      const points = shape.points
        .map((p) =>
          toFrame(pose, p)
            .map((n) => n.toFixed(1))
            .join(','),
        )
        .join(' ');
      const stroke = shape.stroke
        ? ` stroke="${shape.stroke}" stroke-width="${(pose.rx * 0.05).toFixed(1)}"`
        : '';
      parts.push(`<polygon points="${points}" fill="${shape.fill}"${stroke}/>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** The parsing mask (class index per pixel, INPUT_SIZE squared, row-major) over `crop`. */
export function parsingMask(pose: FacePose, look: FaceLook, crop: Box): Uint8Array {
  const size = INPUT_SIZE;
  const mask = new Uint8Array(size * size);
  for (const shape of shapes(pose, look)) {
    if (shape.cls === undefined) continue;
    const polygon = shape.points.map((p) => {
      const [x, y] = toFrame(pose, p);
      return [((x - crop.x) / crop.width) * size, ((y - crop.y) / crop.height) * size] as Point;
    });
    fillPolygon(mask, size, polygon, shape.cls);
  }
  return mask;
}

/** Row-major run-length encoding [class, run, class, run, ...]. */
export function runLength(mask: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < mask.length) {
    let j = i + 1;
    while (j < mask.length && mask[j] === mask[i]) j++;
    out.push(mask[i], j - i);
    i = j;
  }
  return out;
}

/** Fraction of the mask covered by each class present. */
export function coverage(mask: Uint8Array): Record<string, number> {
  const counts = new Array<number>(PARSING_LABELS.length).fill(0);
  for (const value of mask) counts[value]++;
  const out: Record<string, number> = {};
  counts.forEach((n, cls) => {
    if (n > 0) out[PARSING_LABELS[cls]] = n / mask.length;
  });
  return out;
}

function localLandmarks(pose: FacePose): Point[] {
  const { dx, dy } = featureShift(pose);
  const shift = (points: Point[], depth = 1): Point[] =>
    points.map(([u, v]) => [u + dx * depth, v + dy * depth]);
  const jaw: Point[] = [];
  for (let j = 0; j < 17; j++) {
    const t = ((190 - j * (200 / 16)) * Math.PI) / 180;
    jaw.push([Math.cos(t) * 0.98 + dx * 0.25 * Math.sin(t), Math.sin(t) * 0.98]);
  }
  const brow = (x0: number, x1: number): Point[] =>
    [0, 1, 2, 3, 4].map((k) => {
      const u = x0 + ((x1 - x0) * k) / 4;
      return [u, -0.42 - 0.06 * Math.sin((Math.PI * k) / 4)];
    });
  const eye = (cx: number): Point[] => {
    const ring: Point[] = [
      [-0.17, 0],
      [-0.06, -0.07],
      [0.06, -0.07],
      [0.17, 0],
      [0.06, 0.055],
      [-0.06, 0.055],
    ];
    return ring.map(([u, v]) => [cx + u, -0.2 + v]);
  };
  const open = 0.02 + 0.07 * pose.mouthOpen;
  const mouth: Point[] = [
    [-0.34, 0.56],
    [-0.2, 0.49],
    [-0.07, 0.46],
    [0, 0.48],
    [0.07, 0.46],
    [0.2, 0.49],
    [0.34, 0.56],
    [0.2, 0.64 + open],
    [0.07, 0.67 + open],
    [0, 0.67 + open],
    [-0.07, 0.67 + open],
    [-0.2, 0.64 + open],
  ];
  const inner: Point[] = [
    [-0.27, 0.56],
    [-0.09, 0.545],
    [0, 0.55],
    [0.09, 0.545],
    [0.27, 0.56],
    [0.09, 0.56 + open],
    [0, 0.565 + open],
    [-0.09, 0.56 + open],
  ];
  const nose: Point[] = [
    [0, -0.3],
    [0, -0.15],
    [0, 0],
    [0, 0.15],
    [-0.17, 0.25],
    [-0.085, 0.28],
    [0, 0.3],
    [0.085, 0.28],
    [0.17, 0.25],
  ];
  return [
    ...jaw,
    ...shift(brow(-0.72, -0.14)),
    ...shift(brow(0.14, 0.72)),
    ...shift(
      nose.slice(0, 4).map(([u, v], k) => [u + dx * 0.25 * k, v]),
      1,
    ),
    ...shift(nose.slice(4), 1.5),
    ...shift(eye(-0.4)),
    ...shift(eye(0.4)),
    ...shift(mouth),
    ...shift(inner),
  ];
}

/** How far yaw and pitch slide the inner features across the oval, in local units. */
function featureShift(pose: FacePose): { dx: number; dy: number } {
  return {
    dx: Math.sin((pose.yaw * Math.PI) / 180) * 0.4,
    dy: -Math.sin((pose.pitch * Math.PI) / 180) * 0.3,
  };
}

function shapes(pose: FacePose, look: FaceLook): Shape[] {
  const lm = localLandmarks(pose);
  const { dx } = featureShift(pose);
  const out: Shape[] = [];
  if (look.longHair)
    out.push({ cls: CLASS.hair, fill: look.hair, points: ellipse(0, 0.05, 1.18, 1.25, 0, 40) });
  out.push({ cls: CLASS.background, fill: look.skinShade, points: rect(-0.42, 0.6, 0.42, 1.6) });
  out.push({ cls: CLASS.background, fill: look.shirt, points: shoulders() });
  out.push({ cls: CLASS.skin, fill: look.skin, points: ellipse(0, 0, 1, 1, 0, 48) });
  out.push({ cls: CLASS.hair, fill: look.hair, points: hairCap(dx) });
  out.push({
    cls: CLASS.nose,
    fill: look.skinShade,
    points: [lm[27], lm[31], lm[32], lm[33], lm[34], lm[35]],
  });
  out.push({ cls: CLASS.left_eyebrow, fill: look.hair, points: band(lm.slice(17, 22), 0.035) });
  out.push({ cls: CLASS.right_eyebrow, fill: look.hair, points: band(lm.slice(22, 27), 0.035) });
  for (const [start, cls] of [
    [36, CLASS.left_eye],
    [42, CLASS.right_eye],
  ] as const) {
    const ring = lm.slice(start, start + 6);
    const centre = mean(ring);
    out.push({ cls, fill: '#f4f1ea', points: ring });
    out.push({
      cls,
      fill: look.iris,
      points: ellipse(centre[0] + dx * 0.1, centre[1], 0.06, 0.06, 0, 16),
    });
    out.push({
      cls,
      fill: '#111',
      points: ellipse(centre[0] + dx * 0.1, centre[1], 0.025, 0.025, 0, 12),
    });
  }
  out.push({
    cls: CLASS.upper_lip,
    fill: look.lips,
    points: [...lm.slice(48, 55), ...lm.slice(60, 65).reverse()],
  });
  out.push({
    cls: CLASS.lower_lip,
    fill: look.lips,
    points: [lm[54], ...lm.slice(55, 60), lm[48], lm[60], ...lm.slice(65, 68).reverse(), lm[64]],
  });
  out.push({ cls: CLASS.inner_mouth, fill: '#3a1518', points: lm.slice(60, 68) });
  if (look.glasses) {
    for (const start of [36, 42]) {
      const [u, v] = mean(lm.slice(start, start + 6));
      out.push({
        cls: undefined,
        fill: 'none',
        stroke: '#15181c',
        points: ellipse(u, v, 0.24, 0.15, 0, 24),
      });
    }
  }
  return out;
}

function hairCap(dx: number): Point[] {
  const top: Point[] = [];
  const line: Point[] = [];
  for (let k = 0; k <= 40; k++) {
    const u = -1.06 + (2.12 * k) / 40;
    const outer = -0.12 - 1.0 * Math.sqrt(Math.max(0, 1 - (u / 1.06) ** 2));
    const hairline = -0.42 - 0.3 * (1 - ((u - dx * 0.5) / 1.06) ** 2);
    top.push([u, outer]);
    line.push([u, Math.max(outer, hairline)]);
  }
  return [...top, ...line.reverse()];
}

function shoulders(): Point[] {
  return [
    [-1.9, 2.6],
    [-1.75, 1.55],
    [-1.1, 1.22],
    [-0.4, 1.08],
    [0.4, 1.08],
    [1.1, 1.22],
    [1.75, 1.55],
    [1.9, 2.6],
  ];
}

function ellipse(
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  start: number,
  steps: number,
): Point[] {
  const out: Point[] = [];
  for (let k = 0; k < steps; k++) {
    const t = start + (2 * Math.PI * k) / steps;
    out.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return out;
}

function rect(u0: number, v0: number, u1: number, v1: number): Point[] {
  return [
    [u0, v0],
    [u1, v0],
    [u1, v1],
    [u0, v1],
  ];
}

/** A thick line through `points`: the polyline offset up and back down. */
function band(points: Point[], half: number): Point[] {
  return [
    ...points.map(([u, v]) => [u, v - half] as Point),
    ...points.map(([u, v]) => [u, v + half] as Point).reverse(),
  ];
}

function mean(points: Point[]): Point {
  const n = points.length;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

/** Even-odd scanline fill of `polygon` (mask pixel units) with `value`, pixel centres. */
function fillPolygon(mask: Uint8Array, size: number, polygon: Point[], value: number): void {
  const ys = polygon.map((p) => p[1]);
  const yStart = Math.max(0, Math.floor(Math.min(...ys)));
  const yEnd = Math.min(size - 1, Math.ceil(Math.max(...ys)));
  for (let y = yStart; y <= yEnd; y++) {
    const cy = y + 0.5;
    const crossings: number[] = [];
    for (let i = 0; i < polygon.length; i++) {
      const [x0, y0] = polygon[i];
      const [x1, y1] = polygon[(i + 1) % polygon.length];
      if (y0 <= cy === y1 <= cy) continue;
      crossings.push(x0 + ((cy - y0) / (y1 - y0)) * (x1 - x0));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(0, Math.ceil(crossings[k] - 0.5));
      const to = Math.min(size - 1, Math.floor(crossings[k + 1] - 0.5));
      for (let x = from; x <= to; x++) mask[y * size + x] = value;
    }
  }
}
