import { Builder } from 'flatbuffers';
import { TfliteSchema as S } from './tflite-schema.js';

/** Per-channel input normalization `(pixel - mean) / std`; one value applies to every channel. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * Returns `model` (a .tflite file) with TFLite metadata that declares the input normalization,
 * which MediaPipe Tasks requires of every float-input image model. A model that already has
 * metadata is returned unchanged.
 *
 * The original bytes are not edited: the result is a new flatbuffer whose root `Model` table
 * points into an untouched copy of the old one, with a `buffers` vector that gains one buffer
 * (the `M001` metadata) and a `metadata` vector that gains one `TFLITE_METADATA` entry.
 * Flatbuffer offsets only point forward, so the new tables come first and the old model last,
 * 16-byte aligned so that its buffers keep their alignment.
 *
 * Throws an `Error` naming what is wrong when `model` is not a readable TFLite flatbuffer.
 */
export function withNormalizationMetadata(
  model: Uint8Array,
  normalization: Normalization,
): Uint8Array {
  const old = readModel(model);
  if (old.hasTfliteMetadata) return model;

  const builder = new Builder(model.length + 1024);
  builder.prep(S.Buffer.alignment, model.length);
  const oldStart = builder.createByteVector(model) - 4;
  const at = (address: number): number => oldStart - address;

  const metadataBytes = buildModelMetadata(normalization);
  builder.prep(S.Buffer.alignment, metadataBytes.length);
  const metadataData = builder.createByteVector(metadataBytes);
  builder.startObject(1);
  builder.addFieldOffset(S.Buffer.data, metadataData, 0);
  const metadataBuffer = builder.endObject();
  const buffers = offsetVector(builder, [...old.buffers.map(at), metadataBuffer]);

  const name = builder.createString(S.metadataName);
  builder.startObject(2);
  builder.addFieldOffset(S.Metadata.name, name, 0);
  builder.addFieldInt32(S.Metadata.buffer, old.buffers.length, 0);
  const entry = builder.endObject();
  const metadata = offsetVector(builder, [...old.metadata.map(at), entry]);

  builder.startObject(S.Model.fieldCount);
  builder.addFieldInt32(S.Model.version, old.version, 0);
  for (const [slot, address] of old.references) builder.addFieldOffset(slot, at(address), 0);
  builder.addFieldOffset(S.Model.buffers, buffers, 0);
  builder.addFieldOffset(S.Model.metadata, metadata, 0);
  builder.finish(builder.endObject(), S.modelIdentifier);

  return builder.asUint8Array().slice();
}

/** What the rewrite needs from the old root table; addresses are byte positions in the model. */
interface OldModel {
  version: number;
  /** Offset fields copied as they are: [slot, address of the referenced object]. */
  references: Array<[number, number]>;
  /** Addresses of the `Buffer` tables. */
  buffers: number[];
  /** Addresses of the `Metadata` tables. */
  metadata: number[];
  hasTfliteMetadata: boolean;
}

function readModel(model: Uint8Array): OldModel {
  if (model.length < 8 || ascii(model, 4, 4) !== S.modelIdentifier) {
    throw new Error(`not a TFLite model (no '${S.modelIdentifier}' identifier)`);
  }

  try {
    return readRoot(new FlatReader(model));
  } catch (err) {
    if (err instanceof RangeError) throw new Error('TFLite flatbuffer is truncated or corrupt');
    throw err;
  }
}

function readRoot(r: FlatReader): OldModel {
  const root = r.deref(0);
  if (r.fieldCount(root) > S.Model.fieldCount) {
    throw new Error('TFLite model was written by a newer schema than this reader knows');
  }

  const references: Array<[number, number]> = [];
  const copied = [
    S.Model.operatorCodes,
    S.Model.subgraphs,
    S.Model.description,
    S.Model.metadataBuffer,
    S.Model.signatureDefs,
  ];
  for (const slot of copied) {
    const field = r.field(root, slot);
    if (field) references.push([slot, r.deref(field)]);
  }

  const buffers = r.tableVector(r.field(root, S.Model.buffers));
  if (buffers.length === 0) throw new Error('TFLite model has no buffers');
  const metadata = r.tableVector(r.field(root, S.Model.metadata));
  const hasTfliteMetadata = metadata.some((table) => {
    const name = r.field(table, S.Metadata.name);
    return name !== 0 && r.string(name) === S.metadataName;
  });

  const versionField = r.field(root, S.Model.version);
  const version = versionField ? r.u32(versionField) : 0;
  return { version, references, buffers, metadata, hasTfliteMetadata };
}

