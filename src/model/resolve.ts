/**
 * Which model file to run. `--model` accepts:
 * - `default` (also when the flag is absent; `auto` is a synonym): the official model if it
 *   is installed, else the embedded one, with a reason line saying which and why;
 * - `official`: the published FaceXFormer imported by `facexstream model pull`, kept in the
 *   cache folder as facexformer-swin-b.onnx;
 * - `embedded`: the small model shipped in the package, models/facexstream-small.onnx;
 * - anything else: a path to a .onnx file with facexstream metadata.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { defaultCacheDir } from './cache-dir.js';
import type { ModelMetadata } from './contract.js';
import { readModelMetadata } from './onnx-file.js';

/** File name of the imported official model inside the cache folder. */
export const OFFICIAL_MODEL_FILE = 'facexformer-swin-b.onnx';

/** The embedded model, relative to the package root. */
const EMBEDDED_RELATIVE = join('models', 'facexstream-small.onnx');

/** A model chosen for a run. */
export interface ResolvedModel {
  path: string;
  kind: 'official' | 'embedded' | 'path';
  /** One line for the user, e.g. "using embedded model ... because no official model ...". */
  reason: string;
  metadata: ModelMetadata;
}

/** Options of resolveModel. */
export interface ResolveModelOptions {
  /** 'default' (the default; 'auto' too), 'official', 'embedded', or a file path. */
  model?: string;
  /** Cache folder holding the official model. Default: see cache-dir.ts. */
  cacheDir?: string;
  /** Embedded model path. Default: models/facexstream-small.onnx in the package. */
  embeddedPath?: string;
}

/**
 * Resolves a `--model` value to a file and reads its metadata.
 *
 * @throws FxsError FXS_ERR_MODEL_NOT_FOUND naming the file and how to get it,
 *   FXS_ERR_MODEL_INVALID when the file is not a facexstream model
 */
export async function resolveModel(options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const spec = options.model ?? 'default';
  const official = officialModelPath(options.cacheDir);
  const embedded = options.embeddedPath ?? embeddedModelPath();

  if (spec === 'official') {
    if (!existsSync(official)) {
      throw new FxsError(
        ErrorCodes.MODEL_NOT_FOUND,
        `the official model is not installed ('${official}' is missing); ` +
          'run `facexstream model pull`',
      );
    }
    return withMetadata(official, 'official', `using official model ${official}`);
  }

  if (spec === 'embedded') {
    if (!existsSync(embedded)) throw embeddedMissing(embedded);
    return withMetadata(embedded, 'embedded', `using embedded model ${embedded}`);
  }

  if (spec === 'default' || spec === 'auto') {
    if (existsSync(official)) {
      return withMetadata(official, 'official', `using official model ${official}`);
    }
    if (!existsSync(embedded)) throw embeddedMissing(embedded);
    return withMetadata(
      embedded,
      'embedded',
      `using embedded model ${embedded} because no official model is installed; ` +
        'run `facexstream model pull` for the published FaceXFormer',
    );
  }

  const path = resolvePath(spec);
  if (!existsSync(path)) {
    throw new FxsError(
      ErrorCodes.MODEL_NOT_FOUND,
      `model file '${spec}' does not exist; ` +
        "pass an .onnx file, 'default', 'official' or 'embedded'",
    );
  }
  return withMetadata(path, 'path', `using model ${path}`);
}

/** Where `facexstream model pull` puts the official model. */
export function officialModelPath(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, OFFICIAL_MODEL_FILE);
}

/**
 * The embedded model's path, found by walking up from this module (the same from `src/` and
 * `dist/src/`); the package-root guess when it is absent.
 */
export function embeddedModelPath(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, EMBEDDED_RELATIVE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(start, '..', '..', EMBEDDED_RELATIVE);
  }
}

async function withMetadata(
  path: string,
  kind: ResolvedModel['kind'],
  reason: string,
): Promise<ResolvedModel> {
  const metadata = await readModelMetadata(path);
  return { path, kind, reason: `${reason} (${metadata.name})`, metadata };
}

function embeddedMissing(path: string): FxsError {
  return new FxsError(
    ErrorCodes.MODEL_NOT_FOUND,
    `the embedded model '${path}' is missing from this install; reinstall facexstream, or run ` +
      '`facexstream model pull` and pass --model official',
  );
}
