import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, FxsError } from '../../common/errors.js';
import type { Detection, Frame } from '../types.js';
import type { DetectorReply, DetectorRequest, DetectorWorkerData } from './detector-protocol.js';
import { loadDetectorModel } from './detector-model.js';

/** Which BlazeFace model to run. */
export type DetectorRange = 'short' | 'full';

export interface FaceDetectorOptions {
  /**
   * BlazeFace model. `'full'` (192 px input) finds small and profile faces, as in camera and
   * group scenes; `'short'` (128 px input) is about three times faster but only sees faces
   * that fill a good part of the frame, as in webcam close-ups. Default `'full'`.
   */
  range?: DetectorRange;
  /** Minimum detection score in [0, 1]; weaker faces are dropped. Default 0.5. */
  minScore?: number;
  /** Keep at most this many faces a frame, highest scores first. Default: no limit. */
  maxFaces?: number;
  /**
   * A BlazeFace .tflite file to use instead of the one `range` picks from
   * `@mediapipe/face_detection`. Default: that package's model for `range`.
   */
  modelPath?: string;
}

/**
 * MediaPipe BlazeFace face detection on the CPU, in a worker thread of its own, so that the
 * caller's event loop stays free while a frame is processed.
 *
 * Calls to `detect` may overlap, from one stream or several: they are queued and answered
 * in order. Detectors are independent; each one holds a worker of about 170 MB. An idle
 * detector does not keep the process alive.
 */
