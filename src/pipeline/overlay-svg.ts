/**
 * Draws a frame's results as an SVG overlay: boxes with track ids and labels, the 68
 * landmarks and head-pose axes. Used by the annotated-video writer.
 */
import type { FaceRecord, FrameRecord } from './record.js';

const AXIS_COLORS = ['#ff4d4d', '#4dff88', '#4da6ff'];

/** SVG markup the size of the frame. */
export function overlaySvg(record: FrameRecord): string {
  const parts = record.faces.map(faceSvg);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${record.width}" height="${record.height}">` +
    parts.join('') +
    '</svg>'
  );
}

function faceSvg(face: FaceRecord): string {
  const { x, y, width, height } = face.box;
  const out: string[] = [
    `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="none" stroke="#00e0ff" stroke-width="2"/>`,
  ];
  const label = [`#${face.id}`, face.gender?.label, face.age?.label, face.race?.label]
    .filter(Boolean)
    .join(' ');
  out.push(
    `<rect x="${x}" y="${Math.max(0, y - 18)}" width="${label.length * 7 + 8}" height="18" fill="#00e0ff"/>`,
    `<text x="${x + 4}" y="${Math.max(13, y - 5)}" font-family="sans-serif" font-size="12" fill="#002b33">${escape(label)}</text>`,
  );
  for (const [px, py] of face.landmarks ?? []) {
    out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="1.6" fill="#ffe14d"/>`);
  }
  if (face.headPose) out.push(poseAxes(face));
  return out.join('');
}

/** Pitch/yaw/roll drawn as the head's x (red), y (green) and z (blue) axes at the box centre. */
function poseAxes(face: FaceRecord): string {
  const { pitch, yaw, roll } = face.headPose!;
  const [p, yw, r] = [pitch, -yaw, roll].map((d) => (d * Math.PI) / 180);
  const size = face.box.width * 0.5;
  const cx = face.box.x + face.box.width / 2;
  const cy = face.box.y + face.box.height / 2;
  const ends = [
    [Math.cos(yw) * Math.cos(r), Math.cos(p) * Math.sin(r) + Math.cos(r) * Math.sin(p) * Math.sin(yw)],
    [-Math.cos(yw) * Math.sin(r), Math.cos(p) * Math.cos(r) - Math.sin(p) * Math.sin(yw) * Math.sin(r)],
    [Math.sin(yw), -Math.cos(yw) * Math.sin(p)],
  ];
  return ends
    .map(
      ([dx, dy], i) =>
        `<line x1="${cx}" y1="${cy}" x2="${(cx + dx * size).toFixed(1)}" y2="${(cy + dy * size).toFixed(1)}" stroke="${AXIS_COLORS[i]}" stroke-width="2"/>`,
    )
    .join('');
}

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
