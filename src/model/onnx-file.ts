/**
 * Load and save ONNX model files, and read or write the `facexstream` metadata entry.
 *
 * Tensor payloads (`rawData`) stay Buffers: after decoding they are views into the file's
 * buffer, so a 375 MB model costs one copy in memory when read and about two while written.
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import protobuf from 'protobufjs';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { METADATA_KEY, type ModelMetadata } from './contract.js';
import { parseModelMetadata, validateModelMetadata } from './metadata.js';
import { ONNX_PROTO, type Int64, type ModelProto } from './onnx-schema.js';

export type { ModelProto } from './onnx-schema.js';

const root = protobuf.parse(ONNX_PROTO).root;
const ModelType = root.lookupType('onnx.ModelProto');
const EntryType = root.lookupType('onnx.StringStringEntryProto');

/** ModelProto field numbers read by the metadata scanner. */
const GRAPH_FIELD = 7;
const METADATA_PROPS_FIELD = 14;

/**
 * Reads and decodes an ONNX model file.
 *
 * @throws FxsError FXS_ERR_MODEL_NOT_FOUND when the file does not exist,
 *   FXS_ERR_MODEL_INVALID when it is not an ONNX model
 */
export async function readOnnxModel(path: string): Promise<ModelProto> {
  const bytes = await readModelBytes(path);
  return decodeOnnxModel(bytes, path);
}

/**
 * Decodes ONNX ModelProto bytes. The returned tensors' `rawData` are views into `bytes`.
 *
 * @param source file name for error messages
 * @throws FxsError FXS_ERR_MODEL_INVALID when the bytes are not an ONNX model with a graph
 */
export function decodeOnnxModel(bytes: Uint8Array, source: string): ModelProto {
  let model: ModelProto;
  try {
    model = ModelType.decode(bytes) as unknown as ModelProto;
  } catch (err) {
    throw notOnnx(source, err);
  }

  if (int64ToNumber(model.irVersion ?? 0) <= 0 || !model.graph || !model.graph.node?.length) {
    throw notOnnx(source);
  }

  return model;
}

/** Encodes a ModelProto to bytes, unknown fields included. */
export function encodeOnnxModel(model: ModelProto): Buffer {
  const bytes = ModelType.encode(model as { [k: string]: unknown }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes a ModelProto to `path` atomically: a temporary file beside it, then a rename, so a
 * crash never leaves a half-written model under the final name.
 */
export async function writeOnnxModel(path: string, model: ModelProto): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, encodeOnnxModel(model));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Returns the model's `facexstream` metadata, validated.
 *
 * @throws FxsError FXS_ERR_MODEL_INVALID when the entry is missing or invalid
 */
export function getModelMetadata(model: ModelProto, source: string): ModelMetadata {
  const entry = model.metadataProps?.find((p) => p.key === METADATA_KEY);
  if (!entry || entry.value === undefined) throw noMetadata(source);

  return parseModelMetadata(entry.value, source);
}

/**
 * Sets (or replaces) the model's `facexstream` metadata entry; other entries are kept.
 *
 * @throws FxsError FXS_ERR_MODEL_INVALID when `metadata` does not satisfy the schema
 */
export function setModelMetadata(model: ModelProto, metadata: ModelMetadata): void {
  validateModelMetadata(metadata, model.graph?.name ?? 'model');

  const value = JSON.stringify(metadata);
  const props = (model.metadataProps ?? []).filter((p) => p.key !== METADATA_KEY);
  props.push({ key: METADATA_KEY, value });
  model.metadataProps = props;
}

/**
 * Reads only the `facexstream` metadata of a model file, without loading its weights: the
 * scanner walks the top-level fields and seeks over the graph.
 *
 * @throws FxsError FXS_ERR_MODEL_NOT_FOUND, FXS_ERR_MODEL_INVALID
 */
export async function readModelMetadata(path: string): Promise<ModelMetadata> {
  const props = await scanMetadataProps(path);
  const value = props.get(METADATA_KEY);
  if (value === undefined) throw noMetadata(path);

  return parseModelMetadata(value, path);
}

/** Converts a decoded 64-bit integer (number or Long) to a number. */
export function int64ToNumber(value: Int64): number {
  return typeof value === 'number' ? value : value.toNumber();
}

async function readModelBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw fileError(path, err);
  }
}

/** Walks ModelProto's top-level fields; collects metadata_props, seeks over everything else. */
async function scanMetadataProps(path: string): Promise<Map<string, string>> {
  const file = await open(path, 'r').catch((err: unknown) => {
    throw fileError(path, err);
  });

  try {
    const { size } = await file.stat();
    const props = new Map<string, string>();
    let pos = 0;
    let sawGraph = false;
    while (pos < size) {
      const head = Buffer.alloc(Math.min(20, size - pos));
      await file.read(head, 0, head.length, pos);
      const reader = protobuf.Reader.create(head);
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 0) throw notOnnx(path);

      if (wireType !== 2) {
        reader.skipType(wireType);
        pos += reader.pos;
        continue;
      }

      const length = reader.uint32();
      const start = pos + reader.pos;
      if (start + length > size) throw notOnnx(path);
      if (field === GRAPH_FIELD) sawGraph = true;
      if (field === METADATA_PROPS_FIELD) {
        const body = Buffer.alloc(length);
        await file.read(body, 0, length, start);
        const entry = EntryType.decode(body) as { key?: string; value?: string };
        if (entry.key !== undefined) props.set(entry.key, entry.value ?? '');
      }
      pos = start + length;
    }

    if (!sawGraph) throw notOnnx(path);
    return props;
  } catch (err) {
    if (err instanceof FxsError) throw err;
    throw notOnnx(path, err);
  } finally {
    await file.close();
  }
}

function fileError(path: string, err: unknown): FxsError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new FxsError(
      ErrorCodes.MODEL_NOT_FOUND,
      `model file '${path}' does not exist; pass an existing .onnx file, 'default' or 'official'`,
      { cause: err },
    );
  }

  return new FxsError(
    ErrorCodes.MODEL_INVALID,
    `cannot read model file '${path}' (${code ?? String(err)}); check the path and permissions`,
    { cause: err },
  );
}

function notOnnx(source: string, cause?: unknown): FxsError {
  return new FxsError(
    ErrorCodes.MODEL_INVALID,
    `'${source}' is not an ONNX model; pass a .onnx file exported or imported by facexstream`,
    { cause },
  );
}

function noMetadata(source: string): FxsError {
  return new FxsError(
    ErrorCodes.MODEL_INVALID,
    `'${source}' has no facexstream metadata; export it with tools/export_onnx.py or import ` +
      `a checkpoint with 'facexstream model import'`,
  );
}
