/**
 * `facexstream analyze` as a user runs it: the built CLI in a child process, real ffmpeg, the
 * real MediaPipe detector and the embedded model in ONNX Runtime, on the bundled samples.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes } from '../src/common/errors.js';
import { AGE_LABELS, GENDER_LABELS, RACE_LABELS } from '../src/model/contract.js';
import type { FaceRecord, FrameRecord } from '../src/pipeline/record.js';

const CLI = path.resolve('dist/src/cli/main.js');
const DEMO = path.resolve('samples/demo.mp4');
const PORTRAITS = ['samples/astronaut.jpg', 'samples/grace_hopper.jpg'];

let tmp: string;
/** The demo clip analyzed once with every task; several tests read it. */
let demo: { records: FrameRecord[]; code: number | null; stderr: string };

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'fxs-analyze-'));
  const run = await analyze([DEMO, '--out', out('demo.jsonl')]);
  demo = { ...run, records: readRecords(out('demo.jsonl')) };
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('facexstream analyze on the demo clip', () => {
  test('exits 0 and says which model it uses and why', () => {
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stderr, /facexstream-small/);
    assert.match(demo.stderr, /no official model is installed/);
  });

  test('writes one well-formed line for every frame ffprobe counts, in order', () => {
    const frames = ffprobeFrames(DEMO);

    assert.equal(demo.records.length, frames);
    assert.deepEqual(
      demo.records.map((r) => r.frame),
      [...Array(frames).keys()],
    );
    for (const [i, r] of demo.records.entries()) {
      assert.equal(r.source, 'demo.mp4');
      assert.deepEqual([r.width, r.height], [640, 360]);
      if (i > 0) assert.ok(r.timestampMs > demo.records[i - 1].timestampMs);
    }
  });

  test('finds the faces in every frame, each id one unbroken run of frames', () => {
    // The two portraits cross, one hiding the other for about a second twice: then one face
    // is visible and the hidden one comes back under a new id.
    const runs = new Map<number, number[]>();
    for (const r of demo.records) {
      for (const face of r.faces) runs.set(face.id, [...(runs.get(face.id) ?? []), r.frame]);
    }
    const withTwo = demo.records.filter((r) => r.faces.length === 2).length;

    assert.ok(demo.records.every((r) => r.faces.length >= 1 && r.faces.length <= 2));
    assert.ok(withTwo >= 0.7 * demo.records.length, `${withTwo} frames with two faces`);
    assert.ok(runs.size <= 4, `${runs.size} ids`);
    for (const [id, frames] of runs) {
      assert.equal(frames.at(-1)! - frames[0] + 1, frames.length, `id ${id} has gaps`);
      assert.ok(frames.length >= 20, `id ${id} lives ${frames.length} frames`);
    }
  });

  test('gives plausible results for every task the embedded model supports', () => {
    for (const face of demo.records.flatMap((r) => r.faces)) {
      assertInsideGrownBox(face);
      const pose = face.headPose!;
      for (const angle of [pose.pitch, pose.yaw, pose.roll]) assert.ok(Math.abs(angle) < 45);
      assertClass(face.age!, AGE_LABELS);
      assertClass(face.gender!, GENDER_LABELS);
      assertClass(face.race!, RACE_LABELS);
      assert.ok(face.parsing!.coverage.skin > 0.1, 'skin covers part of the crop');
    }
  });

  test('never presents the tasks the embedded model was not trained for', () => {
    const faces = demo.records.flatMap((r) => r.faces);

    assert.ok(faces.every((f) => f.attributes === undefined && f.visibility === undefined));
  });
});

