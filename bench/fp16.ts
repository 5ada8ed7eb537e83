/**
 * Converts a float32 facexstream model to float16 weights and activations for GPU benchmarks,
 * keeping float32 at the edges: the `image` input is cast to float16 inside the graph and
 * every float output is cast back, so callers feed and read float32 as before.
 *
 *   node --import tsx bench/fp16.ts <in.onnx> <out.onnx>
 *
 * What changes: float initializers, float Constant nodes and ConstantOfShape values become
 * float16, Cast-to-float becomes Cast-to-float16, and intermediate value_info is dropped so
 * ONNX Runtime re-infers types. Shape arithmetic (int64) is untouched. This suits the
 * FaceXFormer graph (no Resize scales, no float Range); it is not a general converter. On CPU,
 * ONNX Runtime lacks float16 kernels for most of these ops, so the result is for CUDA and
 * TensorRT; bench/gpu.sh checks its outputs against the float32 model on CPU.
 */
import { getModelMetadata, readOnnxModel, writeOnnxModel } from '../src/model/onnx-file.js';
import type { AttributeProto, NodeProto, TensorProto } from '../src/model/onnx-schema.js';

const FLOAT = 1;
const FLOAT16 = 10;
/** Reused views for reading float32 bits. */
const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node --import tsx bench/fp16.ts <in.onnx> <out.onnx>\n');
  process.exit(2);
}

const model = await readOnnxModel(input);
getModelMetadata(model, input);
const graph = model.graph!;
let converted = 0;

for (const tensor of graph.initializer ?? []) converted += toHalfTensor(tensor);
for (const node of graph.node ?? []) converted += toHalfNode(node);
graph.valueInfo = [];

// Edges: image (float32) -> Cast -> image_fp16 feeds the graph; outputs are produced as
// <name>_fp16 and cast back to float32 under their own names.
const casts: NodeProto[] = [];
for (const value of graph.input ?? []) {
  if (value.type?.tensorType?.elemType !== FLOAT) continue;
  const half = `${value.name}_fp16`;
  renameUses(value.name!, half);
  casts.push(castNode(value.name!, half, FLOAT16));
}
const tail: NodeProto[] = [];
for (const value of graph.output ?? []) {
  if (value.type?.tensorType?.elemType !== FLOAT) continue;
  const half = `${value.name}_fp16`;
  for (const node of graph.node ?? []) {
    node.output = node.output?.map((o) => (o === value.name ? half : o));
  }
  tail.push(castNode(half, value.name!, FLOAT));
}
graph.node = [...casts, ...(graph.node ?? []), ...tail];

await writeOnnxModel(output, model);
process.stdout.write(
  `${JSON.stringify({ out: output, converted, casts: casts.length + tail.length })}\n`,
);

function toHalfTensor(tensor: TensorProto): number {
  if (tensor.dataType !== FLOAT) return 0;

  const values = floatValues(tensor);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = floatToHalf(values[i]);
  tensor.dataType = FLOAT16;
  tensor.floatData = [];
  tensor.rawData = new Uint8Array(half.buffer);
  return 1;
}

function toHalfNode(node: NodeProto): number {
  let n = 0;
  for (const attribute of node.attribute ?? []) n += toHalfAttribute(node, attribute);
  return n;
}

function toHalfAttribute(node: NodeProto, attribute: AttributeProto): number {
  if (node.opType === 'Cast' && attribute.name === 'to' && Number(attribute.i) === FLOAT) {
    attribute.i = FLOAT16;
    return 1;
  }
  if (attribute.t && (node.opType === 'Constant' || node.opType === 'ConstantOfShape')) {
    return toHalfTensor(attribute.t);
  }
  return 0;
}

function floatValues(tensor: TensorProto): Float32Array {
  const raw = tensor.rawData;
  if (raw && raw.length > 0) {
    const copy = new Uint8Array(raw);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

function renameUses(from: string, to: string): void {
  for (const node of graph.node ?? []) {
    node.input = node.input?.map((i) => (i === from ? to : i));
  }
}

function castNode(from: string, to: string, type: number): NodeProto {
  return {
    input: [from],
    output: [to],
    name: `fp16_cast_${to}`,
    opType: 'Cast',
    attribute: [{ name: 'to', type: 2, i: type }],
  };
}

/** IEEE 754 float32 to float16 bits, round to nearest even, with overflow to infinity. */
function floatToHalf(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;

  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  e = half >> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}
