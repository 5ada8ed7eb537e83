/**
 * The face crop the model sees, computed exactly as the published FaceXFormer inference does:
 * the detector box grows by `margin` of its width and height in total (half on each side), is
 * clipped to the frame, truncated to integer pixel coordinates, resized to the model's input
 * side with PIL's bicubic filter, scaled to [0, 1] and normalized with ImageNet mean and std.
 *
 * The resize reproduces Pillow's `Image.resize(..., BICUBIC)` on 8-bit RGB bit for bit: a cubic
 * kernel with a = -0.5 whose support widens by the scale factor when shrinking (antialiasing),
 * coefficients normalized per output pixel and rounded to 22-bit fixed point, a horizontal
 * pass then a vertical pass, each rounded and clamped to 0-255, and a pass skipped when its
 * side does not change. The model was trained on crops made that way, so matching it keeps
 * the runtime's inputs identical to the reference implementation's for the same box.
 */
import type { Box } from '../pipeline/types.js';
import { CROP_MARGIN, IMAGENET_MEAN, IMAGENET_STD, INPUT_SIZE } from './contract.js';

/** Packed RGB24 pixels of a whole image or of a region cut from one. */
export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major, no padding. */
  data: Uint8Array;
}

/** Options of `cropFace` and `normalizeCrop`. */
export interface CropOptions {
  /** Output side in pixels. Default 224 (INPUT_SIZE). */
  size?: number;
  /** Total growth of the box as a fraction of its width and height. Default 0.5. */
  margin?: number;
  /** Per-channel mean on the [0, 1] scale. Default ImageNet's. */
  mean?: readonly number[];
  /** Per-channel standard deviation on the [0, 1] scale. Default ImageNet's. */
  std?: readonly number[];
}

/**
 * Grows a detector box by `margin` (half on each side), clips it to the frame and truncates
 * the corners to integers as the upstream inference does (`int()` of the clipped corners).
 * The result is at least 1x1 pixel and lies inside the frame.
 *
 * @param margin total growth as a fraction of width and height; default 0.5
 */
export function cropBox(
  box: Box,
  frameWidth: number,
  frameHeight: number,
  margin = CROP_MARGIN,
): Box {
  const growX = (box.width * margin) / 2;
  const growY = (box.height * margin) / 2;
  let x0 = Math.trunc(clamp(box.x - growX, 0, frameWidth));
  let y0 = Math.trunc(clamp(box.y - growY, 0, frameHeight));
  const x1 = Math.trunc(clamp(box.x + box.width + growX, 0, frameWidth));
  const y1 = Math.trunc(clamp(box.y + box.height + growY, 0, frameHeight));

  // A box wholly outside the frame would give an empty crop; keep one edge pixel instead.
  x0 = Math.min(x0, frameWidth - 1);
  y0 = Math.min(y0, frameHeight - 1);
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

/** Copies the pixels of an integer rectangle (inside the image) into a new packed image. */
export function extractRegion(image: RgbImage, region: Box): RgbImage {
  const rowBytes = region.width * 3;
  const data = new Uint8Array(rowBytes * region.height);
  for (let y = 0; y < region.height; y++) {
    const from = ((region.y + y) * image.width + region.x) * 3;
    data.set(image.data.subarray(from, from + rowBytes), y * rowBytes);
  }

  return { width: region.width, height: region.height, data };
}

/**
 * Resizes packed RGB24 pixels like Pillow's bicubic `Image.resize` (see the file comment).
 */
export function resizeBicubic(image: RgbImage, outWidth: number, outHeight: number): RgbImage {
  let current = image;
  if (outWidth !== image.width) {
    current = resamplePass(current, outWidth, true);
  }
  if (outHeight !== image.height) {
    current = resamplePass(current, outHeight, false);
  }

  return current === image ? { ...image, data: image.data.slice() } : current;
}

/**
 * Turns a crop region into the model's input: bicubic resize to `size` x `size`, scale to
 * [0, 1], normalize, and write CHW float32 into `out` at `offset` (elements).
 *
 * @param out destination tensor, at least offset + 3 * size * size elements
 */
export function normalizeCrop(
  region: RgbImage,
  out: Float32Array,
  offset = 0,
  options: CropOptions = {},
): void {
  const size = options.size ?? INPUT_SIZE;
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  const resized = resizeBicubic(region, size, size).data;
  const plane = size * size;

  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * std[c]);
    const shift = mean[c] / std[c];
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) {
      out[base + i] = resized[i * 3 + c] * scale - shift;
    }
  }
}

