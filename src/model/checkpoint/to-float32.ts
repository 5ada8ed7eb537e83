/** Element types of PyTorch storages, named as torch names its dtypes. */
export type TorchDtype =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** The floating dtypes, which convert to float32. */
export const FLOAT_DTYPES: ReadonlySet<TorchDtype> = new Set([
  'float32',
  'float16',
  'bfloat16',
  'float64',
]);

/**
 * Converts little-endian elements of a floating dtype to float32. float16 and bfloat16
 * widen exactly; float64 rounds to nearest.
 */
export function toFloat32(bytes: Uint8Array, dtype: TorchDtype): Float32Array {
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  if (!FLOAT_DTYPES.has(dtype)) throw new TypeError(`dtype ${dtype} is not a floating type`);
  if (!Number.isInteger(count)) throw new RangeError(`${bytes.byteLength} bytes of ${dtype}`);

  // Copy into fresh, aligned memory first: storage bytes start wherever the zip put them.
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  switch (dtype) {
    case 'float32':
      return new Float32Array(aligned.buffer);
    case 'float64':
      return Float32Array.from(new Float64Array(aligned.buffer));
    case 'bfloat16':
      return bfloat16ToFloat32(new Uint16Array(aligned.buffer));
    default:
      return float16ToFloat32(new Uint16Array(aligned.buffer));
  }
}

function bfloat16ToFloat32(halves: Uint16Array): Float32Array {
  // bfloat16 is the high half of a float32.
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = halves[i] << 16;
  return new Float32Array(words.buffer);
}

function float16ToFloat32(halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = halfToNumber(halves[i]);
  return out;
}

/** IEEE 754 binary16 to a number: sign, 5-bit exponent (bias 15), 10-bit fraction. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}
