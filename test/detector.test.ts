import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Builder } from 'flatbuffers';
import sharp from 'sharp';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { FaceDetector } from '../src/pipeline/detector/face-detector.js';
import { withNormalizationMetadata } from '../src/pipeline/detector/tflite-metadata.js';
import type { Box, Detection, Frame } from '../src/pipeline/types.js';

const ASTRONAUT = 'samples/astronaut.jpg';
const HOPPER = 'samples/grace_hopper.jpg';
/** Where the faces are in the 384x384 and 384x450 portraits, measured by eye. */
const ASTRONAUT_FACE = { cx: 169, cy: 92, size: 78 };
const HOPPER_FACE = { cx: 197, cy: 169, size: 150 };

const require = createRequire(import.meta.url);
const SHORT_MODEL = require.resolve('@mediapipe/face_detection/face_detection_short_range.tflite');

describe('FaceDetector with the full-range model', () => {
  let detector: FaceDetector;
  before(async () => {
    detector = await FaceDetector.create();
  });
  after(() => detector.close());

  it("finds the astronaut's face where it is", async () => {
    const faces = await detector.detect(await frameOf(sharp(ASTRONAUT)));
    assert.equal(faces.length, 1);
    assertFaceAt(faces[0], ASTRONAUT_FACE);
  });

  it("finds Grace Hopper's face where it is", async () => {
    const faces = await detector.detect(await frameOf(sharp(HOPPER)));
    assert.equal(faces.length, 1);
    assertFaceAt(faces[0], HOPPER_FACE);
  });

  it('finds no face in a blank frame', async () => {
    assert.deepEqual(await detector.detect(blankFrame(640, 480)), []);
  });

  it('finds both faces when the two portraits stand side by side', async () => {
    const faces = await detector.detect(await portraitPair());
    assert.equal(faces.length, 2);
    const [left, right] = [...faces].sort((a, b) => a.box.x - b.box.x);
    assert.ok(left.box.x + left.box.width < 384, 'one face in the left portrait');
    assert.ok(right.box.x > 384, 'one face in the right portrait');
  });

  it('clips the box of a face cut by the left edge and keeps it on the face', async () => {
    // Cropping 150 px leaves the face from -20 to 58 px.
    const frame = await frameOf(sharp(ASTRONAUT).extract(crop(150, 0, 234, 384)));
    const [face] = await detector.detect(frame);
    assert.equal(face.box.x, 0);
    assertNear(face.box.x + face.box.width, 58, 12, 'right edge');
    assertInside(face.box, frame);
  });

  it('clips the box of a face cut by the top edge and keeps it on the face', async () => {
    // Cropping 70 px leaves the face from -17 to 61 px.
    const frame = await frameOf(sharp(ASTRONAUT).extract(crop(0, 70, 384, 314)));
    const [face] = await detector.detect(frame);
    assert.equal(face.box.y, 0);
    assertNear(face.box.y + face.box.height, 61, 12, 'bottom edge');
    assertInside(face.box, frame);
  });

  it('clips the box of a face cut by the right and bottom edges to the frame', async () => {
    // The face reaches 208 px right and 131 px down.
    const frame = await frameOf(sharp(ASTRONAUT).extract(crop(0, 0, 195, 125)));
    const [face] = await detector.detect(frame);
    assert.equal(face.box.x + face.box.width, 195);
    assert.equal(face.box.y + face.box.height, 125);
    assertNear(face.box.x, 130, 12, 'left edge');
  });

  it('answers overlapping calls each with the faces of its own frame', async () => {
    const astronaut = await frameOf(sharp(ASTRONAUT));
    const hopper = await frameOf(sharp(HOPPER));
    const blank = blankFrame(320, 240);
    const frames = [astronaut, hopper, blank, hopper, astronaut, blank];

    const answers = await Promise.all(frames.map((frame) => detector.detect(frame)));
    assert.deepEqual(
      answers.map((faces) => faces.length),
      [1, 1, 0, 1, 1, 0],
    );
    assertFaceAt(answers[3][0], HOPPER_FACE);
    assertFaceAt(answers[4][0], ASTRONAUT_FACE);
  });

  it('rejects a frame whose data does not match its size with a RangeError', async () => {
    const frame = { ...blankFrame(64, 48), width: 65 };
    await assert.rejects(detector.detect(frame), RangeError);
  });
});

