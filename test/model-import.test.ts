import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import ort from 'onnxruntime-node';

import { ErrorCodes, FxsError, type ErrorCode } from '../src/common/errors.js';
import { OUTPUT_NAMES, TASKS, type ModelMetadata } from '../src/model/contract.js';
import { importCheckpoint, type ImportProgress } from '../src/model/checkpoint-import.js';
import { defaultTemplatePath } from '../src/model/checkpoint/default-template.js';
import { TEMPLATE_METADATA_KEY } from '../src/model/checkpoint/template-keys.js';
import { TorchCheckpoint } from '../src/model/checkpoint/torch-checkpoint.js';
import { readModelMetadata, readOnnxModel } from '../src/model/onnx-file.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TINY = join(ROOT, 'test', 'fixtures', 'tiny');
const SWIN_B_TEMPLATE = join(ROOT, 'models', 'templates', 'facexformer-swin-b.onnx');
const TOLERANCE = 1e-4;

interface Manifest {
  input: { file: string; shape: number[] };
  outputs: { name: string; file: string; shape: number[] }[];
}

interface Reference {
  input: ort.Tensor;
  expected: Map<string, Float32Array>;
}

let work: string;
let tiny: Reference;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'fxs-import-'));
  tiny = await loadReference(TINY);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('importCheckpoint', () => {
  test('reproduces the PyTorch outputs of the tiny checkpoint on every output', async () => {
    const out = await importTiny('checkpoint.pt');
    await assertMatches(out, tiny);
  });

  test('reads a checkpoint stored in float16 and converts it to float32', async () => {
    const out = await importTiny('checkpoint-fp16.pt');
    await assertMatches(out, tiny);
  });

  test('drops the module. prefix of a checkpoint saved from DataParallel', async () => {
    const out = await importTiny('checkpoint-module.pt');
    await assertMatches(out, tiny);
  });

  test("keeps the template's metadata and adds the checkpoint's sha256", async () => {
    const out = await importTiny('checkpoint.pt');

    const metadata = await readModelMetadata(out);
    const bytes = await readFile(join(TINY, 'checkpoint.pt'));
    assert.equal(metadata.name, 'facexformer-tiny');
    assert.deepEqual(metadata.tasks, [...TASKS]);
    assert.equal(metadata.provenance.sha256, createHash('sha256').update(bytes).digest('hex'));
    const model = await readOnnxModel(out);
    assert.equal(
      model.metadataProps?.some((p) => p.key === TEMPLATE_METADATA_KEY),
      false,
    );
  });

  test('writes the metadata it is given instead of the template one', async () => {
    const given: ModelMetadata = {
      ...(await readModelMetadata(join(TINY, 'model.onnx'))),
      name: 'my-finetune',
      tasks: ['landmarks', 'headPose'],
    };
    const out = await importTiny('checkpoint.pt', { metadata: given });

    const metadata = await readModelMetadata(out);
    assert.equal(metadata.name, 'my-finetune');
    assert.deepEqual(metadata.tasks, ['landmarks', 'headPose']);
    assert.match(metadata.provenance.sha256 ?? '', /^[0-9a-f]{64}$/);
  });

  test('reports progress through reading, every tensor converted, and writing', async () => {
    const seen: ImportProgress[] = [];
    await importTiny('checkpoint.pt', { onProgress: (p) => seen.push(p) });

    const converted = seen.filter((p) => p.stage === 'convert');
    assert.equal(converted.length, converted[0].total);
    assert.deepEqual(
      converted.map((p) => p.done),
      converted.map((_, i) => i + 1),
    );
    assert.deepEqual(seen[0], { stage: 'read', done: 0, total: 1 });
    assert.deepEqual(seen.at(-1), { stage: 'write', done: 1, total: 1 });
  });
});

describe('TorchCheckpoint', () => {
  let checkpoint: TorchCheckpoint;
  let described: Record<string, { shape: number[]; values: number[] }>;

  before(async () => {
    checkpoint = await TorchCheckpoint.open(join(TINY, 'dtypes.pt'));
    described = JSON.parse(await readFile(join(TINY, 'dtypes.json'), 'utf8'));
  });

  after(async () => {
    await checkpoint.close();
  });

  for (const dtype of ['float32', 'float16', 'bfloat16', 'float64']) {
    test(`reads a ${dtype} storage as float32`, async () => {
      const tensor = checkpoint.tensors.get(dtype);
      assert.ok(tensor);
      assert.equal(tensor.dtype, dtype);
      assert.deepEqual(tensor.shape, described[dtype].shape);
      const values = described[dtype].values.map((v) => Math.fround(v));
      assert.deepEqual([...(await checkpoint.readFloat32(tensor))], values);
    });
  }

  test('reads a view from its offset into a shared storage', async () => {
    const view = checkpoint.tensors.get('row_view');
    assert.ok(view);
    assert.equal(view.offset, 4);
    assert.equal(view.storage, checkpoint.tensors.get('float32')?.storage);
    assert.deepEqual([...(await checkpoint.readFloat32(view))], described.row_view.values);
  });

  test('lists integer tensors with their dtype but does not convert them', async () => {
    const ints = checkpoint.tensors.get('int64');
    assert.ok(ints);
    assert.equal(ints.dtype, 'int64');
    await assert.rejects(checkpoint.readFloat32(ints), TypeError);
  });

  test('refuses a transposed tensor, whose strides are not contiguous', async () => {
    const transposed = checkpoint.tensors.get('transposed');
    assert.ok(transposed);
    assert.deepEqual(transposed.stride, [1, 4]);
    await assert.rejects(checkpoint.readFloat32(transposed), {
      code: ErrorCodes.CHECKPOINT_UNREADABLE,
    });
  });
});

