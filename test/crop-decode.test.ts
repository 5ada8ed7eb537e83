import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  GENDER_LABELS,
  IMAGENET_MEAN,
  IMAGENET_STD,
  PARSING_LABELS,
  TASKS,
  type ModelMetadata,
} from '../src/model/contract.js';
import {
  cropBox,
  cropFace,
  extractRegion,
  normalizeCrop,
  resizeBicubic,
} from '../src/model/crop.js';
import {
  classify,
  decodeFace,
  headPoseDegrees,
  landmarksToFrame,
  landmarksToModel,
  softmax,
} from '../src/model/decode.js';
import { decodeMaskRle, encodeMaskRle } from '../src/model/mask-rle.js';
import { contractLabels } from './helpers/contract-labels.js';

/** RGB test pattern: channel c of pixel (x, y) is (29x + 53y + 71c) mod 256. */
function pattern(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x * 29 + y * 53 + c * 71) % 256;
    }
  }
  return data;
}

const metadata: ModelMetadata = {
  schema: 1,
  name: 'test',
  tasks: [...TASKS],
  labels: contractLabels(),
  inputSize: 4,
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
  cropMargin: 0.5,
  parameters: 1,
  provenance: { source: 'test', license: 'MIT' },
};

describe('cropBox', () => {
  it('grows the box by a quarter of its width and height on each side', () => {
    assert.deepEqual(cropBox({ x: 100, y: 100, width: 100, height: 80 }, 640, 480), {
      x: 75,
      y: 80,
      width: 150,
      height: 120,
    });
  });

  it('clips the grown box to the frame on every side', () => {
    assert.deepEqual(cropBox({ x: 10, y: 5, width: 100, height: 100 }, 640, 480), {
      x: 0,
      y: 0,
      width: 135,
      height: 130,
    });
    assert.deepEqual(cropBox({ x: 150, y: 100, width: 60, height: 60 }, 200, 150), {
      x: 135,
      y: 85,
      width: 65,
      height: 65,
    });
  });

  it('truncates fractional corners to integers like the reference int()', () => {
    assert.deepEqual(cropBox({ x: 10.7, y: 20.2, width: 33.3, height: 40.9 }, 640, 480), {
      x: 2,
      y: 9,
      width: 50,
      height: 62,
    });
  });

  it('honours another margin', () => {
    assert.deepEqual(cropBox({ x: 100, y: 100, width: 100, height: 100 }, 640, 480, 0), {
      x: 100,
      y: 100,
      width: 100,
      height: 100,
    });
  });

  it('keeps one pixel inside the frame for a box wholly outside it', () => {
    const box = cropBox({ x: 700, y: 500, width: 20, height: 20 }, 640, 480);
    assert.deepEqual(box, { x: 639, y: 479, width: 1, height: 1 });
  });
});

describe('resizeBicubic', () => {
  it('shrinks a known pattern exactly as Pillow BICUBIC does (antialiased)', () => {
    const out = resizeBicubic({ width: 9, height: 7, data: pattern(9, 7) }, 4, 3);
    // Pillow 9.4: Image.fromarray(pattern(9, 7)).resize((4, 3), Image.BICUBIC)
    const pillow = [
      60, 141, 184, 131, 167, 118, 176, 122, 72, 107, 81, 146, 167, 114, 99, 147, 81, 130, 100, 124,
      170, 113, 155, 137, 81, 105, 170, 98, 176, 129, 165, 168, 84, 153, 89, 110,
    ];
    assert.deepEqual([...out.data], pillow);
  });

  it('enlarges a checkerboard exactly as Pillow does, clamping the overshoot to 0-255', () => {
    const board = new Uint8Array(27);
    for (let i = 0; i < 9; i++) board.fill(i % 2 === 0 ? 255 : 0, i * 3, i * 3 + 3);
    const out = resizeBicubic({ width: 3, height: 3, data: board }, 5, 5);
    const red = [...out.data].filter((_, i) => i % 3 === 0);
    const pillow = [
      255, 158, 0, 158, 255, 154, 133, 101, 133, 154, 0, 101, 255, 101, 0, 154, 133, 101, 133, 154,
      255, 158, 0, 158, 255,
    ];
    assert.deepEqual(red, pillow);
  });

  it('returns an identical copy when the size does not change', () => {
    const data = pattern(5, 4);
    const out = resizeBicubic({ width: 5, height: 4, data }, 5, 4);
    assert.deepEqual(out.data, data);
    assert.notEqual(out.data, data);
  });
});

