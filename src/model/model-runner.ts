/**
 * The model runtime as the pipeline sees it: faces in, FaceRecord fields out, with the ONNX
 * Runtime session in a worker thread so inference never blocks the main thread.
 *
 * Faces from every caller (frames, streams) share model calls: FaceBatcher groups up to
 * `maxBatch` of them, waiting at most `maxWaitMs`, and each call fetches only the union of
 * the outputs its faces asked for. The main thread only cuts each face's crop rectangle out
 * of the frame (a row copy); the worker resizes, normalizes, runs and decodes.
 */
import { EventEmitter } from 'node:events';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { ErrorCodes, FxsError, type ErrorCode } from '../common/errors.js';
import type { FaceRecord } from '../pipeline/record.js';
import type { Box, Frame } from '../pipeline/types.js';
import { TASK_OUTPUT, type ModelMetadata, type TaskName } from './contract.js';
import { cropBox, extractRegion } from './crop.js';
import type { Device } from './device.js';
import { FaceBatcher } from './face-batcher.js';
import type { ModelSessionOptions, SessionStartInfo } from './session.js';
import type {
  FromWorker,
  ToWorker,
  WorkerError,
  WorkerFace,
  WorkerTimings,
} from './worker-protocol.js';

/** Options of ModelRunner.create. */
export interface ModelRunnerOptions extends ModelSessionOptions {
  /** Most faces per model call. Default 8. */
  maxBatch?: number;
  /** Longest a face waits for others to fill its batch, in milliseconds. Default 5. */
  maxWaitMs?: number;
}

/** One face to analyze and the tasks wanted for it. */
export interface FaceRequest {
  /** Detector box in frame pixels. */
  box: Box;
  tasks: readonly TaskName[];
}

/** Emitted after every model call. */
export interface BatchEvent extends WorkerTimings {
  /** Faces in the call. */
  faces: number;
  /** Distinct analyze() calls the faces came from. */
  requests: number;
  /** Outputs fetched. */
  outputs: string[];
  /** From the batch leaving the queue to its results arriving, ms. */
  totalMs: number;
}

interface Pending {
  face: WorkerFace;
  request: number;
  resolve(record: Partial<FaceRecord>): void;
  reject(err: Error): void;
}

/** Runs the model in a worker and batches faces across callers. */
export class ModelRunner extends EventEmitter<{ batch: [BatchEvent] }> {
  private readonly batcher: FaceBatcher<Pending>;
  private readonly replies = new Map<number, (message: FromWorker) => void>();
  private nextId = 1;
  private nextRequest = 1;
  private closed = false;
  private failure?: Error;
  private counts = { batches: 0, faces: 0 };