describe('defaultTemplatePath', () => {
  test('finds the Swin-B template shipped in models/templates', () => {
    assert.equal(defaultTemplatePath(), SWIN_B_TEMPLATE);
  });
});

describe('the tiny fixture model', () => {
  test('model.onnx gives the PyTorch outputs, so other tests can rely on it', async () => {
    await assertMatches(join(TINY, 'model.onnx'), tiny);
  });

  test('a batch of two identical faces gives the single-face outputs twice', async () => {
    const session = await ort.InferenceSession.create(join(TINY, 'model.onnx'));
    const one = tiny.input.data as Float32Array;
    const two = new Float32Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    const [, ...dims] = tiny.input.dims;

    const result = await session.run({ image: new ort.Tensor('float32', two, [2, ...dims]) });
    for (const name of OUTPUT_NAMES) {
      const expected = tiny.expected.get(name) as Float32Array;
      const data = result[name].data as Float32Array;
      assert.ok(maxAbsDiff(data.subarray(0, expected.length), expected) <= TOLERANCE, name);
      assert.ok(maxAbsDiff(data.subarray(expected.length), expected) <= TOLERANCE, name);
    }
  });
});

describe('importCheckpoint with a bad checkpoint', () => {
  test('a truncated zip is unreadable', async () => {
    const bytes = await readFile(join(TINY, 'checkpoint.pt'));
    const path = await scratch('truncated.pt', bytes.subarray(0, bytes.length >> 1));
    const err = await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
    assert.match(err.message, /cut short/);
  });

  test('a file that is not a zip is unreadable', async () => {
    const path = await scratch('notes.pt', Buffer.from('these are not weights\n'));
    await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
  });

  test('an empty file is unreadable', async () => {
    const path = await scratch('empty.pt', Buffer.alloc(0));
    await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
  });

  test('a missing file is unreadable', async () => {
    await assertImportFails(join(work, 'no-such-file.pt'), ErrorCodes.CHECKPOINT_UNREADABLE);
  });

  test('a legacy (pre-1.6) torch.save stream is unreadable, with a way out', async () => {
    const path = await scratch('legacy.pt', Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]));
    const err = await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
    assert.match(err.message, /legacy/);
  });

  test('a damaged pickle is unreadable', async () => {
    // 0xff is no pickle opcode; it replaces the EMPTY_DICT right after PROTO 2.
    const path = await patched(
      'bad-pickle.pt',
      Buffer.from([0x80, 0x02, 0x7d]),
      [0x80, 0x02, 0xff],
    );
    await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
  });

  test('a tensor with non-contiguous strides is unreadable', async () => {
    // backbone.0.0.0.weight is [8,3,4,4] with strides (48,16,4,1): BININT1 48 becomes 49.
    const strides = Buffer.from([0x28, 0x4b, 48, 0x4b, 16, 0x4b, 4, 0x4b, 1, 0x74]);
    const path = await patched(
      'strided.pt',
      strides,
      [0x28, 0x4b, 49, 0x4b, 16, 0x4b, 4, 0x4b, 1, 0x74],
    );
    const err = await assertImportFails(path, ErrorCodes.CHECKPOINT_UNREADABLE);
    assert.match(err.message, /not contiguous/);
  });

  test('a checkpoint missing a key the template needs does not match', async () => {
    const key = Buffer.from('linear_fuse.weight');
    const path = await patched('renamed.pt', key, [...Buffer.from('linear_fuse.weighs')]);
    const err = await assertImportFails(path, ErrorCodes.CHECKPOINT_MISMATCH);
    assert.match(err.message, /'linear_fuse\.weight' is missing/);
  });

  test('a checkpoint of another size does not match, naming the first wrong shape', async () => {
    const err = await assertImportFails(
      join(TINY, 'checkpoint.pt'),
      ErrorCodes.CHECKPOINT_MISMATCH,
      SWIN_B_TEMPLATE,
    );
    assert.match(
      err.message,
      /'backbone\.0\.0\.0\.weight' has shape \[8,3,4,4\], expected \[128,3,4,4\]/,
    );
  });

  test('a runnable model passed as the template is rejected as not a template', async () => {
    await assertImportFails(
      join(TINY, 'checkpoint.pt'),
      ErrorCodes.MODEL_INVALID,
      join(TINY, 'model.onnx'),
    );
  });

  test('a missing template is reported as such', async () => {
    await assertImportFails(
      join(TINY, 'checkpoint.pt'),
      ErrorCodes.MODEL_NOT_FOUND,
      join(work, 'no-such-template.onnx'),
    );
  });

  test('nothing is written when the import fails', async () => {
    const out = join(work, 'never.onnx');
    const path = await scratch('never.pt', Buffer.from('nope'));
    await assert.rejects(
      importCheckpoint({ checkpointPath: path, templatePath: tinyTemplate(), outPath: out }),
    );
    await assert.rejects(readFile(out), { code: 'ENOENT' });
  });
});