export class FaceDetector {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: FxsError | null = null;
  private closing = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly maxFaces: number,
  ) {
    this.exited = new Promise((done) => worker.once('exit', () => done()));
    worker.on('message', (reply: DetectorReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(`its worker crashed: ${err.message}`));
    worker.on('exit', (code) => this.fail(`its worker exited with code ${code}`));
    worker.unref();
  }

  /**
   * Loads the model, starts the worker and runs one blank frame through it, so that the
   * first real frame is not slow (1-2 s in all).
   *
   * Throws `RangeError` for an option out of range, and `FxsError` `FXS_ERR_DETECTOR_FAILED`
   * when the model or MediaPipe's wasm runtime cannot be read or loaded.
   */
  static async create(options: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const { range = 'full', minScore = 0.5, maxFaces = Infinity } = options;
    checkOptions(range, minScore, maxFaces);

    const modelPath = resolve(options.modelPath ?? bundledModelPath(range));
    const data: DetectorWorkerData = {
      wasmDir: wasmDir(),
      model: await loadDetectorModel(modelPath),
      minScore,
      boxCentreBelowKeypoints: range === 'short' ? 0.08 : 0,
    };
    const worker = startWorker(data);
    const failure = await firstReply(worker);
    if (failure !== null) {
      await worker.terminate();
      const way = 'pass a BlazeFace .tflite file or reinstall @mediapipe/tasks-vision';
      const message = `cannot start the face detector with '${modelPath}': ${failure}; ${way}`;
      throw new FxsError(ErrorCodes.DETECTOR_FAILED, message);
    }
    return new FaceDetector(worker, maxFaces);
  }

  /** Id of the worker thread, for diagnostics; -1 once the worker has ended. */
  get threadId(): number {
    return this.worker.threadId;
  }

  /**
   * Finds the faces in an RGB24 frame. Boxes are clipped to the frame. The six keypoints are
   * in frame pixels and may fall outside it: the subject's right eye, left eye, nose tip,
   * mouth centre, right ear tragion and left ear tragion (the subject's right is the image's
   * left on a face looking at the camera).
   *
   * Rejects with `RangeError` when `frame.data` does not hold width * height * 3 bytes, and
   * with `FxsError` `FXS_ERR_DETECTOR_FAILED` after `close()` or when the detector failed.
   */
  detect(frame: Frame): Promise<Detection[]> {
    const { width, height } = frame;
    if (!(width > 0 && height > 0) || frame.data.length !== width * height * 3) {
      const size = `${width}x${height}`;
      const message = `frame.data holds ${frame.data.length} bytes, not ${size} RGB24`;
      return Promise.reject(new RangeError(message));
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(closedError());

    const id = this.nextId++;
    const rgb = new Uint8Array(frame.data);
    const request: DetectorRequest = { type: 'detect', id, width, height, rgb };
    if (this.pending.size === 0) this.worker.ref();
    this.worker.postMessage(request, [rgb.buffer]);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Answers every `detect` already asked, then ends the worker. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.worker.ref();
      if (this.failure) await this.worker.terminate();
      else this.worker.postMessage({ type: 'close' } satisfies DetectorRequest);
    }
    await this.exited;
  }

  private settle(reply: DetectorReply): void {
    if (reply.type !== 'faces' && reply.type !== 'error') return;
    const call = this.pending.get(reply.id);
    if (!call) return;

    this.pending.delete(reply.id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    if (reply.type === 'error') {
      const message = `face detection failed: ${reply.message}`;
      call.reject(new FxsError(ErrorCodes.DETECTOR_FAILED, message));
      return;
    }
    call.resolve(strongest(reply.faces, this.maxFaces));
  }

  /** Rejects every waiting call; later calls reject at once. A normal close is no failure. */
  private fail(reason: string): void {
    const closedNormally = this.closing && this.pending.size === 0;
    if (this.failure || closedNormally) return;

    this.failure = new FxsError(
      ErrorCodes.DETECTOR_FAILED,
      `the face detector stopped: ${reason}; create a new FaceDetector`,
    );
    for (const call of this.pending.values()) call.reject(this.failure);
    this.pending.clear();
  }
}

interface Pending {
  resolve(faces: Detection[]): void;
  reject(err: Error): void;
}

function checkOptions(range: string, minScore: number, maxFaces: number): void {
  if (range !== 'short' && range !== 'full') {
    throw new RangeError(`range must be 'short' or 'full', not '${range}'`);
  }
  if (!(minScore >= 0 && minScore <= 1)) {
    throw new RangeError(`minScore must be in [0, 1], not ${minScore}`);
  }
  if (maxFaces !== Infinity && !(Number.isInteger(maxFaces) && maxFaces >= 1)) {
    throw new RangeError(`maxFaces must be a whole number of at least 1, not ${maxFaces}`);
  }
}

function strongest(faces: Detection[], maxFaces: number): Detection[] {
  if (faces.length <= maxFaces) return faces;
  return [...faces].sort((a, b) => b.score - a.score).slice(0, maxFaces);
}

function closedError(): FxsError {
  return new FxsError(
    ErrorCodes.DETECTOR_FAILED,
    'the face detector is closed; create a new FaceDetector',
  );
}

const require = createRequire(import.meta.url);

function bundledModelPath(range: DetectorRange): string {
  return require.resolve(`@mediapipe/face_detection/face_detection_${range}_range.tflite`);
}

function wasmDir(): string {
  return join(dirname(require.resolve('@mediapipe/tasks-vision')), 'wasm');
}

/** Starts detector-worker beside this file; its console output is dropped, not printed. */
function startWorker(workerData: DetectorWorkerData): Worker {
  const options = { workerData, stdout: true, stderr: true };
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(tsxBootstrap(), { ...options, eval: true })
    : new Worker(new URL('./detector-worker.js', import.meta.url), options);
  worker.stdout.resume();
  worker.stderr.resume();
  return worker;
}

/**
 * Run from the TypeScript sources (tests, `node --import tsx`), a worker inherits the
 * `--import tsx` flag, but on Node 20 tsx hooks only the main thread, so the worker cannot
 * load a .ts file. The bootstrap registers tsx in the worker when that is the case.
 */
function tsxBootstrap(): string {
  const entry = JSON.stringify(new URL('./detector-worker.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${entry}).catch(async (err) => {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    (await import(${tsx})).register();
    return import(${entry} + '?tsx');
  });`;
}

/** Waits for the worker's first word: null when it is ready, otherwise why it is not. */
function firstReply(worker: Worker): Promise<string | null> {
  return new Promise((settle) => {
    worker.once('message', (reply: DetectorReply) => {
      settle(reply.type === 'ready' ? null : reply.type === 'failed' ? reply.message : 'no reply');
    });
    worker.once('error', (err) => settle(err.message));
    worker.once('exit', (code) => settle(`its worker exited with code ${code}`));
  });
}
