import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFxsError, ErrorCodes } from '../src/common/errors.js';
import { matchMinCost } from '../src/pipeline/assignment.js';
import { FaceTracker, type FaceTrackerOptions, type Track } from '../src/pipeline/tracker.js';
import type { Detection } from '../src/pipeline/types.js';
import { noise } from './helpers/noise.js';

const FRAME_MS = 1000 / 30;

function face(cx: number, cy: number, size = 80, score = 0.9): Detection {
  return { box: { x: cx - size / 2, y: cy - size / 2, width: size, height: size }, score };
}

/** The id of the track matched to `detection` this frame, or undefined. */
function idOf(tracks: Track[], detection: Detection): number | undefined {
  return tracks.find((t) => t.detection === detection)?.id;
}

function variance(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
}

describe('FaceTracker', () => {
  test('keeps both ids stable while two faces move across each other', () => {
    const tracker = new FaceTracker();
    const jitter = noise(1);
    const ids = { a: new Set<number | undefined>(), b: new Set<number | undefined>() };

    for (let f = 0; f < 50; f++) {
      // A goes right, B goes left, 12 px a frame; their boxes overlap for ~12 frames.
      const a = face(50 + 12 * f + 2 * jitter(), 200 + 2 * jitter());
      const b = face(650 - 12 * f + 2 * jitter(), 230 + 2 * jitter());
      const { tracks } = tracker.update([a, b], f * FRAME_MS);
      ids.a.add(idOf(tracks, a));
      ids.b.add(idOf(tracks, b));
    }

    assert.deepEqual([...ids.a, ...ids.b], [1, 2]);
  });

  test('keeps the id of a face hidden behind another while they cross', () => {
    const tracker = new FaceTracker();
    let idA: number | undefined;
    let idB: number | undefined;

    for (let f = 0; f < 50; f++) {
      const a = face(50 + 12 * f, 200);
      const b = face(650 - 12 * f, 215);
      const hidden = f >= 22 && f <= 27; // B passes behind A
      const { tracks } = tracker.update(hidden ? [a] : [a, b], f * FRAME_MS);

      if (f === 0) {
        idA = idOf(tracks, a);
        idB = idOf(tracks, b);
      }
      assert.equal(idOf(tracks, a), idA, `frame ${f}: A changed id`);
      if (!hidden) assert.equal(idOf(tracks, b), idB, `frame ${f}: B changed id`);
    }
    assert.notEqual(idA, idB);
  });

  test('keeps the id of a face missed for a few frames and reports it lost meanwhile', () => {
    const tracker = new FaceTracker();
    const first = tracker.update([face(300, 200)], 0).tracks[0];

    for (let f = 1; f <= 5; f++) {
      const { tracks, ended } = tracker.update([], f * FRAME_MS);
      assert.deepEqual(ended, []);
      assert.equal(tracks[0].state, 'lost');
      assert.equal(tracks[0].lostFrames, f);
      assert.equal(tracks[0].detection, undefined);
    }

    const back = tracker.update([face(302, 201)], 6 * FRAME_MS).tracks;
    assert.equal(back.length, 1);
    assert.equal(back[0].id, first.id);
    assert.equal(back[0].state, 'confirmed');
    assert.equal(back[0].lostFrames, 0);
  });

  test('ends a face missed for more than maxLostFrames and gives a new face a new id', () => {
    const tracker = new FaceTracker({ maxLostFrames: 30 });
    const id = tracker.update([face(300, 200)], 0).tracks[0].id;

    const endedAt: number[] = [];
    for (let f = 1; f <= 40; f++) {
      if (tracker.update([], f * FRAME_MS).ended.includes(id)) endedAt.push(f);
    }
    assert.deepEqual(endedAt, [31]);
    assert.equal(tracker.size, 0);

    const { tracks } = tracker.update([face(300, 200)], 41 * FRAME_MS);
    assert.equal(tracks.length, 1);
    assert.notEqual(tracks[0].id, id);
    assert.equal(tracks[0].state, 'tentative');
  });

  test('ends a lost face after maxLostMs when frames are far apart', () => {
    const tracker = new FaceTracker({ maxLostMs: 2000 });
    const id = tracker.update([face(300, 200)], 0).tracks[0].id;

    // One frame a second, as under an fps cap of 1.
    assert.deepEqual(tracker.update([], 1000).ended, []);
    assert.deepEqual(tracker.update([], 2000).ended, []);
    assert.deepEqual(tracker.update([], 3000).ended, [id]);
  });

  test('keeps a track alive on low-score detections but never starts one from them', () => {
    const tracker = new FaceTracker({ highScore: 0.5, lowScore: 0.1 });
    const id = tracker.update([face(300, 200, 80, 0.9)], 0).tracks[0].id;

    for (let f = 1; f <= 40; f++) {
      const weak = face(300 + f, 200, 80, 0.3);
      const stranger = face(600, 400, 80, 0.3);
      const { tracks, ended } = tracker.update([weak, stranger], f * FRAME_MS);
      assert.deepEqual(ended, []);
      assert.equal(tracks.length, 1, `frame ${f}: a weak detection started a track`);
      assert.equal(idOf(tracks, weak), id);
      assert.equal(tracks[0].state, 'confirmed');
      assert.equal(tracks[0].score, 0.3);
    }
  });

  test('ignores detections below lowScore', () => {
    const tracker = new FaceTracker({ lowScore: 0.2 });
    tracker.update([face(300, 200)], 0);
    const { tracks } = tracker.update([face(300, 200, 80, 0.1)], FRAME_MS);
    assert.equal(tracks[0].state, 'lost');
  });

  test('confirms faces present on the first frame at once', () => {
    const { tracks } = new FaceTracker().update([face(100, 100), face(400, 100)], 0);
    assert.deepEqual(
      tracks.map((t) => [t.id, t.state]),
      [
        [1, 'confirmed'],
        [2, 'confirmed'],
      ],
    );
  });

  test('holds a face appearing later as tentative until minHits frames', () => {
    const tracker = new FaceTracker({ minHits: 3 });
    tracker.update([], 0);

    const states = [1, 2, 3].map((f) => tracker.update([face(300, 200)], f * FRAME_MS).tracks[0]);
    assert.deepEqual(
      states.map((t) => [t.state, t.hits]),
      [
        ['tentative', 1],
        ['tentative', 2],
        ['confirmed', 3],
      ],
    );
  });

  test('ends a one-frame false positive without confirming it', () => {
    const tracker = new FaceTracker();
    tracker.update([face(100, 100)], 0);

    const blip = tracker.update([face(100, 100), face(500, 300)], FRAME_MS);
    const blipId = blip.tracks.find((t) => t.state === 'tentative')!.id;
    const { tracks, ended } = tracker.update([face(100, 100)], 2 * FRAME_MS);

    assert.deepEqual(ended, [blipId]);
    assert.deepEqual(
      tracks.map((t) => t.state),
      ['confirmed'],
    );
  });

  test('predicts across a gap in timestamps so a fast face keeps its id', () => {
    const tracker = new FaceTracker();
    const speed = 0.6; // px per ms: 600 px/s, 20 px a frame at 30 fps
    const at = (ms: number) => face(100 + speed * ms, 200, 60);

    let id: number | undefined;
    for (let f = 0; f < 10; f++) id = tracker.update([at(f * FRAME_MS)], f * FRAME_MS).tracks[0].id;

    // 200 ms of dropped frames: the face moved 120 px, two box widths, no overlap with before.
    const later = 9 * FRAME_MS + 200;
    const detection = at(later);
    const { tracks } = tracker.update([detection], later);
    assert.equal(tracks.length, 1);
    assert.equal(idOf(tracks, detection), id);
  });

  test('smooths detector jitter on a still face', () => {
    const tracker = new FaceTracker();
    const jitter = noise(7);
    const raw: number[] = [];
    const filtered: number[] = [];

    for (let f = 0; f < 200; f++) {
      const d = face(300 + 4 * jitter(), 200 + 4 * jitter());
      const t = tracker.update([d], f * FRAME_MS).tracks[0];
      if (f < 20) continue; // let the filter settle
      raw.push(d.box.x);
      filtered.push(t.box.x);
    }
    // The motion model trades smoothing for little lag on moving faces; it removes ~40% here.
    const [after, before] = [variance(filtered), variance(raw)];
    assert.ok(after < 0.7 * before, `variance ${after} after vs ${before} before`);
  });

  test('never reuses an id and reports each ended id once', () => {
    const tracker = new FaceTracker({ maxLostFrames: 1 });
    const seen = new Set<number>();
    const ended: number[] = [];

    for (let f = 0; f < 60; f++) {
      // A face appears for 4 frames at a new place every 8 frames.
      const visible = f % 8 < 4 ? [face(100 + 50 * Math.floor(f / 8), 100)] : [];
      const out = tracker.update(visible, f * FRAME_MS);
      out.tracks.forEach((t) => seen.add(t.id));
      ended.push(...out.ended);
    }
    assert.equal(new Set(ended).size, ended.length);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  });

  test('reset ends every track and the next frame confirms faces at once again', () => {
    const tracker = new FaceTracker();
    tracker.update([face(100, 100), face(400, 100)], 0);
    assert.deepEqual(tracker.reset(), [1, 2]);
    assert.equal(tracker.size, 0);

    const { tracks } = tracker.update([face(100, 100)], 0);
    assert.deepEqual([tracks[0].id, tracks[0].state], [3, 'confirmed']);
  });

  test('ignores detections with an empty or non-finite box', () => {
    const tracker = new FaceTracker();
    const bad: Detection[] = [
      { box: { x: 10, y: 10, width: 0, height: 50 }, score: 0.9 },
      { box: { x: 10, y: 10, width: 50, height: -5 }, score: 0.9 },
      { box: { x: NaN, y: 10, width: 50, height: 50 }, score: 0.9 },
      { box: { x: 10, y: 10, width: 50, height: 50 }, score: NaN },
    ];
    assert.equal(tracker.update(bad, 0).tracks.length, 0);
  });

  const badOptions: Array<[string, FaceTrackerOptions]> = [
    ['highScore above 1', { highScore: 1.5 }],
    ['lowScore below 0', { lowScore: -0.1 }],
    ['lowScore above highScore', { highScore: 0.4, lowScore: 0.6 }],
    ['newTrackScore not a number', { newTrackScore: NaN }],
    ['matchIou of 0', { matchIou: 0 }],
    ['lowMatchIou above 1', { lowMatchIou: 2 }],
    ['minHits of 0', { minHits: 0 }],
    ['fractional minHits', { minHits: 1.5 }],
    ['negative maxLostFrames', { maxLostFrames: -1 }],
    ['negative maxLostMs', { maxLostMs: -5 }],
  ];
  for (const [name, options] of badOptions) {
    test(`rejects ${name} with FXS_ERR_CONFIG_INVALID`, () => {
      assert.throws(
        () => new FaceTracker(options),
        (err) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
      );
    });
  }
});