/**
 * Crops one face from a frame into `out` (CHW float32 at `offset`) and returns the crop box
 * in frame pixels, which decoding needs to map outputs back to the frame.
 */
export function cropFace(
  frame: RgbImage,
  box: Box,
  out: Float32Array,
  offset = 0,
  options: CropOptions = {},
): Box {
  const crop = cropBox(box, frame.width, frame.height, options.margin ?? CROP_MARGIN);
  normalizeCrop(extractRegion(frame, crop), out, offset, options);
  return crop;
}

/** Pillow keeps 22 fractional bits for 8-bit resampling (32 - 8 - 2 bits of headroom). */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Pillow's bicubic kernel, a = -0.5, support 2. */
function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

interface Taps {
  /** First input index of each output pixel. */
  start: Int32Array;
  /** Tap count of each output pixel. */
  count: Int32Array;
  /** Fixed-point weights, `stride` per output pixel. */
  weights: Int32Array;
  stride: number;
}

/** Per-output-pixel input ranges and fixed-point weights along one axis. */
function computeTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const k = new Float64Array(stride);
  // Multiplying by the reciprocal, as Pillow does, keeps rounding identical to its weights.
  const inverseScale = 1 / filterScale;

  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < n; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * inverseScale);
      total += k[x];
    }
    for (let x = 0; x < n; x++) {
      const w = total === 0 ? k[x] : k[x] / total;
      weights[xx * stride + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = n;
  }

  return { start, count, weights, stride };
}

/** One resampling pass along x (`horizontal`) or y, rounded and clamped to 8 bits. */
function resamplePass(image: RgbImage, outSize: number, horizontal: boolean): RgbImage {
  const { width, height } = image;
  const taps = computeTaps(horizontal ? width : height, outSize);
  const outWidth = horizontal ? outSize : width;
  const outHeight = horizontal ? height : outSize;
  const out = new Uint8Array(outWidth * outHeight * 3);
  if (horizontal) resampleRows(image, taps, out, outWidth);
  else resampleColumns(image, taps, out, outHeight);
  return { width: outWidth, height: outHeight, data: out };
}

/** Horizontal pass: each output pixel mixes neighbouring pixels of its row. */
function resampleRows(image: RgbImage, taps: Taps, out: Uint8Array, outWidth: number): void {
  const { width, height, data } = image;
  const { start, count, weights, stride } = taps;
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    let o = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x];
      const w0 = x * stride;
      let p = row + start[x] * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let t = 0; t < n; t++, p += 3) {
        const w = weights[w0 + t];
        r = (r + data[p] * w) | 0;
        g = (g + data[p + 1] * w) | 0;
        b = (b + data[p + 2] * w) | 0;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
}

/** Vertical pass: each output row mixes neighbouring input rows, byte by byte. */
function resampleColumns(image: RgbImage, taps: Taps, out: Uint8Array, outHeight: number): void {
  const { width, data } = image;
  const { start, count, weights, stride } = taps;
  const rowBytes = width * 3;
  const sums = new Int32Array(rowBytes);
  for (let y = 0; y < outHeight; y++) {
    sums.fill(HALF);
    const n = count[y];
    for (let t = 0; t < n; t++) {
      const w = weights[y * stride + t];
      const row = (start[y] + t) * rowBytes;
      for (let i = 0; i < rowBytes; i++) sums[i] = (sums[i] + data[row + i] * w) | 0;
    }
    const o = y * rowBytes;
    for (let i = 0; i < rowBytes; i++) out[o + i] = clip8(sums[i]);
  }
}

/**
 * Pillow sums in 32-bit integers (22 fractional bits leave room for 255 times the largest
 * kernel sum), so int32 arithmetic here gives the same results and stays on V8's fast path.
 */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
