/**
 * The inference worker: owns the ONNX Runtime session, resizes and normalizes face crops,
 * runs one model call per batch and decodes each face's requested tasks. Started by
 * ModelRunner; it holds no state besides the session and a reusable input buffer.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

import { FxsError } from '../common/errors.js';
import { normalizeCrop } from './crop.js';
import { decodeFace } from './decode.js';
import { ModelSession } from './session.js';
import type {
  FromWorker,
  ToWorker,
  WorkerError,
  WorkerFace,
  WorkerInit,
} from './worker-protocol.js';

if (!isMainThread && parentPort) {
  void serve(parentPort, workerData as WorkerInit);
}

async function serve(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);

  let session: ModelSession;
  try {
    session = await ModelSession.create(init);
  } catch (err) {
    post({ type: 'startFailed', error: toWorkerError(err) });
    return;
  }

  const { metadata, device, warnings, start } = session;
  post({ type: 'ready', metadata, device, warnings, start });

  let input = new Float32Array(0);
  port.on('message', async (message: ToWorker) => {
    if (message.type === 'close') {
      await session.close();
      port.close();
      return;
    }

    try {
      if (message.type === 'raw') {
        const t0 = performance.now();
        const tensors = await session.run(message.input, message.batch, message.outputs);
        const inferMs = performance.now() - t0;
        post({ type: 'rawDone', id: message.id, tensors, inferMs }, buffersOf(tensors));
        return;
      }

      const perFace = 3 * metadata.inputSize * metadata.inputSize;
      if (input.length < message.faces.length * perFace) {
        input = new Float32Array(message.faces.length * perFace);
      }
      post(await analyze(session, message.id, message.faces, message.outputs, input));
    } catch (err) {
      post({ type: 'failed', id: message.id, error: toWorkerError(err) });
    }
  });
}

/** Crops every face into `input`, runs once, decodes each face's own tasks. */
async function analyze(
  session: ModelSession,
  id: number,
  faces: WorkerFace[],
  outputs: string[],
  input: Float32Array,
): Promise<FromWorker> {
  const { metadata } = session;
  const perFace = 3 * metadata.inputSize * metadata.inputSize;
  const t0 = performance.now();
  faces.forEach((face, i) => {
    normalizeCrop(face.region, input, i * perFace, {
      size: metadata.inputSize,
      mean: metadata.mean,
      std: metadata.std,
    });
  });
  const t1 = performance.now();

  const tensors = await session.run(input, faces.length, outputs);
  const t2 = performance.now();

  const batch = { size: faces.length, tensors };
  const records = faces.map((face, index) =>
    decodeFace(batch, { index, crop: face.crop, tasks: face.tasks }, metadata),
  );
  const timings = { cropMs: t1 - t0, inferMs: t2 - t1, decodeMs: performance.now() - t2 };
  return { type: 'analyzed', id, records, timings };
}

function buffersOf(tensors: Record<string, Float32Array>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    if (t.buffer instanceof ArrayBuffer && t.byteLength === t.buffer.byteLength)
      buffers.add(t.buffer);
  }
  return [...buffers];
}

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof FxsError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}