describe('normalizeCrop', () => {
  it('writes CHW planes normalized with ImageNet mean and std', () => {
    const data = new Uint8Array(2 * 2 * 3);
    for (let i = 0; i < 4; i++) data.set([255, 124, 0], i * 3);
    const out = new Float32Array(3 * 4 * 4 + 5);
    normalizeCrop({ width: 2, height: 2, data }, out, 5, { size: 4 });

    assert.equal(out[4], 0);
    const expected = [255, 124, 0].map((v, c) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 16; i++) {
        assert.ok(Math.abs(out[5 + c * 16 + i] - expected[c]) < 1e-5, `channel ${c} pixel ${i}`);
      }
    }
  });

  it('crops the grown box out of the frame before resizing', () => {
    const frame = { width: 9, height: 7, data: pattern(9, 7) };
    const direct = new Float32Array(3 * 16);
    const viaFace = new Float32Array(3 * 16);
    const crop = cropFace(frame, { x: 3, y: 2, width: 4, height: 4 }, viaFace, 0, { size: 4 });

    assert.deepEqual(crop, { x: 2, y: 1, width: 6, height: 6 });
    normalizeCrop(extractRegion(frame, crop), direct, 0, { size: 4 });
    assert.deepEqual(viaFace, direct);
  });
});

describe('extractRegion', () => {
  it('copies exactly the rows and columns of the rectangle', () => {
    const frame = { width: 9, height: 7, data: pattern(9, 7) };
    const region = extractRegion(frame, { x: 2, y: 3, width: 3, height: 2 });
    const first = (3 * 9 + 2) * 3;
    const second = (4 * 9 + 2) * 3;
    assert.deepEqual(region.data.subarray(0, 9), frame.data.subarray(first, first + 9));
    assert.deepEqual(region.data.subarray(9, 18), frame.data.subarray(second, second + 9));
  });
});

describe('landmark decoding', () => {
  const crop = { x: 40, y: 30, width: 150, height: 180 };

  it('maps the model range [-1, 1] onto the crop box in pixel-centre coordinates', () => {
    const [topLeft, bottomRight] = landmarksToFrame([-1, -1, 1, 1], crop);
    assert.deepEqual(topLeft, [39.5, 29.5]);
    assert.deepEqual(bottomRight, [189.5, 209.5]);
  });

  it('agrees with the reference denormalization at 224 pixels when the crop is 224 wide', () => {
    const p = 0.3;
    const reference = ((p + 1) * 224 - 1) / 2;
    const [[x]] = landmarksToFrame([p, p], { x: 0, y: 0, width: 224, height: 224 });
    assert.ok(Math.abs(x - reference) < 0.01);
  });

  it('round-trips frame points through the model range', () => {
    const points: Array<[number, number]> = [
      [50.25, 60.5],
      [120, 200.75],
      [189.5, 29.5],
    ];
    const back = landmarksToFrame(landmarksToModel(points, crop), crop);
    back.forEach(([x, y], i) => {
      assert.ok(Math.abs(x - points[i][0]) < 0.006 && Math.abs(y - points[i][1]) < 0.006);
    });
  });
});

describe('mask run-length encoding', () => {
  it('encodes row-major runs as class/length pairs', () => {
    assert.deepEqual(encodeMaskRle([0, 0, 0, 1, 1, 10, 0]), [0, 3, 1, 2, 10, 1, 0, 1]);
    assert.deepEqual(encodeMaskRle([]), []);
  });

  it('round-trips a random mask', () => {
    const mask = new Uint8Array(224 * 224);
    let value = 0;
    for (let i = 0; i < mask.length; i++) {
      if ((i * 7919) % 97 === 0) value = (value + 3) % 11;
      mask[i] = value;
    }
    assert.deepEqual(decodeMaskRle(encodeMaskRle(mask), mask.length), mask);
  });

  it('rejects an odd-length encoding', () => {
    assert.throws(() => decodeMaskRle([0, 3, 1], 3), RangeError);
  });

  it('rejects runs that overflow the mask', () => {
    assert.throws(() => decodeMaskRle([0, 3, 1, 5], 4), RangeError);
  });

  it('rejects runs that leave the mask short', () => {
    assert.throws(() => decodeMaskRle([0, 2], 4), RangeError);
  });

  it('rejects a zero-length run', () => {
    assert.throws(() => decodeMaskRle([0, 0, 1, 4], 4), RangeError);
  });
});

