/**
 * Run-length encoding of class-index masks, the compact form face parsing travels in (JSONL
 * and WebSocket): row-major `[class, runLength, class, runLength, ...]`. A 224x224 parsing
 * mask of a face has a few hundred runs, so the encoding is 1-3 KB of JSON instead of 50 KB.
 */

/**
 * Encodes a row-major class-index mask.
 *
 * @returns `[class, runLength, ...]`; runs never have length 0 and neighbours differ in class
 */
export function encodeMaskRle(mask: ArrayLike<number>): number[] {
  const rle: number[] = [];
  if (mask.length === 0) return rle;

  let current = mask[0];
  let run = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === current) {
      run++;
      continue;
    }
    rle.push(current, run);
    current = mask[i];
    run = 1;
  }
  rle.push(current, run);
  return rle;
}

/**
 * Decodes `[class, runLength, ...]` back into a mask of `length` pixels.
 *
 * @throws RangeError when the runs do not add up to `length` or the array is malformed
 */
export function decodeMaskRle(rle: readonly number[], length: number): Uint8Array {
  if (rle.length % 2 !== 0) {
    throw new RangeError(`rle must hold class/run pairs, got an odd length ${rle.length}`);
  }

  const mask = new Uint8Array(length);
  let pos = 0;
  for (let i = 0; i < rle.length; i += 2) {
    const run = rle[i + 1];
    if (!Number.isInteger(run) || run <= 0 || pos + run > length) {
      throw new RangeError(`rle run ${i / 2} (${run}) does not fit a mask of ${length} pixels`);
    }
    mask.fill(rle[i], pos, pos + run);
    pos += run;
  }

  if (pos !== length) {
    throw new RangeError(`rle covers ${pos} pixels, expected ${length}`);
  }
  return mask;
}
