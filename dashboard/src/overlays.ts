/**
 * Canvas overlays over a video frame, all in frame pixels: face boxes with track ids, the 68
 * landmarks with their contours, head-pose axes at the nose, and the parsing mask stretched
 * over the crop it was computed on.
 */
import { PARSING_COLORS } from '../../src/model/contract.js';
import type { FaceRecord, ParsingResult } from '../../src/pipeline/record.js';
import { trackColor } from './format.js';

/** Which overlays to draw. */
export interface OverlaySet {
  boxes: boolean;
  landmarks: boolean;
  pose: boolean;
  parsing: boolean;
}

/** Index ranges of the iBUG 68-point contours; `true` closes the loop. */
const CONTOURS: Array<[number, number, boolean]> = [
  [0, 16, false], // jaw
  [17, 21, false], // brows
  [22, 26, false],
  [27, 30, false], // nose bridge
  [31, 35, false], // nostrils
  [36, 41, true], // eyes
  [42, 47, true],
  [48, 59, true], // outer lips
  [60, 67, true], // inner lips
];

/** Nose tip in the iBUG layout: where the pose axes start. */
const NOSE_TIP = 30;

/** Alpha of the parsing overlay, 0-255. */
const MASK_ALPHA = 96;

const maskCache = new WeakMap<ParsingResult, HTMLCanvasElement>();

/** Draws `faces` onto `ctx` (sized to the frame); returns the names of what was drawn. */
export function drawOverlays(
  ctx: CanvasRenderingContext2D,
  faces: FaceRecord[],
  show: OverlaySet,
  frameWidth: number,
): string[] {
  const drawn = new Set<string>();
  const line = Math.max(1.5, frameWidth / 480);

  for (const face of faces) {
    if (show.parsing && face.parsing) {
      drawParsing(ctx, face.parsing);
      drawn.add('parsing');
    }
  }
  for (const face of faces) {
    const color = trackColor(face.id);
    if (show.landmarks && face.landmarks) {
      drawLandmarks(ctx, face.landmarks, color, line);
      drawn.add('landmarks');
    }
    if (show.pose && face.headPose) {
      drawPose(ctx, face, line);
      drawn.add('pose');
    }
    if (show.boxes) {
      drawBox(ctx, face, color, line);
      drawn.add('boxes');
    }
  }
  return [...drawn];
}

function drawBox(
  ctx: CanvasRenderingContext2D,
  face: FaceRecord,
  color: string,
  line: number,
): void {
  const { x, y, width, height } = face.box;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = line * 1.4;
  ctx.beginPath();
  ctx.roundRect(x, y, width, height, line * 3);
  ctx.stroke();

  const label = boxLabel(face);
  ctx.font = `600 ${Math.round(line * 8)}px system-ui, sans-serif`;
  const padding = line * 3;
  const textWidth = ctx.measureText(label).width;
  const tagHeight = line * 12;
  const tagY = y - tagHeight - line >= 0 ? y - tagHeight - line : y + line;
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.roundRect(x, tagY, textWidth + padding * 2, tagHeight, line * 2);
  ctx.fill();
  ctx.fillStyle = '#0b0e12';
  ctx.textBaseline = 'middle';
  ctx.fillText(label, x + padding, tagY + tagHeight / 2 + line * 0.5);
  ctx.restore();
}

function boxLabel(face: FaceRecord): string {
  const parts = [`#${face.id}`];
  if (face.gender) parts.push(face.gender.label);
  if (face.age) parts.push(face.age.label);
  return parts.join(' · ');
}

function drawLandmarks(
  ctx: CanvasRenderingContext2D,
  points: Array<[number, number]>,
  color: string,
  line: number,
): void {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.globalAlpha = 0.75;
  ctx.lineWidth = line * 0.7;
  for (const [from, to, closed] of CONTOURS) {
    if (points.length <= to) continue;
    ctx.beginPath();
    ctx.moveTo(points[from][0], points[from][1]);
    for (let i = from + 1; i <= to; i++) ctx.lineTo(points[i][0], points[i][1]);
    if (closed) ctx.closePath();
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#f2fbff';
  for (const [x, y] of points) {
    ctx.beginPath();
    ctx.arc(x, y, line * 0.9, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.restore();
}

/**
 * Head-pose axes: X (red) to the face's right as seen, Y (green) up, Z (blue) out of the
 * face. Rotation is pitch about X, then yaw (as the 300W-LP convention, positive yaw turns
 * the nose to the image left) about Y, then roll about Z; the axes are projected
 * orthographically.
 */
function drawPose(ctx: CanvasRenderingContext2D, face: FaceRecord, line: number): void {
  const pose = face.headPose!;
  const rad = Math.PI / 180;
  const p = pose.pitch * rad;
  const y = -pose.yaw * rad;
  const r = pose.roll * rad;
  const [cp, sp, cy, sy, cr, sr] = [
    Math.cos(p),
    Math.sin(p),
    Math.cos(y),
    Math.sin(y),
    Math.cos(r),
    Math.sin(r),
  ];
  const axes: Array<[number, number, string]> = [
    [cy * cr, cp * sr + sp * sy * cr, '#ff5a5a'],
    [cy * sr, -(cp * cr - sp * sy * sr), '#5ee07a'],
    [sy, -cy * sp, '#5aa8ff'],
  ];

  const origin = face.landmarks?.[NOSE_TIP] ?? [
    face.box.x + face.box.width / 2,
    face.box.y + face.box.height / 2,
  ];
  const length = face.box.width * 0.55;
  ctx.save();
  ctx.lineWidth = line * 1.6;
  ctx.lineCap = 'round';
  for (const [dx, dy, color] of axes) {
    ctx.strokeStyle = color;
    ctx.beginPath();
    ctx.moveTo(origin[0], origin[1]);
    ctx.lineTo(origin[0] + dx * length, origin[1] + dy * length);
    ctx.stroke();
  }
  ctx.restore();
}

function drawParsing(ctx: CanvasRenderingContext2D, parsing: ParsingResult): void {
  let mask = maskCache.get(parsing);
  if (!mask) {
    mask = maskCanvas(parsing);
    maskCache.set(parsing, mask);
  }
  const { x, y, width, height } = parsing.box;
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(mask, x, y, width, height);
  ctx.restore();
}

/** Decodes the run-length mask into a small canvas, background transparent. */
function maskCanvas(parsing: ParsingResult): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = parsing.width;
  canvas.height = parsing.height;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(parsing.width, parsing.height);
  const total = parsing.width * parsing.height;
  let pixel = 0;
  for (let i = 0; i + 1 < parsing.rle.length && pixel < total; i += 2) {
    const cls = parsing.rle[i];
    const end = Math.min(total, pixel + parsing.rle[i + 1]);
    const color = cls === 0 ? undefined : PARSING_COLORS[cls];
    for (; pixel < end; pixel++) {
      if (!color) continue;
      const o = pixel * 4;
      image.data[o] = color[0];
      image.data[o + 1] = color[1];
      image.data[o + 2] = color[2];
      image.data[o + 3] = MASK_ALPHA;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}