/** matchMinCost over a literal matrix. */
function match(matrix: number[][], maxCost: number, cols = matrix[0]?.length ?? 0) {
  return matchMinCost(matrix.length, cols, (i, j) => matrix[i][j], maxCost);
}

describe('matchMinCost', () => {
  test('finds the assignment of least total cost where greedy picking would not', () => {
    // Greedy takes (0,0) at 0.1 and is left with (1,1) at 0.9: total 1.0. Best is 0.4.
    const { pairs } = match(
      [
        [0.1, 0.2],
        [0.2, 0.9],
      ],
      1,
    );
    assert.deepEqual(pairs, [
      [0, 1],
      [1, 0],
    ]);
  });

  test('leaves pairs at or above maxCost unmatched', () => {
    const m = match(
      [
        [0.5, 0.8],
        [0.9, 0.95],
        [0.1, 0.7],
      ],
      0.7,
    );
    assert.deepEqual(m.pairs, [[2, 0]], 'the cheaper claimant wins column 0');
    assert.deepEqual(m.unmatchedRows, [0, 1]);
    assert.deepEqual(m.unmatchedCols, [1]);
  });

  test('prefers two good pairs over one excellent pair that blocks them', () => {
    // (0,0) alone costs 0.0 plus 0.5 for leaving row 1 and column 1 apart; (0,1)+(1,0) 0.2.
    const { pairs } = match(
      [
        [0.0, 0.1],
        [0.1, 0.99],
      ],
      0.5,
    );
    assert.deepEqual(pairs, [
      [0, 1],
      [1, 0],
    ]);
  });

  test('leaves every row or column unmatched when the other side is empty', () => {
    assert.deepEqual(match([], 1, 3), { pairs: [], unmatchedRows: [], unmatchedCols: [0, 1, 2] });
    const noCols = match([[], []], 1, 0);
    assert.deepEqual(noCols, { pairs: [], unmatchedRows: [0, 1], unmatchedCols: [] });
  });
});
