/**
 * Messages between ModelRunner (main thread) and the inference worker. Pixel and tensor
 * buffers travel as transferred ArrayBuffers, never as copies.
 */
import type { FaceRecord } from '../pipeline/record.js';
import type { Box } from '../pipeline/types.js';
import type { ModelMetadata, TaskName } from './contract.js';
import type { RgbImage } from './crop.js';
import type { Device } from './device.js';
import type { ModelSessionOptions, SessionStartInfo } from './session.js';

/** One face to analyze: its crop region's pixels, where that region lies, the tasks wanted. */
export interface WorkerFace {
  region: RgbImage;
  crop: Box;
  tasks: TaskName[];
}

export type ToWorker =
  | { type: 'analyze'; id: number; faces: WorkerFace[]; outputs: string[] }
  | { type: 'raw'; id: number; input: Float32Array; batch: number; outputs: string[] }
  | { type: 'close' };

export interface WorkerTimings {
  /** Resize and normalization of every face, ms. */
  cropMs: number;
  /** session.run, ms. */
  inferMs: number;
  /** Decoding every face, ms. */
  decodeMs: number;
}

/** A serializable error: FxsError's code survives the thread boundary. */
export interface WorkerError {
  message: string;
  code?: string;
}

export type FromWorker =
  | {
      type: 'ready';
      metadata: ModelMetadata;
      device: Device;
      warnings: string[];
      start: SessionStartInfo;
    }
  | { type: 'startFailed'; error: WorkerError }
  | { type: 'analyzed'; id: number; records: Array<Partial<FaceRecord>>; timings: WorkerTimings }
  | { type: 'rawDone'; id: number; tensors: Record<string, Float32Array>; inferMs: number }
  | { type: 'failed'; id: number; error: WorkerError };

/** What the worker receives as workerData. */
export type WorkerInit = ModelSessionOptions;
