/**
 * The per-frame result record: one JSON line of `facexstream analyze` and the `faces`
 * payload of the WebSocket `results` message. Documented in docs/results.md.
 */
import type { Box } from './types.js';

/** A classification result: the winning label and every label's probability. */
export interface ClassResult {
  label: string;
  /** Probability of `label`. */
  score: number;
  /** Probability per label, in the model's label order. */
  probs: Record<string, number>;
}

/** Face parsing: a class-index mask over the face crop, run-length encoded. */
export interface ParsingResult {
  /** Crop rectangle in frame pixels the mask covers (the 50%-grown, clipped box). */
  box: Box;
  /** Mask side in pixels (the model's input size; the mask is stretched over `box`). */
  width: number;
  height: number;
  /** Class names, index-aligned with the values of the mask. */
  labels: string[];
  /** Row-major run-length encoding: [class, runLength, class, runLength, ...]. */
  rle: number[];
  /** Fraction of the crop covered by each class present. */
  coverage: Record<string, number>;
}

/** Head pose in degrees. */
export interface HeadPose {
  pitch: number;
  yaw: number;
  roll: number;
}

/** One attribute with its probability. */
export interface AttributeResult {
  name: string;
  prob: number;
  present: boolean;
}

/** Results for one face in one frame. Task fields are present only when computed. */
export interface FaceRecord {
  /** Track id, stable across frames of one source. */
  id: number;
  /** Detector box in frame pixels. */
  box: Box;
  /** Detection confidence. */
  score: number;
  /** Frame index at which each task's value was last computed (tasks refresh at intervals). */
  updated?: Partial<Record<string, number>>;
  parsing?: ParsingResult;
  /** 68 points in frame pixels, iBUG 300-W order. */
  landmarks?: Array<[number, number]>;
  headPose?: HeadPose;
  attributes?: AttributeResult[];
  age?: ClassResult;
  gender?: ClassResult;
  race?: ClassResult;
  /** Probability that each of the 29 COFW landmarks is visible. */
  visibility?: number[];
}

/** Results for one frame (or still image) of one source. */
export interface FrameRecord {
  source: string;
  frame: number;
  timestampMs: number;
  width: number;
  height: number;
  faces: FaceRecord[];
}
