/**
 * Turns raw model outputs for one face into the fields of a FaceRecord.
 *
 * Coordinates: the model predicts landmarks in [-1, 1] over its 224x224 input; upstream
 * denormalizes them as `((p + 1) * 224 - 1) / 2` (pixel centres at integers). The input is
 * the crop box resized, so an input pixel u sits at `(u + 0.5) * cropWidth / 224 - 0.5` in
 * the crop. Composed, a landmark lands at `crop.x + (p + 1) * crop.width / 2 - 0.5` in the
 * frame (and likewise for y), in pixel-centre coordinates like the rest of facexstream.
 *
 * Numbers are rounded for the wire: probabilities to 4 decimals, pixels and degrees to 2.
 */
import type { Box } from '../pipeline/types.js';
import type {
  AttributeResult,
  ClassResult,
  FaceRecord,
  HeadPose,
  ParsingResult,
} from '../pipeline/record.js';
import { TASK_OUTPUT, type ModelMetadata, type TaskName } from './contract.js';
import { encodeMaskRle } from './mask-rle.js';

/** Output tensors of one model call. */
export interface BatchOutputs {
  /** Faces in the call. */
  size: number;
  /** Tensors by ONNX output name; face i's values follow face i-1's. */
  tensors: Record<string, Float32Array>;
}

/** One face's share of a model call. */
export interface FaceOutputsRef {
  /** Index of the face in the batch. */
  index: number;
  /** Crop box in frame pixels the face was cut from (see crop.ts). */
  crop: Box;
  /** Tasks to decode; tasks whose output is absent from `outputs` are skipped. */
  tasks: readonly TaskName[];
}

/**
 * Decodes one face's outputs into FaceRecord fields, one field per requested task.
 *
 * @param outputs tensors of the batch the face was part of
 */
export function decodeFace(
  outputs: BatchOutputs,
  face: FaceOutputsRef,
  metadata: ModelMetadata,
): Partial<FaceRecord> {
  const record: Partial<FaceRecord> = {};
  const { labels, inputSize } = metadata;
  for (const task of face.tasks) {
    const tensor = outputs.tensors[TASK_OUTPUT[task]];
    if (!tensor) continue;

    const perFace = tensor.length / outputs.size;
    const values = tensor.subarray(face.index * perFace, (face.index + 1) * perFace);
    switch (task) {
      case 'landmarks':
        record.landmarks = landmarksToFrame(values, face.crop);
        break;
      case 'headPose':
        record.headPose = headPoseDegrees(values);
        break;
      case 'attributes':
        record.attributes = attributeResults(values, labels.attributes);
        break;
      case 'visibility':
        record.visibility = Array.from(values, (v) => round(sigmoid(v), 4));
        break;
      case 'age':
      case 'gender':
      case 'race':
        record[task] = classify(values, labels[task]);
        break;
      case 'parsing':
        record.parsing = parsingResult(values, face.crop, inputSize, labels.parsing);
        break;
    }
  }

  return record;
}

/** Maps model landmarks ([x0, y0, x1, y1, ...] in [-1, 1]) to frame pixels via the crop box. */
export function landmarksToFrame(values: ArrayLike<number>, crop: Box): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = 0; i + 1 < values.length; i += 2) {
    const x = crop.x + ((values[i] + 1) * crop.width) / 2 - 0.5;
    const y = crop.y + ((values[i + 1] + 1) * crop.height) / 2 - 0.5;
    points.push([round(x, 2), round(y, 2)]);
  }

  return points;
}

/** The inverse of `landmarksToFrame` (unrounded): frame pixels to the model's [-1, 1] range. */
export function landmarksToModel(
  points: ReadonlyArray<readonly [number, number]>,
  crop: Box,
): number[] {
  return points.flatMap(([x, y]) => [
    ((x - crop.x + 0.5) * 2) / crop.width - 1,
    ((y - crop.y + 0.5) * 2) / crop.height - 1,
  ]);
}

/** Pitch, yaw, roll in radians to degrees. */
export function headPoseDegrees(values: ArrayLike<number>): HeadPose {
  const deg = 180 / Math.PI;
  return {
    pitch: round(values[0] * deg, 2),
    yaw: round(values[1] * deg, 2),
    roll: round(values[2] * deg, 2),
  };
}

/** Softmax over logits, then the winning label with every label's probability. */
export function classify(logits: ArrayLike<number>, labels: readonly string[]): ClassResult {
  const probs = softmax(logits);
  let best = 0;
  for (let i = 1; i < probs.length; i++) {
    if (probs[i] > probs[best]) best = i;
  }

  const byLabel: Record<string, number> = {};
  probs.forEach((p, i) => {
    byLabel[labels[i] ?? String(i)] = round(p, 4);
  });
  return { label: labels[best] ?? String(best), score: round(probs[best], 4), probs: byLabel };
}

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);

  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Logistic function. */
export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

function attributeResults(logits: ArrayLike<number>, names: readonly string[]): AttributeResult[] {
  return Array.from(logits, (v, i) => {
    const prob = sigmoid(v);
    return { name: names[i] ?? String(i), prob: round(prob, 4), present: prob >= 0.5 };
  });
}

/** Argmax over the class planes of one face ([classes, size, size] logits). */
function parsingResult(
  logits: Float32Array,
  crop: Box,
  size: number,
  labels: readonly string[],
): ParsingResult {
  const plane = size * size;
  const classes = logits.length / plane;
  const mask = new Uint8Array(plane);
  // Class by class over whole planes: sequential reads, several times faster than per pixel.
  const best = logits.slice(0, plane);
  for (let c = 1; c < classes; c++) {
    const base = c * plane;
    for (let i = 0; i < plane; i++) {
      const v = logits[base + i];
      if (v > best[i]) {
        best[i] = v;
        mask[i] = c;
      }
    }
  }
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < plane; i++) counts[mask[i]]++;

  const coverage: Record<string, number> = {};
  counts.forEach((n, c) => {
    if (n > 0) coverage[labels[c] ?? String(c)] = round(n / plane, 4);
  });
  return {
    box: crop,
    width: size,
    height: size,
    labels: [...labels],
    rle: encodeMaskRle(mask),
    coverage,
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
