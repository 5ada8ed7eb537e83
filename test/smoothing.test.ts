import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { TrackResults } from '../src/pipeline/face-state.js';
import type { ClassResult } from '../src/pipeline/record.js';
import { FaceSmoother, type SmoothingOptions } from '../src/pipeline/smoothing.js';
import type { Box } from '../src/pipeline/types.js';
import { noise } from './helpers/noise.js';

const FRAME_MS = 1000 / 30;

/** 68 points on a ring around (cx, cy), a stand-in for a face's landmarks. */
function ring(cx: number, cy: number, r = 50): Array<[number, number]> {
  return Array.from({ length: 68 }, (_, i) => {
    const a = (2 * Math.PI * i) / 68;
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
}

function boxAround(cx: number, cy: number, side = 150): Box {
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

function variance(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
}

/** Mean over coordinates of each coordinate's variance across frames. */
function meanVariance(frames: Array<Array<[number, number]>>): number {
  const coords = frames[0].length * 2;
  let total = 0;
  for (let c = 0; c < coords; c++) {
    total += variance(frames.map((points) => points[c >> 1][c & 1]));
  }
  return total / coords;
}

function gender(male: number): ClassResult {
  const probs = { male, female: 1 - male };
  return { label: male >= 0.5 ? 'male' : 'female', score: Math.max(male, 1 - male), probs };
}

describe('FaceSmoother', () => {
  test('reduces landmark jitter on a still face', () => {
    const smoother = new FaceSmoother();
    const jitter = noise(3);
    const raw: Array<Array<[number, number]>> = [];
    const smoothed: Array<Array<[number, number]>> = [];

    for (let f = 0; f < 150; f++) {
      const points = ring(320, 240).map(([x, y]): [number, number] => [
        x + 3 * jitter(),
        y + 3 * jitter(),
      ]);
      const out = smoother.landmarks(points, boxAround(320, 240), f * FRAME_MS);
      if (f < 15) continue;
      raw.push(points);
      smoothed.push(out);
    }

    const [after, before] = [meanVariance(smoothed), meanVariance(raw)];
    assert.ok(after < 0.25 * before, `variance ${after} after vs ${before} before`);
  });

  test('follows landmarks of a face moving steadily with little lag', () => {
    const smoother = new FaceSmoother();
    const still = new FaceSmoother({ landmarks: { beta: 0 } }); // a plain low-pass filter
    let lag = 0;
    let stillLag = 0;

    for (let f = 0; f < 60; f++) {
      const cx = 200 + 5 * f; // 150 px/s: one face size a second
      const points = ring(cx, 240);
      const box = boxAround(cx, 240);
      lag = Math.abs(smoother.landmarks(points, box, f * FRAME_MS)[0][0] - points[0][0]);
      stillLag = Math.abs(still.landmarks(points, box, f * FRAME_MS)[0][0] - points[0][0]);
    }
    assert.ok(lag < 4, `lag ${lag} px`);
    assert.ok(stillLag > 3 * lag, `plain low-pass lag ${stillLag} px vs ${lag} px`);
  });

  test('reduces head pose jitter', () => {
    const smoother = new FaceSmoother();
    const jitter = noise(5);
    const raw: number[] = [];
    const smoothed: number[] = [];

    for (let f = 0; f < 150; f++) {
      const pose = { pitch: 10 + 4 * jitter(), yaw: -20 + 4 * jitter(), roll: 4 * jitter() };
      const out = smoother.headPose(pose, f * FRAME_MS);
      if (f < 15) continue;
      raw.push(pose.yaw);
      smoothed.push(out.yaw);
    }
    const [after, before] = [variance(smoothed), variance(raw)];
    assert.ok(after < 0.3 * before, `variance ${after} after vs ${before} before`);
  });

  test('smooths a head roll that crosses 180 degrees without swinging through 0', () => {
    const smoother = new FaceSmoother();
    const rolls = [178, -179, 179, -178, 180, -179].map(
      (roll, f) => smoother.headPose({ pitch: 0, yaw: 0, roll }, f * FRAME_MS).roll,
    );
    for (const roll of rolls) assert.ok(Math.abs(roll) > 170, `roll ${roll}`);
  });

  test('does not flip the gender label on one contrary update', () => {
    for (const options of [{}, { labels: { alpha: 1 } }] as SmoothingOptions[]) {
      const smoother = new FaceSmoother(options);
      const sequence = [0.9, 0.85, 0.9, 0.05, 0.88, 0.9];
      const labels = sequence.map((m) => smoother.classify('gender', gender(m)).label);
      assert.deepEqual(labels, Array(6).fill('male'), JSON.stringify(options));
    }
  });

  test('follows a sustained change of gender within a few updates and then holds it', () => {
    const smoother = new FaceSmoother();
    for (let i = 0; i < 10; i++) smoother.classify('gender', gender(0.9));

    const labels = Array.from({ length: 10 }, () => smoother.classify('gender', gender(0.1)));
    const switchedAt = labels.findIndex((r) => r.label === 'female');
    assert.ok(switchedAt >= 1 && switchedAt <= 4, `switched at update ${switchedAt}`);
    assert.ok(labels.slice(switchedAt).every((r) => r.label === 'female'));
    assert.ok(Math.abs(labels[9].probs.female + labels[9].probs.male - 1) < 1e-9);
    assert.equal(labels[9].score, labels[9].probs.female);
  });

  test('keeps an age bin while a neighbour leads it by less than the margin', () => {
    const smoother = new FaceSmoother();
    const age = (a: number, b: number): ClassResult => ({
      label: a >= b ? '20-29' : '30-39',
      score: Math.max(a, b),
      probs: { '20-29': a, '30-39': b, '40-49': 1 - a - b },
    });
    smoother.classify('age', age(0.5, 0.4));
    const labels = [0.46, 0.5, 0.45, 0.5, 0.47, 0.5].map(
      (b) => smoother.classify('age', age(0.42, b)).label,
    );
    assert.deepEqual(labels, Array(6).fill('20-29'));
  });

  test('does not flicker an attribute whose probability hovers around 0.5', () => {
    const smoother = new FaceSmoother();
    const smiling = (prob: number) => [{ name: 'Smiling', prob, present: prob >= 0.5 }];

    smoother.attributes(smiling(0.45));
    const hovering = [0.56, 0.47, 0.58, 0.44, 0.55, 0.49].map(
      (p) => smoother.attributes(smiling(p))[0].present,
    );
    assert.deepEqual(hovering, Array(6).fill(false));

    const sustained = [0.9, 0.9, 0.9].map((p) => smoother.attributes(smiling(p))[0].present);
    assert.deepEqual(sustained, [true, true, true]);
  });

  test('passes values through unchanged when a part is turned off', () => {
    const smoother = new FaceSmoother({ landmarks: false, labels: false });
    smoother.landmarks(ring(100, 100), boxAround(100, 100), 0);
    const points = ring(140, 100);
    assert.deepEqual(smoother.landmarks(points, boxAround(140, 100), FRAME_MS), points);
    smoother.classify('gender', gender(0.9));
    assert.equal(smoother.classify('gender', gender(0.1)).label, 'female');
  });

  const badOptions: Array<[string, SmoothingOptions]> = [
    ['a landmark cutoff of 0', { landmarks: { minCutoffHz: 0 } }],
    ['a negative head pose beta', { headPose: { beta: -1 } }],
    ['a derivative cutoff that is not a number', { landmarks: { derivativeCutoffHz: NaN } }],
    ['a label alpha of 0', { labels: { alpha: 0 } }],
    ['a label alpha above 1', { labels: { alpha: 1.5 } }],
    ['a label margin of 1', { labels: { margin: 1 } }],
    ['a fractional confirmUpdates', { labels: { confirmUpdates: 1.5 } }],
    ['an attribute band of 0.5', { attributes: { band: 0.5 } }],
    ['a visibility alpha below 0', { visibility: { alpha: -0.2 } }],
  ];
  for (const [name, options] of badOptions) {
    test(`rejects ${name} with FXS_ERR_CONFIG_INVALID`, () => {
      assert.throws(
        () => new FaceSmoother(options),
        (err) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
      );
    });
  }
});

describe('TrackResults', () => {
  const box = boxAround(300, 200);

  test('reports the last age on a frame without a new one, stamped with its frame', () => {
    const results = new TrackResults();
    results.merge({ id: 1, box, score: 0.9, age: ageResult(), landmarks: ring(300, 200) }, 0, 0);
    const next = results.merge({ id: 1, box, score: 0.8, landmarks: ring(301, 200) }, 1, FRAME_MS);

    assert.equal(next.age?.label, '20-29');
    assert.deepEqual(next.updated, { landmarks: 1, age: 0 });
    assert.equal(next.score, 0.8);
    assert.equal(next.id, 1);
  });

  test('takes box and score from the newest frame', () => {
    const results = new TrackResults();
    results.merge({ id: 4, box, score: 0.9 }, 0, 0);
    const moved = boxAround(310, 205);
    const record = results.merge({ id: 4, box: moved, score: 0.7 }, 1, FRAME_MS);
    assert.deepEqual([record.box, record.score], [moved, 0.7]);
  });

  test('keeps records it returned unchanged by later merges', () => {
    const results = new TrackResults();
    const first = results.merge({ id: 1, box, score: 0.9, visibility: [0.9, 0.1] }, 0, 0);
    results.merge({ id: 1, box, score: 0.5, visibility: [0.1, 0.9] }, 1, FRAME_MS);
    assert.equal(first.score, 0.9);
    assert.deepEqual(first.visibility, [0.9, 0.1]);
    assert.deepEqual(first.updated, { visibility: 0 });
  });

  test('smooths each track on its own', () => {
    const results = new TrackResults();
    results.merge({ id: 1, box, score: 0.9, gender: gender(0.9) }, 0, 0);
    const other = results.merge({ id: 2, box, score: 0.9, gender: gender(0.1) }, 0, 0);
    assert.equal(other.gender?.label, 'female');
    assert.equal(other.gender?.probs.female, 0.9);
  });

  test('forgets ended tracks, releasing their records and smoothing state', () => {
    const results = new TrackResults();
    for (let id = 1; id <= 500; id++) {
      results.merge({ id, box, score: 0.9, landmarks: ring(300, 200), age: ageResult() }, 0, 0);
    }
    results.forget(Array.from({ length: 500 }, (_, i) => i + 1));
    assert.equal(results.size, 0);
    assert.equal(results.get(1), undefined);

    // An id seen again starts afresh: its first landmarks are returned unsmoothed.
    const fresh = ring(500, 400);
    const record = results.merge({ id: 1, box, score: 0.9, landmarks: fresh }, 9, 9 * FRAME_MS);
    assert.deepEqual(record.landmarks, fresh);
    assert.deepEqual(record.updated, { landmarks: 9 });
  });

  test('remembers at most maxTracks tracks, dropping the one merged longest ago', () => {
    const results = new TrackResults({ maxTracks: 8 });
    for (let id = 1; id <= 100; id++) results.merge({ id, box, score: 0.9 }, id, id * FRAME_MS);
    assert.equal(results.size, 8);
    assert.equal(results.get(92), undefined);
    assert.equal(results.get(93)?.id, 93);
  });

  test('rejects a bad smoothing option or maxTracks with FXS_ERR_CONFIG_INVALID', () => {
    for (const options of [{ smoothing: { labels: { alpha: 2 } } }, { maxTracks: 0 }]) {
      assert.throws(
        () => new TrackResults(options),
        (err) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
      );
    }
  });
});

function ageResult(): ClassResult {
  return { label: '20-29', score: 0.7, probs: { '0-9': 0.1, '20-29': 0.7, '30-39': 0.2 } };
}