describe('classification decoding', () => {
  it('turns logits into softmax probabilities that sum to one', () => {
    const p = softmax([1000, 1000 + Math.log(3)]);
    assert.ok(Math.abs(p[0] - 0.25) < 1e-12 && Math.abs(p[1] - 0.75) < 1e-12);
  });

  it('names the winning label with its probability and every label', () => {
    const result = classify([0, Math.log(3)], GENDER_LABELS);
    assert.deepEqual(result, { label: 'female', score: 0.75, probs: { male: 0.25, female: 0.75 } });
  });

  it('converts head pose from radians to degrees', () => {
    assert.deepEqual(headPoseDegrees([Math.PI / 2, -Math.PI / 4, 0]), {
      pitch: 90,
      yaw: -45,
      roll: 0,
    });
  });
});

describe('decodeFace', () => {
  /** Two faces' outputs: every tensor holds face 0's values, then face 1's. */
  function batch(): { size: number; tensors: Record<string, Float32Array> } {
    const parsing = new Float32Array(2 * 11 * 16);
    // Face 1: class 10 (hair) wins the first 4 pixels, class 1 (skin) the other 12.
    for (let i = 0; i < 16; i++) parsing[11 * 16 + (i < 4 ? 10 : 1) * 16 + i] = 5;
    const attributes = new Float32Array(80);
    attributes[40] = 2;
    attributes[41] = -2;
    return {
      size: 2,
      tensors: {
        landmarks: new Float32Array(272).fill(0),
        headpose: new Float32Array([0, 0, 0, Math.PI, 0, 0]),
        age: new Float32Array(16),
        attributes,
        parsing,
      },
    };
  }

  const crop = { x: 10, y: 20, width: 100, height: 100 };

  it('returns only the requested tasks', () => {
    const record = decodeFace(batch(), { index: 1, crop, tasks: ['headPose'] }, metadata);
    assert.deepEqual(Object.keys(record), ['headPose']);
    assert.equal(record.headPose?.pitch, 180);
  });

  it('skips tasks whose output was not fetched', () => {
    const record = decodeFace(batch(), { index: 0, crop, tasks: ['race', 'landmarks'] }, metadata);
    assert.deepEqual(Object.keys(record), ['landmarks']);
    assert.equal(record.landmarks?.length, 68);
    assert.deepEqual(record.landmarks?.[0], [59.5, 69.5]);
  });

  it("reads each face's own slice of the batch", () => {
    const record = decodeFace(batch(), { index: 1, crop, tasks: ['attributes'] }, metadata);
    assert.equal(record.attributes?.length, 40);
    assert.deepEqual(record.attributes?.[0], {
      name: '5_o_Clock_Shadow',
      prob: 0.8808,
      present: true,
    });
    assert.deepEqual(record.attributes?.[1], {
      name: 'Arched_Eyebrows',
      prob: 0.1192,
      present: false,
    });
    assert.equal(
      record.attributes?.[2].present,
      true,
      'a logit of 0 is a probability of 0.5: present',
    );
  });

  it('turns parsing logits into an argmax mask with per-class coverage', () => {
    const record = decodeFace(batch(), { index: 1, crop, tasks: ['parsing'] }, metadata);
    const parsing = record.parsing!;
    assert.deepEqual(parsing.box, crop);
    assert.equal(parsing.width, 4);
    assert.deepEqual(parsing.rle, [10, 4, 1, 12]);
    assert.deepEqual(parsing.coverage, { hair: 0.25, skin: 0.75 });
    assert.deepEqual(parsing.labels, [...PARSING_LABELS]);
  });
});
