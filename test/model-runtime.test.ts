import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ErrorCodes, isFxsError, type ErrorCode } from '../src/common/errors.js';
import type { ModelMetadata, TaskName } from '../src/model/contract.js';
import { cropFace } from '../src/model/crop.js';
import { decodeFace } from '../src/model/decode.js';
import { parseDeviceRequest, planDevices, type Device } from '../src/model/device.js';
import { FaceBatcher, type BatchClock } from '../src/model/face-batcher.js';
import { ModelRunner, type BatchEvent } from '../src/model/model-runner.js';
import {
  getModelMetadata,
  readModelMetadata,
  readOnnxModel,
  setModelMetadata,
  writeOnnxModel,
} from '../src/model/onnx-file.js';
import { OFFICIAL_MODEL_FILE, resolveModel } from '../src/model/resolve.js';
import { ModelSession } from '../src/model/session.js';
import type { Frame } from '../src/pipeline/types.js';

const TINY = 'test/fixtures/tiny/model.onnx';
let dir: string;
/** The tiny model with metadata that declares only landmarks and age. */
let subsetModel: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fxs-runtime-'));
  const model = await readOnnxModel(TINY);
  const metadata = getModelMetadata(model, TINY);
  setModelMetadata(model, { ...metadata, name: 'tiny-subset', tasks: ['landmarks', 'age'] });
  subsetModel = join(dir, 'subset.onnx');
  await writeOnnxModel(subsetModel, model);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 320x240 frame with a gradient, so crops differ from face to face. */
function frame(sourceId = 'cam', index = 0): Frame {
  const width = 320;
  const height = 240;
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = (i % width) % 256;
    data[i * 3 + 1] = Math.floor(i / width) % 256;
    data[i * 3 + 2] = (i * 7) % 256;
  }
  return { sourceId, index, timestampMs: index * 40, width, height, data, decodedAt: Date.now() };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isFxsError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

function sessionOptions(modelPath = TINY): {
  modelPath: string;
  threads: number;
  optimizedCacheDir: string;
} {
  return { modelPath, threads: 1, optimizedCacheDir: join(dir, 'ort') };
}

