/**
 * An ONNX Runtime session over a facexstream model: device choice with CPU fallback, thread
 * count, graph optimization with an on-disk cache of the optimized model, and runs that fetch
 * only the outputs asked for.
 *
 * `run()` blocks the calling thread for the whole inference (onnxruntime-node runs it
 * synchronously inside a setImmediate), so the runtime uses this class inside a worker
 * (inference-worker.ts); tests and tools may use it directly.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, join, resolve as resolvePath } from 'node:path';
import ort from 'onnxruntime-node';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { defaultCacheDir } from './cache-dir.js';
import { INPUT_NAME, TASK_OUTPUT, type ModelMetadata, type TaskName } from './contract.js';
import { planDevices, type Device, type DeviceRequest } from './device.js';
import { readModelMetadata } from './onnx-file.js';
import { sha256File } from '../common/sha256-file.js';

/** Options of `ModelSession.create`. */
export interface ModelSessionOptions {
  /** Path of the .onnx model (with facexstream metadata). */
  modelPath: string;
  /** Device to run on. Default 'auto' (CUDA when its provider is installed, else CPU). */
  device?: DeviceRequest;
  /** Intra-op threads. Default: ONNX Runtime's choice (one per physical core). */
  threads?: number;
  /**
   * Folder for optimized models, or false to optimize on every start. Default
   * `<cache dir>/ort` (see cache-dir.ts).
   */
  optimizedCacheDir?: string | false;
  /**
   * GPU providers to treat as installed. Default: those found next to onnxruntime-node's
   * binding. Setting one that is absent exercises the fallback of a provider failing to load.
   */
  providers?: ReadonlySet<Device>;
}

/** How session creation went, for logs and benchmarks. */
export interface SessionStartInfo {
  /** Milliseconds spent creating the session (hashing and fallbacks included). */
  createMs: number;
  /** True when an optimized model from the cache was loaded. */
  cacheHit: boolean;
  /** The optimized model file used or written, if any. */
  optimizedPath?: string;
  /** Why this device: e.g. "auto: CUDA provider installed". */
  deviceReason: string;
}

/** A ready ONNX Runtime session with the model's metadata. */
export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** The model's validated facexstream metadata. */
    readonly metadata: ModelMetadata,
    /** The device the session runs on. */
    readonly device: Device,
    /** Warnings for the caller to show (e.g. CPU fallback); inner layers never log. */
    readonly warnings: string[],
    readonly start: SessionStartInfo,
  ) {}

  /**
   * Opens a model. Falls back to CPU, with one warning, when the requested GPU provider is
   * missing or fails to start.
   *
   * @throws FxsError FXS_ERR_MODEL_NOT_FOUND, FXS_ERR_MODEL_INVALID
   */
  static async create(options: ModelSessionOptions): Promise<ModelSession> {
    const started = performance.now();
    const { threads } = options;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) {
      throw new FxsError(
        ErrorCodes.CONFIG_INVALID,
        `threads must be a whole number >= 0 (0 lets ONNX Runtime choose), got ${threads}`,
      );
    }
    const metadata = await readModelMetadata(options.modelPath);
    const plan = planDevices(options.device ?? 'auto', options.providers);
    const failures: string[] = [];

    // ORT prints provider load failures itself; they come back to us as exceptions anyway.
    ort.env.logLevel = 'fatal';
    for (const device of plan.attempts) {
      try {
        const opened = await openSession(options, device);
        checkModel(opened.session, metadata, options.modelPath);
        const warnings = fallbackWarnings(plan.warning, failures, device);
        const start: SessionStartInfo = {
          createMs: performance.now() - started,
          cacheHit: opened.cacheHit,
          optimizedPath: opened.optimizedPath,
          deviceReason: plan.reason,
        };
        return new ModelSession(opened.session, metadata, device, warnings, start);
      } catch (err) {
        if (err instanceof FxsError || device === 'cpu') throw asModelError(err, options.modelPath);
        failures.push(`${device}: ${firstLine(err)}`);
      }
    }

    throw new FxsError(ErrorCodes.DEVICE_UNAVAILABLE, `no device could run '${options.modelPath}'`);
  }

  /** Names of the model's outputs. */
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Tasks of `requested` the model supports, in the order asked. */
  supportedTasks(requested: readonly TaskName[]): TaskName[] {
    return requested.filter((t) => this.metadata.tasks.includes(t));
  }

  /** ONNX output names serving `tasks` (unsupported tasks dropped, duplicates merged). */
  outputsFor(tasks: readonly TaskName[]): string[] {
    return [...new Set(this.supportedTasks(tasks).map((t) => TASK_OUTPUT[t]))];
  }

  /**
   * Runs the model once on `batch` faces and returns only the named outputs.
   *
   * @param input CHW float32 crops, `batch * 3 * inputSize * inputSize` elements at least
   * @param outputs ONNX output names to fetch; ORT skips nodes that none of them needs
   */
  async run(
    input: Float32Array,
    batch: number,
    outputs: readonly string[],
  ): Promise<Record<string, Float32Array>> {
    const side = this.metadata.inputSize;
    const length = batch * 3 * side * side;
    if (input.length < length) {
      throw new RangeError(`input holds ${input.length} values, ${batch} faces need ${length}`);
    }

    const tensor = new ort.Tensor('float32', input.subarray(0, length), [batch, 3, side, side]);
    const result = await this.session.run({ [INPUT_NAME]: tensor }, outputs as string[]);
    const tensors: Record<string, Float32Array> = {};
    for (const name of outputs) tensors[name] = result[name].data as Float32Array;
    return tensors;
  }

  /** Releases the session's native memory. */
  async close(): Promise<void> {
    await this.session.release();
  }
}

