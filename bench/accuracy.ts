/**
 * Accuracy of a model through the whole runtime path (MediaPipe detection, the 50%-grown
 * crop, ONNX Runtime, decoding) on UTKFace-named images: the figures a user gets, as
 * opposed to tools/eval_small.py, which scores the PyTorch checkpoint on ideal crops.
 *
 *   node --import tsx bench/accuracy.ts --list /work/train/labels-val.txt \
 *     [--teacher /work/train/utk_dlib.tsv] [--model embedded] [--no-detect]
 *
 * The list is the held-out split that tools/teacher/make_labels.py writes. Labels come from
 * the file names (AGE_GENDER_RACE_DATE.jpg, UTKFace's race order); the teacher table, when
 * given, adds the landmark NME against dlib (normalised by the outer eye corners 36-45).
 * Images where no face is found count as detection misses and are left out of the rest.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AGE_LABELS, RACE_LABELS } from '../src/model/contract.js';
import { ModelRunner } from '../src/model/model-runner.js';
import { resolveModel } from '../src/model/resolve.js';
import { analyzeInputs } from '../src/pipeline/analyze.js';
import { FaceDetector } from '../src/pipeline/detector/face-detector.js';
import type { FaceRecord, FrameRecord } from '../src/pipeline/record.js';

/** UTKFace race index -> the contract's race label. */
const UTK_RACE = ['White', 'Black', 'Asian', 'Indian', 'Others'] as const;

const { values: flags } = parseArgs({
  options: {
    list: { type: 'string' },
    teacher: { type: 'string' },
    model: { type: 'string', default: 'default' },
    'no-detect': { type: 'boolean', default: false },
  },
});
if (!flags.list) {
  process.stderr.write('usage: node --import tsx bench/accuracy.ts --list held-out.txt [--teacher dlib.tsv]\n');
  process.exit(2);
}

const resolved = await resolveModel({ model: flags.model! });
const runner = await ModelRunner.create({ modelPath: resolved.path, device: 'cpu', maxBatch: 8 });
const detector = flags['no-detect'] ? undefined : await FaceDetector.create({ range: 'full', minScore: 0.3 });
const dir = mkdtempSync(path.join(tmpdir(), 'fxs-accuracy-'));
const out = path.join(dir, 'results.jsonl');
try {
  await analyzeInputs({
    inputs: [flags.list],
    out,
    tasks: runner.metadata.tasks,
    analyzer: runner,
    detector,
    noDetect: flags['no-detect'],
  });
  const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FrameRecord);
  const teacher = flags.teacher ? readTeacher(flags.teacher) : undefined;
  const report = { model: runner.metadata.name, ...score(records, teacher) };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} finally {
  await detector?.close();
  await runner.close();
  rmSync(dir, { recursive: true, force: true });
}

function score(records: FrameRecord[], teacher?: Map<string, number[]>) {
  let found = 0;
  const hits = { age: 0, gender: 0, race: 0 };
  const nmes: number[] = [];
  for (const record of records) {
    const name = path.basename(record.source);
    const [age, gender, race] = name.split('_').map(Number);
    if (record.faces.length === 0) continue;
    found += 1;
    const face = record.faces.reduce((a, b) => (a.box.width >= b.box.width ? a : b));
    if (face.age?.label === AGE_LABELS[Math.min(Math.floor(age / 10), 7)]) hits.age += 1;
    if (face.gender?.label === (gender === 1 ? 'female' : 'male')) hits.gender += 1;
    if (face.race?.label === UTK_RACE[race] && RACE_LABELS.includes(UTK_RACE[race])) hits.race += 1;
    const points = teacher?.get(name);
    if (points && face.landmarks) nmes.push(nme(face, points));
  }
  const rate = (n: number) => Math.round((n / Math.max(found, 1)) * 1000) / 1000;
  return {
    images: records.length,
    facesFound: found,
    ageBinAccuracy: rate(hits.age),
    genderAccuracy: rate(hits.gender),
    raceAccuracy: rate(hits.race),
    ...(nmes.length ? { landmarkNme: Math.round((nmes.reduce((a, b) => a + b, 0) / nmes.length) * 1000) / 1000, nmeImages: nmes.length } : {}),
  };
}

/** Mean point error over the outer-eye-corner distance of the teacher. */
function nme(face: FaceRecord, t: number[]): number {
  const ocular = Math.hypot(t[72] - t[90], t[73] - t[91]);
  let sum = 0;
  for (let i = 0; i < 68; i++) {
    const [x, y] = face.landmarks![i];
    sum += Math.hypot(x - t[2 * i], y - t[2 * i + 1]);
  }
  return sum / 68 / ocular;
}

/** dlib_landmarks' table: path, status, upsample, box (4), then 68 x,y pairs. */
function readTeacher(file: string): Map<string, number[]> {
  const table = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split('\t');
    if (fields[1] !== 'ok') continue;
    table.set(path.basename(fields[0]), fields.slice(7).map(Number));
  }
  return table;
}