describe('FaceDetector with the short-range model', () => {
  it('finds the face in each portrait', async () => {
    const detector = await FaceDetector.create({ range: 'short' });
    try {
      const astronaut = await detector.detect(await frameOf(sharp(ASTRONAUT)));
      const hopper = await detector.detect(await frameOf(sharp(HOPPER)));
      assert.equal(astronaut.length, 1);
      assertFaceAt(astronaut[0], ASTRONAUT_FACE);
      assert.equal(hopper.length, 1);
      assertFaceAt(hopper[0], HOPPER_FACE);
    } finally {
      await detector.close();
    }
  });
});

describe('FaceDetector options', () => {
  it('keeps only the strongest faces with maxFaces', async () => {
    const detector = await FaceDetector.create({ maxFaces: 1 });
    try {
      const faces = await detector.detect(await portraitPair());
      assert.equal(faces.length, 1);
      assert.ok(faces[0].box.x > 384, 'the stronger face is Grace Hopper, on the right');
    } finally {
      await detector.close();
    }
  });

  it('drops faces scored under minScore', async () => {
    const detector = await FaceDetector.create({ minScore: 0.99 });
    try {
      assert.deepEqual(await detector.detect(await frameOf(sharp(HOPPER))), []);
    } finally {
      await detector.close();
    }
  });

  for (const [name, options] of [
    ['an unknown range', { range: 'medium' as 'full' }],
    ['a minScore above 1', { minScore: 1.5 }],
    ['a negative minScore', { minScore: -0.1 }],
    ['a maxFaces of 0', { maxFaces: 0 }],
    ['a fractional maxFaces', { maxFaces: 2.5 }],
  ] as const) {
    it(`refuses ${name} with a RangeError`, async () => {
      await assert.rejects(FaceDetector.create(options), RangeError);
    });
  }
});

