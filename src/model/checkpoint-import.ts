import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

import { ErrorCodes, FxsError, isFxsError } from '../common/errors.js';
import type { ModelMetadata } from './contract.js';
import {
  TEMPLATE_METADATA_KEY,
  readTemplateKeys,
  type TemplateKey,
} from './checkpoint/template-keys.js';
import { FLOAT_DTYPES } from './checkpoint/to-float32.js';
import { TorchCheckpoint, type CheckpointTensor } from './checkpoint/torch-checkpoint.js';
import { getModelMetadata, readOnnxModel, setModelMetadata, writeOnnxModel } from './onnx-file.js';
import type { ModelProto, TensorProto } from './onnx-schema.js';

/** ONNX TensorProto data type of float32. */
const ONNX_FLOAT = 1;

/** Where an import stands; `done` and `total` count tensors while converting. */
export interface ImportProgress {
  stage: 'read' | 'convert' | 'write';
  done: number;
  total: number;
}

export interface ImportCheckpointOptions {
  /** A PyTorch checkpoint in the published layout (torch.save zip format). */
  checkpointPath: string;
  /** A weight-free template from tools/export_onnx.py --template, of the same architecture. */
  templatePath: string;
  /** The runnable ONNX model to write; written atomically, replacing any file there. */
  outPath: string;
  /**
   * Metadata for the new model. Default: the template's own `facexstream` entry. Either way
   * `provenance.sha256` is set to the checkpoint's SHA-256 unless the given one has it.
   */
  metadata?: ModelMetadata;
  /** Called as the import proceeds; synchronous and cheap, it must not throw. */
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportResult {
  outPath: string;
  metadata: ModelMetadata;
  /** Tensors copied from the checkpoint into the graph. */
  tensors: number;
}

/**
 * Turns a PyTorch checkpoint into a runnable facexstream ONNX model: every state-dict key
 * the template expects is checked for presence and shape, the float weights (float32,
 * float16, bfloat16 or float64 in the checkpoint) are written into the template's empty
 * initializers as float32, and the model's metadata is set.
 *
 * @throws FxsError FXS_ERR_CHECKPOINT_UNREADABLE when the checkpoint cannot be read,
 *   FXS_ERR_CHECKPOINT_MISMATCH when its keys or shapes differ from the template's,
 *   FXS_ERR_MODEL_NOT_FOUND / FXS_ERR_MODEL_INVALID for a missing or wrong template
 */
export async function importCheckpoint(options: ImportCheckpointOptions): Promise<ImportResult> {
  const { checkpointPath, templatePath, outPath } = options;
  const progress = options.onProgress ?? (() => {});

  progress({ stage: 'read', done: 0, total: 1 });
  const model = await readTemplate(templatePath);
  const keys = readTemplateKeys(model, templatePath);
  const base = options.metadata ?? getModelMetadata(model, templatePath);
  const checkpoint = await TorchCheckpoint.open(checkpointPath);
  try {
    checkKeys(checkpoint, keys, templatePath);
    progress({ stage: 'read', done: 1, total: 1 });

    const tensors = await fillInitializers(model, checkpoint, keys, templatePath, progress);
    const metadata = await withChecksum(base, checkpointPath);
    model.metadataProps = (model.metadataProps ?? []).filter(
      (p) => p.key !== TEMPLATE_METADATA_KEY,
    );
    setModelMetadata(model, metadata);

    progress({ stage: 'write', done: 0, total: 1 });
    await writeOnnxModel(outPath, model);
    progress({ stage: 'write', done: 1, total: 1 });
    return { outPath, metadata, tensors };
  } finally {
    await checkpoint.close();
  }
}

async function readTemplate(path: string): Promise<ModelProto> {
  try {
    return await readOnnxModel(path);
  } catch (err) {
    if (!isFxsError(err, ErrorCodes.MODEL_NOT_FOUND)) throw err;
    throw new FxsError(
      ErrorCodes.MODEL_NOT_FOUND,
      `model template '${path}' does not exist; pass a template written by ` +
        'tools/export_onnx.py --template, or reinstall facexstream to restore models/templates',
      { cause: err },
    );
  }
}

/** Every expected key present with its shape and a usable dtype; no key left over. */
function checkKeys(checkpoint: TorchCheckpoint, keys: TemplateKey[], template: string): void {
  for (const expected of keys) {
    const tensor = checkpoint.tensors.get(expected.key);
    if (!tensor) {
      throw mismatch(checkpoint, template, `key '${expected.key}' is missing`);
    }
    if (!sameShape(tensor.shape, expected.shape)) {
      const shapes = `${fmt(tensor.shape)}, expected ${fmt(expected.shape)}`;
      throw mismatch(checkpoint, template, `key '${expected.key}' has shape ${shapes}`);
    }
    if (expected.use === 'initializer' && !FLOAT_DTYPES.has(tensor.dtype)) {
      const why = `key '${expected.key}' holds ${tensor.dtype}, expected a floating-point tensor`;
      throw mismatch(checkpoint, template, why);
    }
  }

  const known = new Set(keys.map((k) => k.key));
  for (const key of checkpoint.tensors.keys()) {
    if (!known.has(key)) throw mismatch(checkpoint, template, `key '${key}' is unexpected`);
  }
}

async function fillInitializers(
  model: ModelProto,
  checkpoint: TorchCheckpoint,
  keys: TemplateKey[],
  template: string,
  progress: (p: ImportProgress) => void,
): Promise<number> {
  const initializers = new Map<string, TensorProto>();
  for (const init of model.graph?.initializer ?? []) initializers.set(init.name ?? '', init);

  const wanted = keys.filter((k) => k.use === 'initializer');
  for (const [index, key] of wanted.entries()) {
    const init = initializers.get(key.key);
    if (!init) {
      throw new FxsError(
        ErrorCodes.MODEL_INVALID,
        `template '${template}' lists '${key.key}' but has no initializer of that name; ` +
          're-export it with tools/export_onnx.py --template',
      );
    }
    const tensor = checkpoint.tensors.get(key.key) as CheckpointTensor;
    const data = await checkpoint.readFloat32(tensor);
    init.dataType = ONNX_FLOAT;
    init.rawData = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    init.floatData = [];
    progress({ stage: 'convert', done: index + 1, total: wanted.length });
  }
  return wanted.length;
}

async function withChecksum(metadata: ModelMetadata, path: string): Promise<ModelMetadata> {
  if (metadata.provenance.sha256) return metadata;
  const sha256 = await sha256File(path);
  return { ...metadata, provenance: { ...metadata.provenance, sha256 } };
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function mismatch(checkpoint: TorchCheckpoint, template: string, why: string): FxsError {
  return new FxsError(
    ErrorCodes.CHECKPOINT_MISMATCH,
    `checkpoint '${checkpoint.path}' does not fit template '${template}': ${why}; ` +
      'import a checkpoint of the architecture the template was exported from',
  );
}
