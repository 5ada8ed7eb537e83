import { readFile } from 'node:fs/promises';
import { ErrorCodes, FxsError } from '../../common/errors.js';
import { withNormalizationMetadata } from './tflite-metadata.js';

/** BlazeFace takes pixels scaled to [-1, 1]. */
const BLAZEFACE_NORMALIZATION = { mean: [127.5], std: [127.5] };

/**
 * Patched models by absolute path, shared by every detector of the process. A failed load is
 * not kept, so a fixed file is read again; a file changed on disk after a good load is not.
 */
const models = new Map<string, Promise<Uint8Array>>();

/**
 * Reads a BlazeFace .tflite file and gives it the input-normalization metadata MediaPipe
 * Tasks requires (the models of `@mediapipe/face_detection` have none). The file on disk is
 * left as it is; the patched bytes are kept in memory for the next detector.
 *
 * Rejects with `FxsError` `FXS_ERR_DETECTOR_FAILED` when the file cannot be read or is not
 * a TFLite model.
 */
export function loadDetectorModel(absolutePath: string): Promise<Uint8Array> {
  let model = models.get(absolutePath);
  if (!model) {
    model = readModel(absolutePath);
    models.set(absolutePath, model);
    model.catch(() => models.delete(absolutePath));
  }
  return model;
}

async function readModel(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw modelError(path, code === 'ENOENT' ? 'no such file' : (err as Error).message, err);
  }

  try {
    return withNormalizationMetadata(bytes, BLAZEFACE_NORMALIZATION);
  } catch (err) {
    throw modelError(path, (err as Error).message, err);
  }
}

function modelError(path: string, reason: string, cause: unknown): FxsError {
  const way = 'pass a BlazeFace .tflite file';
  const message = `cannot load face detector model '${path}': ${reason}; ${way}`;
  return new FxsError(ErrorCodes.DETECTOR_FAILED, message, { cause });
}