  private constructor(
    private readonly worker: Worker,
    /** The model's metadata (tasks, labels, input size, provenance). */
    readonly metadata: ModelMetadata,
    /** The device the session runs on. */
    readonly device: Device,
    /** Warnings for the caller to show, e.g. a CPU fallback. */
    readonly warnings: string[],
    /** Session creation details: time, optimized-model cache hit, device reason. */
    readonly start: SessionStartInfo,
    options: ModelRunnerOptions,
  ) {
    super();
    this.batcher = new FaceBatcher((items) => this.runBatch(items), {
      maxBatch: options.maxBatch,
      maxWaitMs: options.maxWaitMs,
    });
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => this.fail(new Error('the inference worker exited')));
  }

  /**
   * Starts the worker and resolves once its session is ready.
   *
   * @throws FxsError FXS_ERR_MODEL_NOT_FOUND, FXS_ERR_MODEL_INVALID, FXS_ERR_CONFIG_INVALID
   */
  static async create(options: ModelRunnerOptions): Promise<ModelRunner> {
    checkBatchOptions(options);
    const { maxBatch: _b, maxWaitMs: _w, ...sessionOptions } = options;
    const worker = startWorker(sessionOptions);

    const ready = await firstReply(worker);
    if (ready.type !== 'ready') {
      await worker.terminate();
      throw ready.type === 'startFailed'
        ? fromWorkerError(ready.error)
        : new Error('bad worker reply');
    }
    return new ModelRunner(
      worker,
      ready.metadata,
      ready.device,
      ready.warnings,
      ready.start,
      options,
    );
  }

  /** Model calls made and faces analyzed so far, and faces waiting now. */
  get stats(): { batches: number; faces: number; queued: number } {
    return { ...this.counts, queued: this.batcher.queued };
  }

  /**
   * Analyzes faces of one frame. Resolves with one partial FaceRecord per face, in order,
   * holding only the requested tasks the model supports (other tasks are dropped silently;
   * check `metadata.tasks` to tell users). The frame's pixels are copied before this returns.
   */
  async analyze(frame: Frame, faces: readonly FaceRequest[]): Promise<Array<Partial<FaceRecord>>> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('the model runner is closed');

    const request = this.nextRequest++;
    const jobs = faces.map((face) => this.toJob(frame, face, request));
    const waiting = jobs.filter(
      (j): j is { pending: Pending; promise: Promise<Partial<FaceRecord>> } => 'pending' in j,
    );
    this.batcher.pushAll(waiting.map((j) => j.pending));
    return Promise.all(jobs.map((j) => j.promise));
  }

  /**
   * Runs the model on a ready input tensor, bypassing cropping, batching and decoding (for
   * benchmarks). The tensor is copied.
   *
   * @param input CHW float32, `n * 3 * inputSize * inputSize` elements
   */
  async inferRaw(
    input: Float32Array,
    n: number,
    outputs: readonly string[],
  ): Promise<Record<string, Float32Array>> {
    const copy = input.slice(0, n * 3 * this.metadata.inputSize * this.metadata.inputSize);
    const reply = await this.send(
      { type: 'raw', id: 0, input: copy, batch: n, outputs: [...outputs] },
      [copy.buffer as ArrayBuffer],
    );
    if (reply.type !== 'rawDone') throw new Error('bad worker reply');
    return reply.tensors;
  }

  /** Stops the worker; faces still queued are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the model runner was closed'));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await this.worker.terminate();
  }

  private toJob(
    frame: Frame,
    face: FaceRequest,
    request: number,
  ): { promise: Promise<Partial<FaceRecord>>; pending?: Pending } {
    const tasks = face.tasks.filter((t) => this.metadata.tasks.includes(t));
    if (tasks.length === 0) return { promise: Promise.resolve({}) };

    const crop = cropBox(face.box, frame.width, frame.height, this.metadata.cropMargin);
    const region = extractRegion(frame, crop);
    let pending!: Pending;
    const promise = new Promise<Partial<FaceRecord>>((resolve, reject) => {
      pending = { face: { region, crop, tasks: [...new Set(tasks)] }, request, resolve, reject };
    });
    return { promise, pending };
  }

  private async runBatch(items: Pending[]): Promise<void> {
    const outputs = [...new Set(items.flatMap((p) => p.face.tasks.map((t) => TASK_OUTPUT[t])))];
    const faces = items.map((p) => p.face);
    const transfer = faces.map((f) => f.region.data.buffer as ArrayBuffer);
    const started = performance.now();
    try {
      const reply = await this.send({ type: 'analyze', id: 0, faces, outputs }, transfer);
      if (reply.type !== 'analyzed') throw new Error('bad worker reply');

      this.counts.batches++;
      this.counts.faces += items.length;
      items.forEach((p, i) => p.resolve(reply.records[i]));
      this.emit('batch', {
        ...reply.timings,
        faces: items.length,
        requests: new Set(items.map((p) => p.request)).size,
        outputs,
        totalMs: performance.now() - started,
      });
    } catch (err) {
      for (const p of items) p.reject(err as Error);
    }
  }

  private send(message: ToWorker & { id: number }, transfer: ArrayBuffer[]): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);

    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, (reply) =>
        reply.type === 'failed' ? reject(fromWorkerError(reply.error)) : resolve(reply),
      );
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private onMessage(message: FromWorker): void {
    if (!('id' in message)) return;
    const reply = this.replies.get(message.id);
    this.replies.delete(message.id);
    reply?.(message);
  }

  /** Rejects everything waiting; later calls reject with the same error. */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const reply of this.replies.values()) {
      reply({ type: 'failed', id: 0, error: { message: this.failure.message } });
    }
    this.replies.clear();
    this.batcher.flush();
  }
}

/** The worker's first message (ready or startFailed), or its crash. */
function firstReply(worker: Worker): Promise<FromWorker> {
  return new Promise<FromWorker>((resolve, reject) => {
    const onMessage = (message: FromWorker): void => {
      stop();
      resolve(message);
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    const onExit = (code: number): void =>
      onError(new Error(`the inference worker exited (${code})`));
    const stop = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/** The worker module beside this one: .ts when run through tsx, .js once built. */
function workerUrl(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./inference-worker${ext}`, import.meta.url);
}

function checkBatchOptions(options: ModelRunnerOptions): void {
  const { maxBatch = 8, maxWaitMs = 5 } = options;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new FxsError(
      ErrorCodes.CONFIG_INVALID,
      `maxBatch must be a whole number >= 1, got ${maxBatch}`,
    );
  }
  if (!(maxWaitMs >= 0)) {
    throw new FxsError(ErrorCodes.CONFIG_INVALID, `maxWaitMs must be >= 0, got ${maxWaitMs}`);
  }
}

function fromWorkerError(error: WorkerError): Error {
  return error.code
    ? new FxsError(error.code as ErrorCode, error.message)
    : new Error(error.message);
}

/**
 * Starts the inference worker. Built code runs inference-worker.js directly. Source run
 * through tsx (tests, `node --import tsx`) needs tsx inside the worker too, and Node 20 does
 * not apply the parent's `--import` loaders to workers, so a tiny bootstrap registers tsx
 * there before importing the .ts worker.
 */
function startWorker(workerData: ModelSessionOptions): Worker {
  const url = workerUrl();
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });

  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