// End-to-end parity of the published architecture: builds a random Swin-B checkpoint with
// tools/parity_swinb.py (PyTorch), imports it into the Swin-B template and compares ONNX
// Runtime with PyTorch. Needs /usr/bin/python3 with torch, ~1 GB of memory and a minute or
// two, so it runs only with FXS_PARITY=1.
const parity = process.env.FXS_PARITY === '1' && hasTorch();
describe('Swin-B parity (FXS_PARITY=1, PyTorch required)', { skip: !parity }, () => {
  test('an imported random Swin-B checkpoint matches PyTorch on every output', async () => {
    const dir = join(work, 'swin-b');
    const made = spawnSync(
      '/usr/bin/python3',
      [join(ROOT, 'tools', 'parity_swinb.py'), '--out', dir],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(made.status, 0, made.stderr);

    const out = join(dir, 'model.onnx');
    const result = await importCheckpoint({
      checkpointPath: join(dir, 'checkpoint.pt'),
      templatePath: SWIN_B_TEMPLATE,
      outPath: out,
    });
    assert.equal(result.tensors, 479);
    await assertMatches(out, await loadReference(dir));
  });
});

async function importTiny(
  checkpoint: string,
  extra: { metadata?: ModelMetadata; onProgress?: (p: ImportProgress) => void } = {},
): Promise<string> {
  const outPath = join(work, `${checkpoint}.${Math.random().toString(36).slice(2)}.onnx`);
  await importCheckpoint({
    checkpointPath: join(TINY, checkpoint),
    templatePath: tinyTemplate(),
    outPath,
    ...extra,
  });
  return outPath;
}

function tinyTemplate(): string {
  return join(TINY, 'template.onnx');
}

async function assertImportFails(
  checkpointPath: string,
  code: ErrorCode,
  templatePath = tinyTemplate(),
): Promise<FxsError> {
  const outPath = join(work, 'failed.onnx');
  let caught: unknown;
  try {
    await importCheckpoint({ checkpointPath, templatePath, outPath });
  } catch (err) {
    caught = err;
  }

  assert.ok(caught instanceof FxsError, `expected an FxsError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.message.includes('\n'), false, 'the message is one line');
  const aboutTemplate = code === ErrorCodes.MODEL_INVALID || code === ErrorCodes.MODEL_NOT_FOUND;
  const named = aboutTemplate ? templatePath : checkpointPath;
  assert.ok(caught.message.includes(named), `the message names ${named}: ${caught.message}`);
  return caught;
}

/** Writes `bytes` to a scratch file and returns its path. */
async function scratch(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(work, name);
  await writeFile(path, bytes);
  return path;
}

/**
 * A copy of the tiny checkpoint with the first occurrence of `find` overwritten by
 * `replace` (same length). torch.save stores entries uncompressed, so this edits the pickle
 * in place; the reader does not check CRCs.
 */
async function patched(name: string, find: Buffer, replace: number[]): Promise<string> {
  const path = join(work, name);
  await copyFile(join(TINY, 'checkpoint.pt'), path);
  const bytes = await readFile(path);
  const at = bytes.indexOf(find);
  assert.ok(at >= 0 && replace.length === find.length, `pattern for ${name} not found`);
  bytes.set(replace, at);
  await writeFile(path, bytes);
  return path;
}

async function loadReference(dir: string): Promise<Reference> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const input = new ort.Tensor(
    'float32',
    await readFloats(join(dir, manifest.input.file)),
    manifest.input.shape,
  );
  const expected = new Map<string, Float32Array>();
  for (const output of manifest.outputs) {
    expected.set(output.name, await readFloats(join(dir, output.file)));
  }
  return { input, expected };
}

async function readFloats(path: string): Promise<Float32Array> {
  const bytes = await readFile(path);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

async function assertMatches(modelPath: string, reference: Reference): Promise<void> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    assert.deepEqual(session.outputNames, [...OUTPUT_NAMES]);
    const result = await session.run({ image: reference.input });
    for (const name of OUTPUT_NAMES) {
      const expected = reference.expected.get(name) as Float32Array;
      const diff = maxAbsDiff(result[name].data as Float32Array, expected);
      assert.ok(diff <= TOLERANCE, `${name}: max abs diff ${diff} > ${TOLERANCE}`);
    }
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return Number.isNaN(max) ? Infinity : max;
}

function hasTorch(): boolean {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx'], { stdio: 'ignore' });
  return probe.status === 0;
}