describe('Two FaceDetectors', () => {
  it('work in parallel, each giving what it gives alone', async () => {
    const [first, second] = await Promise.all([FaceDetector.create(), FaceDetector.create()]);
    try {
      assert.notEqual(first.threadId, second.threadId);
      const astronaut = await frameOf(sharp(ASTRONAUT));
      const hopper = await frameOf(sharp(HOPPER));
      const alone = [await first.detect(astronaut), await second.detect(hopper)];

      const together = await Promise.all([
        ...[1, 2, 3].map(() => first.detect(astronaut)),
        ...[1, 2, 3].map(() => second.detect(hopper)),
      ]);
      for (const faces of together.slice(0, 3)) assert.deepEqual(faces, alone[0]);
      for (const faces of together.slice(3)) assert.deepEqual(faces, alone[1]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

describe('FaceDetector.close', () => {
  it('answers the calls made before it, then ends the worker', async () => {
    const detector = await FaceDetector.create({ range: 'short' });
    assert.ok(detector.threadId > 0);

    const pending = detector.detect(await frameOf(sharp(ASTRONAUT)));
    await detector.close();
    assert.equal((await pending).length, 1);
    assert.equal(detector.threadId, -1);
  });

  it('makes later calls fail with the detector error code, and may be called again', async () => {
    const detector = await FaceDetector.create({ range: 'short' });
    await detector.close();

    await assert.rejects(detector.detect(blankFrame(64, 48)), hasCode(ErrorCodes.DETECTOR_FAILED));
    await detector.close();
  });
});

describe('FaceDetector.create with a bad model', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fxs-detector-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const writeModel = async (name: string, bytes: Uint8Array): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  };

  it('fails with the detector error code when the file does not exist', async () => {
    const create = FaceDetector.create({ modelPath: join(dir, 'missing.tflite') });
    await assert.rejects(create, hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when the path is a folder', async () => {
    const create = FaceDetector.create({ modelPath: dir });
    await assert.rejects(create, hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when the file is empty', async () => {
    const modelPath = await writeModel('empty.tflite', new Uint8Array(0));
    await assert.rejects(FaceDetector.create({ modelPath }), hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when the file is not a TFLite model', async () => {
    const modelPath = await writeModel('photo.tflite', await readFile(ASTRONAUT));
    await assert.rejects(FaceDetector.create({ modelPath }), hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when the model is cut short', async () => {
    const model = await readFile(SHORT_MODEL);
    const modelPath = await writeModel('half.tflite', model.subarray(0, model.length / 2));
    await assert.rejects(FaceDetector.create({ modelPath }), hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when the model tables are damaged', async () => {
    const model = Buffer.from(await readFile(SHORT_MODEL));
    for (let i = 0x30; i < 0x400; i++) model[i] ^= 0x5a;
    const modelPath = await writeModel('damaged.tflite', model);
    await assert.rejects(FaceDetector.create({ modelPath }), hasCode(ErrorCodes.DETECTOR_FAILED));
  });

  it('fails with the detector error code when MediaPipe refuses the model', async () => {
    const modelPath = await writeModel('no-subgraphs.tflite', modelWithoutSubgraphs());
    await assert.rejects(FaceDetector.create({ modelPath }), hasCode(ErrorCodes.DETECTOR_FAILED));
  });
});

describe('withNormalizationMetadata', () => {
  it('keeps the original model intact and aligned inside the patched one', async () => {
    const model = await readFile(SHORT_MODEL);
    const patched = withNormalizationMetadata(model, { mean: [127.5], std: [127.5] });

    assert.equal(Buffer.from(patched.subarray(4, 8)).toString('latin1'), 'TFL3');
    const at = Buffer.from(patched).indexOf(model);
    assert.ok(at > 0, 'the original bytes follow the new tables');
    assert.equal(at % 16, 0);
    assert.ok(patched.length < model.length + 2048);
  });

  it('leaves a model that already has metadata as it is', async () => {
    const once = withNormalizationMetadata(await readFile(SHORT_MODEL), { mean: [0], std: [1] });
    assert.equal(withNormalizationMetadata(once, { mean: [0], std: [1] }), once);
  });
});

async function frameOf(image: sharp.Sharp): Promise<Frame> {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  return { sourceId: 'test', index: 0, timestampMs: 0, width, height, data, decodedAt: 0 };
}

function blankFrame(width: number, height: number): Frame {
  const data = Buffer.alloc(width * height * 3, 200);
  return { sourceId: 'test', index: 0, timestampMs: 0, width, height, data, decodedAt: 0 };
}

/** The astronaut (stretched to 384x450) on the left, Grace Hopper on the right. */
async function portraitPair(): Promise<Frame> {
  const left = sharp(ASTRONAUT).resize(384, 450, { fit: 'fill' }).extend({ right: 384 });
  const canvas = sharp(await left.png().toBuffer());
  return frameOf(canvas.composite([{ input: HOPPER, left: 384, top: 0 }]));
}

function crop(left: number, top: number, width: number, height: number) {
  return { left, top, width, height };
}

function assertFaceAt(face: Detection, expected: { cx: number; cy: number; size: number }): void {
  const { box } = face;
  const tolerance = expected.size / 5;
  assertNear(box.x + box.width / 2, expected.cx, tolerance, 'box centre x');
  assertNear(box.y + box.height / 2, expected.cy, tolerance, 'box centre y');
  assertNear(box.width, expected.size, tolerance, 'box width');
  assert.ok(face.score > 0.5 && face.score <= 1, `score ${face.score}`);

  assert.equal(face.keypoints?.length, 6);
  const [rightEye, leftEye, nose, mouth] = face.keypoints!;
  assert.ok(rightEye.x < leftEye.x, "the subject's right eye is on the image's left");
  assert.ok(nose.y > rightEye.y && mouth.y > nose.y, 'eyes, then nose, then mouth');
  for (const { x, y } of [rightEye, leftEye, nose, mouth]) {
    assertInside({ x, y, width: 0, height: 0 }, box);
  }
}

function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);
}

/** `outer` is a box, or a frame (which starts at 0, 0). */
function assertInside(inner: Box, outer: Partial<Box> & { width: number; height: number }) {
  const { x = 0, y = 0 } = outer;
  const where = JSON.stringify(inner);
  assert.ok(inner.x >= x && inner.y >= y, `${where} starts inside`);
  assert.ok(inner.x + inner.width <= x + outer.width, `${where} ends inside in x`);
  assert.ok(inner.y + inner.height <= y + outer.height, `${where} ends inside in y`);
}

function hasCode(code: string) {
  return (err: unknown) => isFxsError(err) && err.code === code;
}

/** A well-formed TFLite flatbuffer with one empty buffer and no subgraphs. */
function modelWithoutSubgraphs(): Uint8Array {
  const b = new Builder(64);
  b.startObject(1);
  const emptyBuffer = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(emptyBuffer);
  const buffers = b.endVector();
  b.startObject(8);
  b.addFieldInt32(0, 3, 0);
  b.addFieldOffset(4, buffers, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array();
}