describe('facexstream analyze options', () => {
  test('--tasks and --fps give only the asked tasks on every k-th frame', async () => {
    const file = out('pose.jsonl');

    const run = await analyze([DEMO, '--out', file, '--tasks', 'headPose,landmarks', '--fps', '5']);

    const records = readRecords(file);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(records.length, ffprobeFrames(DEMO) / 4);
    const keys = new Set(records.flatMap((r) => r.faces.flatMap((f) => Object.keys(f))));
    assert.deepEqual([...keys].sort(), ['box', 'headPose', 'id', 'landmarks', 'score', 'updated']);
  });

  test('--annotated writes a video with as many frames as the results', async () => {
    const video = out('annotated.mp4');

    const run = await analyze([DEMO, '--out', out('a.jsonl'), '--fps', '4', '--annotated', video]);

    assert.equal(run.code, 0, run.stderr);
    assert.equal(ffprobeFrames(video), readRecords(out('a.jsonl')).length);
  });

  test('analyzes a folder of photos as unrelated stills, named by file', async () => {
    const folder = path.join(tmp, 'photos');
    mkdirSync(folder);
    for (const p of PORTRAITS) writeFileSync(path.join(folder, path.basename(p)), readFileSync(p));

    const run = await analyze([folder, '--out', out('photos.jsonl')]);

    const records = readRecords(out('photos.jsonl'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      records.map((r) => path.basename(r.source)),
      ['astronaut.jpg', 'grace_hopper.jpg'],
    );
    for (const r of records) {
      assert.deepEqual(r.faces.map((f) => f.id), [1]);
      assert.ok(r.faces[0].age && r.faces[0].landmarks, 'every task computed on every still');
    }
  });

  test('--no-detect takes each image whole as one face crop', async () => {
    const run = await analyze([PORTRAITS[0], '--no-detect', '--out', out('crop.jsonl')]);

    const [record] = readRecords(out('crop.jsonl'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(record.faces[0].box, { x: 0, y: 0, width: record.width, height: record.height });
  });
});

describe('facexstream analyze with bad input', () => {
  test('reports a missing input in one line, analyzes the others and exits 1', async () => {
    const file = out('mixed.jsonl');

    const run = await analyze(['nowhere.mp4', PORTRAITS[1], '--out', file]);

    assert.equal(run.code, 1);
    assert.equal(errorLines(run.stderr).length, 1);
    assert.match(errorLines(run.stderr)[0], /nowhere\.mp4.*\[FXS_ERR_INPUT_NOT_FOUND\]/);
    assert.equal(readRecords(file).length, 1);
  });

  test('keeps the frames of a truncated video and names the problem', async () => {
    const cut = path.join(tmp, 'cut.mp4');
    const bytes = readFileSync(DEMO);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.4)));

    const run = await analyze([cut, '--out', out('cut.jsonl'), '--tasks', 'age']);

    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(ErrorCodes.INPUT_TRUNCATED));
    assert.ok(readRecords(out('cut.jsonl')).length > 20);
  });

  test('refuses an unknown task before reading any input', async () => {
    const run = await analyze([DEMO, '--out', out('never.jsonl'), '--tasks', 'age,mood']);

    assert.equal(run.code, 2);
    assert.match(run.stderr, /'mood'.*\[FXS_ERR_UNKNOWN_TASK\]/);
  });

  test('refuses a task the model does not support, naming the model', async () => {
    const run = await analyze([DEMO, '--out', out('never.jsonl'), '--tasks', 'attributes']);

    assert.equal(run.code, 2);
    assert.match(run.stderr, /facexstream-small.*\[FXS_ERR_TASK_UNSUPPORTED\]/);
  });

  test('refuses a model file that is not ONNX', async () => {
    const bogus = path.join(tmp, 'bogus.onnx');
    writeFileSync(bogus, 'not a model');

    const run = await analyze([DEMO, '--out', out('never.jsonl'), '--model', bogus]);

    assert.equal(run.code, 2);
    assert.match(run.stderr, /bogus\.onnx/);
  });

  test('on Ctrl-C finishes the frames in flight and keeps every line whole', async () => {
    const file = out('interrupted.jsonl');

    const run = await analyze([DEMO, '--out', file], { interruptAfterLines: 30 });

    const records = readRecords(file);
    assert.equal(run.code, 130);
    assert.ok(records.length >= 30 && records.length < ffprobeFrames(DEMO), `${records.length}`);
    assert.deepEqual(
      records.map((r) => r.frame),
      [...Array(records.length).keys()],
    );
  });
});

function out(name: string): string {
  return path.join(tmp, name);
}

interface CliRun {
  code: number | null;
  stderr: string;
}

/** Runs the CLI with the embedded model and an empty model cache (no official model). */
async function analyze(args: string[], opts: { interruptAfterLines?: number } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, 'analyze', ...args, '--cache-dir', out('cache'), '--no-progress'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const watch = opts.interruptAfterLines
    ? setInterval(() => {
        const file = args[args.indexOf('--out') + 1];
        if (lineCount(file) >= opts.interruptAfterLines!) {
          clearInterval(watch);
          child.kill('SIGINT');
        }
      }, 20)
    : undefined;
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(watch);
  return { code, stderr };
}

function lineCount(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

function readRecords(file: string): FrameRecord[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the last line is complete');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FrameRecord);
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('error'));
}

function ffprobeFrames(file: string): number {
  const probe = spawnSync('ffprobe', [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file,
  ]);
  return Number(probe.stdout.toString().trim());
}

/**
 * Landmarks fall inside the crop the model saw: the box grown by 50%, with some slack, since
 * the crop follows the tracker's filtered box and the record gives the detector's.
 */
function assertInsideGrownBox(face: FaceRecord): void {
  const { x, y, width, height } = face.box;
  for (const [px, py] of face.landmarks!) {
    assert.ok(px >= x - width / 2 && px <= x + width * 1.5, `x ${px} outside ${JSON.stringify(face.box)}`);
    assert.ok(py >= y - height / 2 && py <= y + height * 1.5, `y ${py} outside ${JSON.stringify(face.box)}`);
  }
}

function assertClass(result: { label: string; probs: Record<string, number> }, labels: readonly string[]): void {
  assert.ok(labels.includes(result.label));
  assert.deepEqual(Object.keys(result.probs), [...labels]);
  const total = Object.values(result.probs).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 0.01, `probabilities sum to ${total}`);
}