/** Bounds-checked flatbuffer reads: a DataView throws RangeError past the end. */
class FlatReader {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u32(address: number): number {
    return this.view.getUint32(address, true);
  }

  /** Address of the object an offset field at `address` points to. */
  deref(address: number): number {
    const target = address + this.u32(address);
    if (target >= this.bytes.length) throw new RangeError('offset past the end');
    return target;
  }

  /** Number of field slots in the vtable of the table at `table`. */
  fieldCount(table: number): number {
    const vtable = table - this.view.getInt32(table, true);
    return (this.view.getUint16(vtable, true) - 4) / 2;
  }

  /** Address of field `slot` of the table at `table`, or 0 when the field is absent. */
  field(table: number, slot: number): number {
    const vtable = table - this.view.getInt32(table, true);
    const entry = 4 + 2 * slot;
    if (entry >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + entry, true);
    return offset === 0 ? 0 : table + offset;
  }

  /** Addresses of the tables in the vector that the offset field at `field` points to. */
  tableVector(field: number): number[] {
    if (field === 0) return [];
    const vector = this.deref(field);
    const length = this.u32(vector);
    if (vector + 4 + 4 * length > this.bytes.length) throw new RangeError('vector past the end');
    return Array.from({ length }, (_, i) => this.deref(vector + 4 + 4 * i));
  }

  string(field: number): string {
    const start = this.deref(field);
    const length = this.u32(start);
    if (start + 4 + length > this.bytes.length) throw new RangeError('string past the end');
    return ascii(this.bytes, start + 4, length);
  }
}

/** A `ModelMetadata` flatbuffer with one subgraph whose one input tensor is normalized. */
function buildModelMetadata({ mean, std }: Normalization): Uint8Array {
  const b = new Builder(256);

  const meanVector = floatVector(b, mean);
  const stdVector = floatVector(b, std);
  b.startObject(S.NormalizationOptions.fieldCount);
  b.addFieldOffset(S.NormalizationOptions.mean, meanVector, 0);
  b.addFieldOffset(S.NormalizationOptions.std, stdVector, 0);
  const options = b.endObject();

  b.startObject(S.ProcessUnit.fieldCount);
  b.addFieldInt8(S.ProcessUnit.optionsType, S.ProcessUnitOptions.NormalizationOptions, 0);
  b.addFieldOffset(S.ProcessUnit.options, options, 0);
  const processUnits = offsetVector(b, [b.endObject()]);

  const tensorName = b.createString('image');
  b.startObject(S.TensorMetadata.fieldCount);
  b.addFieldOffset(S.TensorMetadata.name, tensorName, 0);
  b.addFieldOffset(S.TensorMetadata.processUnits, processUnits, 0);
  const inputs = offsetVector(b, [b.endObject()]);

  b.startObject(S.SubGraphMetadata.fieldCount);
  b.addFieldOffset(S.SubGraphMetadata.inputTensorMetadata, inputs, 0);
  const subgraphs = offsetVector(b, [b.endObject()]);

  const name = b.createString('input normalization added by facexstream');
  const version = b.createString(S.minParserVersion);
  b.startObject(S.ModelMetadata.fieldCount);
  b.addFieldOffset(S.ModelMetadata.name, name, 0);
  b.addFieldOffset(S.ModelMetadata.subgraphMetadata, subgraphs, 0);
  b.addFieldOffset(S.ModelMetadata.minParserVersion, version, 0);
  b.finish(b.endObject(), S.metadataIdentifier);
  return b.asUint8Array().slice();
}

/** A vector of offsets; the builder writes back to front, so elements go in reversed. */
function offsetVector(b: Builder, offsets: number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

function floatVector(b: Builder, values: number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
  return b.endVector();
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return new TextDecoder('latin1').decode(bytes.subarray(start, start + length));
}
