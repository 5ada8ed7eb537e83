/** Messages between a FaceDetector and its worker thread. */
import type { Detection } from '../types.js';

/** Handed to the worker as `workerData`. */
export interface DetectorWorkerData {
  /** Folder of the tasks-vision wasm files (`vision_wasm_internal.js` and its `.wasm`). */
  wasmDir: string;
  /** BlazeFace .tflite bytes, already carrying normalization metadata. */
  model: Uint8Array;
  /** Minimum detection score in [0, 1]. */
  minScore: number;
  /**
   * How far the model puts a box's centre below the centre of eyes, nose tip and mouth, in
   * box heights: about 0 for the full-range model, 0.08 for the short-range one, which
   * reaches further down the chin.
   */
  boxCentreBelowKeypoints: number;
}

/** Main thread to worker. `close` is queued behind every `detect` sent before it. */
export type DetectorRequest =
  | { type: 'detect'; id: number; width: number; height: number; rgb: Uint8Array }
  | { type: 'close' };

/** Worker to main thread. */
export type DetectorReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'faces'; id: number; faces: Detection[] }
  | { type: 'error'; id: number; message: string };