describe('ModelSession', () => {
  it('reproduces the reference outputs of the tiny model', async () => {
    const session = await ModelSession.create({ ...sessionOptions(), device: 'cpu' });
    try {
      const input = new Float32Array(
        (await readFile('test/fixtures/tiny/input.bin')).buffer.slice(0),
      );
      const out = await session.run(input, 1, ['landmarks', 'race']);
      for (const name of ['landmarks', 'race']) {
        const expected = new Float32Array(
          (await readFile(`test/fixtures/tiny/expected/${name}.bin`)).buffer.slice(0),
        );
        const diff = Math.max(...out[name].map((v, i) => Math.abs(v - expected[i])));
        assert.ok(diff < 1e-4, `${name} differs by ${diff}`);
      }
    } finally {
      await session.close();
    }
  });

  it('fetches only the requested outputs', async () => {
    const session = await ModelSession.create({ ...sessionOptions(), device: 'cpu' });
    try {
      const out = await session.run(new Float32Array(2 * 3 * 224 * 224), 2, ['landmarks', 'age']);
      assert.deepEqual(Object.keys(out).sort(), ['age', 'landmarks']);
      assert.equal(out.landmarks.length, 2 * 136);
      assert.equal(out.age.length, 2 * 8);
    } finally {
      await session.close();
    }
  });

  it('maps tasks to outputs without the tasks the model lacks', async () => {
    const session = await ModelSession.create({ ...sessionOptions(subsetModel), device: 'cpu' });
    try {
      assert.deepEqual(session.outputsFor(['parsing', 'age', 'landmarks', 'age']), [
        'age',
        'landmarks',
      ]);
    } finally {
      await session.close();
    }
  });

  it('loads the optimized model from its cache on the second start', async () => {
    const optimizedCacheDir = join(dir, 'ort-cache-test');
    const first = await ModelSession.create({
      ...sessionOptions(),
      optimizedCacheDir,
      device: 'cpu',
    });
    const second = await ModelSession.create({
      ...sessionOptions(),
      optimizedCacheDir,
      device: 'cpu',
    });
    try {
      assert.equal(first.start.cacheHit, false);
      assert.equal(second.start.cacheHit, true);
      assert.equal(second.start.optimizedPath, first.start.optimizedPath);
      const input = new Float32Array(3 * 224 * 224).fill(0.3);
      const a = await first.run(input, 1, ['headpose']);
      const b = await second.run(input, 1, ['headpose']);
      a.headpose.forEach((v, i) => assert.ok(Math.abs(v - b.headpose[i]) < 1e-5));
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('falls back to CPU with one warning when CUDA is requested but not installed', async () => {
    const session = await ModelSession.create({
      ...sessionOptions(),
      device: 'cuda',
      providers: new Set<Device>(['cpu']),
    });
    try {
      assert.equal(session.device, 'cpu');
      assert.equal(session.warnings.length, 1);
      assert.match(session.warnings[0], /cuda/);
    } finally {
      await session.close();
    }
  });

  it('falls back to CPU with one warning when the CUDA provider fails to load', async () => {
    // Claims CUDA is installed; on a machine without its libraries ORT fails to load it.
    const session = await ModelSession.create({
      modelPath: TINY,
      optimizedCacheDir: false,
      device: 'cuda',
      providers: new Set<Device>(['cpu', 'cuda']),
    });
    try {
      if (session.device === 'cuda') return; // a real GPU host: nothing to fall back from
      assert.equal(session.device, 'cpu');
      assert.equal(session.warnings.length, 1);
      assert.match(session.warnings[0], /cuda/);
    } finally {
      await session.close();
    }
  });

  it('runs on CPU without a warning when auto finds no GPU provider', async () => {
    const session = await ModelSession.create({
      ...sessionOptions(),
      device: 'auto',
      providers: new Set<Device>(['cpu']),
    });
    try {
      assert.equal(session.device, 'cpu');
      assert.deepEqual(session.warnings, []);
      assert.match(session.start.deviceReason, /auto/);
    } finally {
      await session.close();
    }
  });

  it('rejects a negative thread count', async () => {
    await rejectsWith(
      ModelSession.create({ ...sessionOptions(), threads: -1 }),
      ErrorCodes.CONFIG_INVALID,
    );
  });

  it('rejects a missing model file', async () => {
    await rejectsWith(
      ModelSession.create(sessionOptions(join(dir, 'nope.onnx'))),
      ErrorCodes.MODEL_NOT_FOUND,
    );
  });

  it('rejects a file that is not ONNX', async () => {
    const path = join(dir, 'text.onnx');
    await writeFile(path, 'this is not a model\n'.repeat(50));
    await rejectsWith(ModelSession.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });

  it('rejects an empty file', async () => {
    const path = join(dir, 'empty.onnx');
    await writeFile(path, '');
    await rejectsWith(ModelSession.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });

  it('rejects an ONNX model without facexstream metadata', async () => {
    const model = await readOnnxModel(TINY);
    model.metadataProps = [];
    const path = join(dir, 'no-metadata.onnx');
    await writeOnnxModel(path, model);
    await rejectsWith(ModelSession.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });

  it('rejects metadata that fails the schema', async () => {
    const model = await readOnnxModel(TINY);
    model.metadataProps = [{ key: 'facexstream', value: JSON.stringify({ schema: 1, name: 'x' }) }];
    const path = join(dir, 'bad-metadata.onnx');
    await writeOnnxModel(path, model);
    await rejectsWith(ModelSession.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });

  it('rejects a model whose metadata promises an output the graph lacks', async () => {
    const model = await readOnnxModel(TINY);
    model.graph!.output = model.graph!.output!.filter((o) => o.name !== 'race');
    const path = join(dir, 'no-race.onnx');
    await writeOnnxModel(path, model);
    await rejectsWith(ModelSession.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });
});

describe('onnx-file', () => {
  it('re-encodes a model byte for byte', async () => {
    const original = await readFile(TINY);
    const path = join(dir, 'copy.onnx');
    await writeOnnxModel(path, await readOnnxModel(TINY));
    assert.deepEqual(await readFile(path), original);
  });

  it('replaces the metadata entry and keeps other entries', async () => {
    const model = await readOnnxModel(TINY);
    model.metadataProps = [...(model.metadataProps ?? []), { key: 'other', value: 'kept' }];
    const metadata = getModelMetadata(model, TINY);
    setModelMetadata(model, { ...metadata, name: 'renamed' });
    const path = join(dir, 'renamed.onnx');
    await writeOnnxModel(path, model);

    assert.equal((await readModelMetadata(path)).name, 'renamed');
    const keys = (await readOnnxModel(path)).metadataProps?.map((p) => p.key);
    assert.deepEqual(keys?.sort(), ['facexstream', 'other']);
  });

  it('refuses to write invalid metadata', async () => {
    const model = await readOnnxModel(TINY);
    const bad = {
      ...getModelMetadata(model, TINY),
      tasks: ['telepathy'],
    } as unknown as ModelMetadata;
    assert.throws(
      () => setModelMetadata(model, bad),
      (err: unknown) => isFxsError(err, ErrorCodes.MODEL_INVALID),
    );
  });
});

describe('ModelRunner', () => {
  let runner: ModelRunner;
  let subset: ModelRunner;
  const events: BatchEvent[] = [];

  before(async () => {
    runner = await ModelRunner.create({
      ...sessionOptions(),
      device: 'cpu',
      maxBatch: 4,
      maxWaitMs: 200,
    });
    subset = await ModelRunner.create({
      ...sessionOptions(subsetModel),
      device: 'cpu',
      maxWaitMs: 0,
    });
    runner.on('batch', (e) => events.push(e));
  });

  after(async () => {
    await runner?.close();
    await subset?.close();
  });

  it('reports the model metadata and the device it chose', () => {
    assert.equal(runner.metadata.name, 'facexformer-tiny');
    assert.equal(runner.device, 'cpu');
    assert.deepEqual(runner.warnings, []);
  });

  it('runs faces from different callers and frames as one model call', async () => {
    events.length = 0;
    const before = runner.stats.batches;
    const results = await Promise.all([
      runner.analyze(frame('a', 0), [
        { box: { x: 20, y: 20, width: 60, height: 70 }, tasks: ['landmarks'] },
        { box: { x: 150, y: 40, width: 50, height: 60 }, tasks: ['age'] },
      ]),
      runner.analyze(frame('b', 7), [
        { box: { x: 200, y: 100, width: 80, height: 90 }, tasks: ['headPose'] },
      ]),
    ]);

    assert.equal(runner.stats.batches - before, 1);
    assert.equal(events.length, 1);
    assert.equal(events[0].faces, 3);
    assert.equal(events[0].requests, 2);
    assert.deepEqual(events[0].outputs.sort(), ['age', 'headpose', 'landmarks']);
    assert.deepEqual(
      results.map((r) => r.map((f) => Object.keys(f))),
      [[['landmarks'], ['age']], [['headPose']]],
    );
  });

  it('splits a crowd into calls of at most maxBatch faces', async () => {
    events.length = 0;
    const faces = Array.from({ length: 10 }, (_, i) => ({
      box: { x: 10 + i * 25, y: 50, width: 24, height: 30 },
      tasks: ['gender'] as TaskName[],
    }));
    const results = await runner.analyze(frame(), faces);
    assert.equal(results.length, 10);
    assert.deepEqual(
      events.map((e) => e.faces),
      [4, 4, 2],
    );
    assert.ok(results.every((r) => r.gender && ['male', 'female'].includes(r.gender.label)));
  });

  it('returns what cropping, running and decoding on the main thread return', async () => {
    const f = frame();
    const box = { x: 100, y: 60, width: 90, height: 100 };
    const tasks: TaskName[] = ['landmarks', 'parsing', 'attributes', 'race', 'visibility'];
    const [fromRunner] = await runner.analyze(f, [{ box, tasks }]);

    const session = await ModelSession.create({ ...sessionOptions(), device: 'cpu' });
    try {
      const input = new Float32Array(3 * 224 * 224);
      const crop = cropFace(f, box, input);
      const tensors = await session.run(input, 1, session.outputsFor(tasks));
      const direct = decodeFace({ size: 1, tensors }, { index: 0, crop, tasks }, session.metadata);
      assert.deepEqual(fromRunner, direct);
      assert.deepEqual(fromRunner.parsing?.box, crop);
    } finally {
      await session.close();
    }
  });

  it('never decodes or returns tasks the model does not support', async () => {
    const events: BatchEvent[] = [];
    subset.on('batch', (e) => events.push(e));
    const [face] = await subset.analyze(frame(), [
      {
        box: { x: 50, y: 50, width: 80, height: 80 },
        tasks: ['parsing', 'landmarks', 'race', 'age'],
      },
    ]);
    assert.deepEqual(Object.keys(face).sort(), ['age', 'landmarks']);
    assert.deepEqual(events[0].outputs.sort(), ['age', 'landmarks']);
  });

  it('answers a face that asks only for unsupported tasks without running the model', async () => {
    const before = subset.stats.batches;
    const [face] = await subset.analyze(frame(), [
      { box: { x: 50, y: 50, width: 80, height: 80 }, tasks: ['parsing', 'race'] },
    ]);
    assert.deepEqual(face, {});
    assert.equal(subset.stats.batches, before);
  });

  it('runs a raw tensor and returns only the named outputs', async () => {
    const out = await runner.inferRaw(new Float32Array(2 * 3 * 224 * 224), 2, ['race']);
    assert.deepEqual(Object.keys(out), ['race']);
    assert.equal(out.race.length, 10);
  });

  it('rejects a missing model before starting a session', async () => {
    await rejectsWith(
      ModelRunner.create(sessionOptions(join(dir, 'missing.onnx'))),
      ErrorCodes.MODEL_NOT_FOUND,
    );
  });

  it('rejects a file that is not ONNX', async () => {
    const path = join(dir, 'garbage.onnx');
    await writeFile(path, Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0x42, 0x99, 0x01]));
    await rejectsWith(ModelRunner.create(sessionOptions(path)), ErrorCodes.MODEL_INVALID);
  });

  it('rejects a maxBatch below one', async () => {
    await rejectsWith(
      ModelRunner.create({ ...sessionOptions(), maxBatch: 0 }),
      ErrorCodes.CONFIG_INVALID,
    );
  });

  it('rejects work after it is closed', async () => {
    const closing = await ModelRunner.create({ ...sessionOptions(), device: 'cpu' });
    await closing.close();
    await assert.rejects(
      closing.analyze(frame(), [{ box: { x: 1, y: 1, width: 9, height: 9 }, tasks: ['age'] }]),
    );
  });
});

describe('FaceBatcher', () => {
  /** A clock that moves only when told to. */
  class ManualClock implements BatchClock {
    time = 0;
    private timers: Array<{ at: number; fn: () => void; id: number }> = [];
    private ids = 0;
    now(): number {
      return this.time;
    }
    setTimeout(fn: () => void, ms: number): unknown {
      const id = ++this.ids;
      this.timers.push({ at: this.time + ms, fn, id });
      return id;
    }
    clearTimeout(handle: unknown): void {
      this.timers = this.timers.filter((t) => t.id !== handle);
    }
    advance(ms: number): void {
      this.time += ms;
      const due = this.timers.filter((t) => t.at <= this.time);
      this.timers = this.timers.filter((t) => t.at > this.time);
      due.forEach((t) => t.fn());
    }
  }

  function harness(options: { maxBatch: number; maxWaitMs: number }) {
    const clock = new ManualClock();
    const batches: number[][] = [];
    const finish: Array<() => void> = [];
    const batcher = new FaceBatcher<number>(
      (items) => {
        batches.push(items);
        return new Promise<void>((resolve) => finish.push(resolve));
      },
      { ...options, clock },
    );
    return { clock, batches, finish, batcher };
  }

  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('waits maxWaitMs for more faces before sending a partial batch', () => {
    const { clock, batches, batcher } = harness({ maxBatch: 4, maxWaitMs: 5 });
    batcher.push(1);
    clock.advance(3);
    batcher.push(2);
    assert.deepEqual(batches, []);
    clock.advance(2);
    assert.deepEqual(batches, [[1, 2]]);
  });

  it('sends a full batch at once', () => {
    const { batches, batcher } = harness({ maxBatch: 3, maxWaitMs: 100 });
    batcher.pushAll([1, 2, 3, 4]);
    assert.deepEqual(batches, [[1, 2, 3]]);
    assert.equal(batcher.queued, 1);
  });

  it('collects faces while the model is busy and sends them when it is free', async () => {
    const { clock, batches, finish, batcher } = harness({ maxBatch: 8, maxWaitMs: 5 });
    batcher.push(1);
    clock.advance(5);
    batcher.pushAll([2, 3]);
    clock.advance(10);
    batcher.push(4);
    assert.deepEqual(batches, [[1]]);

    finish[0]();
    await settle();
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
  });

  it('flush sends everything queued without waiting', () => {
    const { batches, batcher } = harness({ maxBatch: 8, maxWaitMs: 1000 });
    batcher.pushAll([1, 2]);
    batcher.flush();
    assert.deepEqual(batches, [[1, 2]]);
  });

  it('rejects a maxBatch below one', () => {
    assert.throws(() => new FaceBatcher(async () => {}, { maxBatch: 0 }), RangeError);
  });
});

describe('device selection', () => {
  const none = new Set<Device>(['cpu']);
  const cuda = new Set<Device>(['cpu', 'cuda', 'tensorrt']);

  it('auto picks CUDA when its provider is installed, CPU otherwise', () => {
    assert.deepEqual(planDevices('auto', cuda).attempts, ['cuda', 'cpu']);
    assert.deepEqual(planDevices('auto', none).attempts, ['cpu']);
    assert.equal(planDevices('auto', none).warning, undefined);
  });

  it('warns once when a requested GPU provider is not installed', () => {
    const plan = planDevices('tensorrt', none);
    assert.deepEqual(plan.attempts, ['cpu']);
    assert.match(plan.warning ?? '', /tensorrt/);
  });

  it('tries TensorRT, then CUDA, then CPU', () => {
    assert.deepEqual(planDevices('tensorrt', cuda).attempts, ['tensorrt', 'cuda', 'cpu']);
  });

  it('rejects an unknown --device value', () => {
    assert.throws(
      () => parseDeviceRequest('tpu'),
      (err: unknown) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
    );
  });
});

describe('resolveModel', () => {
  it('uses the official model when it is installed', async () => {
    const cacheDir = join(dir, 'cache-with-official');
    await import('node:fs/promises').then((fs) => fs.mkdir(cacheDir, { recursive: true }));
    await copyFile(TINY, join(cacheDir, OFFICIAL_MODEL_FILE));
    const resolved = await resolveModel({ cacheDir, embeddedPath: subsetModel });
    assert.equal(resolved.kind, 'official');
    assert.equal(resolved.path, join(cacheDir, OFFICIAL_MODEL_FILE));
  });

  it('falls back to the embedded model and says how to get the official one', async () => {
    const resolved = await resolveModel({
      cacheDir: join(dir, 'empty-cache'),
      embeddedPath: subsetModel,
    });
    assert.equal(resolved.kind, 'embedded');
    assert.equal(resolved.metadata.name, 'tiny-subset');
    assert.match(resolved.reason, /model pull/);
  });

  it('takes a path', async () => {
    const resolved = await resolveModel({ model: TINY });
    assert.equal(resolved.kind, 'path');
    assert.equal(resolved.metadata.name, 'facexformer-tiny');
  });

  it('rejects official when it is not installed', async () => {
    await rejectsWith(
      resolveModel({ model: 'official', cacheDir: join(dir, 'empty-cache') }),
      ErrorCodes.MODEL_NOT_FOUND,
    );
  });

  it('rejects a missing embedded model', async () => {
    await rejectsWith(
      resolveModel({ model: 'embedded', embeddedPath: join(dir, 'gone.onnx') }),
      ErrorCodes.MODEL_NOT_FOUND,
    );
  });

  it('rejects a missing path', async () => {
    await rejectsWith(resolveModel({ model: join(dir, 'gone.onnx') }), ErrorCodes.MODEL_NOT_FOUND);
  });

  it('rejects a path that is not a model', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'hello');
    await rejectsWith(resolveModel({ model: path }), ErrorCodes.MODEL_INVALID);
  });
});