interface OpenedSession {
  session: ort.InferenceSession;
  cacheHit: boolean;
  optimizedPath?: string;
}

/** Creates a session on one device, through the optimized-model cache when it can. */
async function openSession(options: ModelSessionOptions, device: Device): Promise<OpenedSession> {
  const base: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
    interOpNumThreads: 1,
    logSeverityLevel: 4,
    ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
  };

  // TensorRT compiles subgraphs into engines, which ORT cannot serialize into an ONNX file.
  const cacheDir = options.optimizedCacheDir ?? join(defaultCacheDir(), 'ort');
  if (cacheDir === false || device === 'tensorrt') {
    const session = await ort.InferenceSession.create(options.modelPath, {
      ...base,
      graphOptimizationLevel: 'all',
    });
    return { session, cacheHit: false };
  }

  const optimizedPath = join(cacheDir, await optimizedName(options.modelPath, device, cacheDir));
  if (existsSync(optimizedPath)) {
    try {
      const session = await ort.InferenceSession.create(optimizedPath, {
        ...base,
        graphOptimizationLevel: 'disabled',
      });
      return { session, cacheHit: true, optimizedPath };
    } catch {
      // A cached file from an interrupted or incompatible run: rebuild it below.
      await rm(optimizedPath, { force: true });
    }
  }

  await mkdir(cacheDir, { recursive: true });
  const partial = `${optimizedPath}.${process.pid}.${Date.now()}.part`;
  const session = await ort.InferenceSession.create(options.modelPath, {
    ...base,
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: partial,
  });
  await rename(partial, optimizedPath).catch(() => rm(partial, { force: true }));
  return { session, cacheHit: false, optimizedPath };
}

/**
 * Cache file name: model content hash, ORT version, device, and for CPU the CPU model, since
 * ORT's layout optimizations write hardware-specific kernels into the optimized graph.
 */
async function optimizedName(modelPath: string, device: Device, cacheDir: string): Promise<string> {
  const content = await modelHash(modelPath, cacheDir);
  const hardware = device === 'cpu' ? `${process.arch}:${cpus()[0]?.model ?? ''}` : device;
  const key = createHash('sha256')
    .update([content, ort.env.versions.node ?? '', device, hardware].join('\n'))
    .digest('hex')
    .slice(0, 16);
  return `${basename(modelPath, '.onnx')}.${device}.${key}.onnx`;
}

/**
 * SHA-256 of the model file. Hashing a 370 MB model takes ~0.5 s, a third of a cached start,
 * so hashes are remembered in `hashes.json` by path, size and modification time.
 */
async function modelHash(modelPath: string, cacheDir: string): Promise<string> {
  const path = resolvePath(modelPath);
  const { size, mtimeMs } = await stat(path);
  const indexPath = join(cacheDir, 'hashes.json');
  const index = await readFile(indexPath, 'utf8')
    .then((text) => JSON.parse(text) as Record<string, HashEntry>)
    .catch(() => ({}) as Record<string, HashEntry>);
  const known = index[path];
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;

  const sha256 = await sha256File(path);
  index[path] = { size, mtimeMs, sha256 };
  await mkdir(cacheDir, { recursive: true });
  const partial = `${indexPath}.${process.pid}.tmp`;
  await writeFile(partial, JSON.stringify(index));
  await rename(partial, indexPath);
  return sha256;
}

interface HashEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** The graph must take `image` and produce every output its metadata promises. */
function checkModel(session: ort.InferenceSession, metadata: ModelMetadata, path: string): void {
  if (!session.inputNames.includes(INPUT_NAME)) {
    throw new FxsError(
      ErrorCodes.MODEL_INVALID,
      `'${path}' has no '${INPUT_NAME}' input; it is not a facexstream model`,
    );
  }

  const missing = metadata.tasks.filter((t) => !session.outputNames.includes(TASK_OUTPUT[t]));
  if (missing.length > 0) {
    throw new FxsError(
      ErrorCodes.MODEL_INVALID,
      `'${path}' declares tasks without outputs (${missing.join(', ')}); re-export the model`,
    );
  }
}

function fallbackWarnings(
  planWarning: string | undefined,
  failures: string[],
  device: Device,
): string[] {
  if (planWarning) return [planWarning];
  if (failures.length === 0) return [];

  return [
    `GPU could not start (${failures.join('; ')}); running on ${device}. ` +
      'Check that the CUDA 12 runtime and cuDNN 9 (TensorRT 10 for tensorrt) are on the ' +
      'library path',
  ];
}

function asModelError(err: unknown, path: string): FxsError {
  if (err instanceof FxsError) return err;

  return new FxsError(
    ErrorCodes.MODEL_INVALID,
    `ONNX Runtime cannot load '${path}' (${firstLine(err)}); re-export or re-import the model`,
    { cause: err },
  );
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].slice(0, 300);
}
