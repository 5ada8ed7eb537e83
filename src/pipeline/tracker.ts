/**
 * Multi-face tracking for one stream, in the manner of ByteTrack: a constant-velocity
 * Kalman filter predicts every face's box at the new frame's timestamp, confident
 * detections are matched to tracks first, weak detections then keep the remaining tracks
 * alive, and only confident detections start new tracks.
 */
import { ErrorCodes, FxsError } from '../common/errors.js';
import { matchMinCost } from './assignment.js';
import type { Box, Detection } from './types.js';

/**
 * Where a track is in its life:
 * - `tentative`: just born; ends at its first missed frame, confirmed after `minHits`.
 * - `confirmed`: detected in this frame and established.
 * - `lost`: established but not detected in this frame; its box is a prediction.
 */
export type TrackState = 'tentative' | 'confirmed' | 'lost';

/** One tracked face as `FaceTracker.update` reports it: a snapshot later updates leave alone. */
export interface Track {
  /** Id unique within one tracker, counting up from 1, never reused. */
  id: number;
  /**
   * Box in frame pixels from the motion model: the filtered estimate when the face was
   * detected in this frame, the prediction when it was not. May reach past the frame edges.
   */
  box: Box;
  /** Score of the last detection matched to this track, in [0, 1]. */
  score: number;
  state: TrackState;
  /** Frames in which a detection was matched to this track. */
  hits: number;
  /** Frames since the track was born, its first frame counting as 1. */
  age: number;
  /** Consecutive frames without a matched detection; 0 when detected in this frame. */
  lostFrames: number;
  /** Timestamp of the last matched detection, in stream milliseconds. */
  lastSeenMs: number;
  /** The detection matched in this frame (the caller's object); absent when not detected. */
  detection?: Detection;
}

/** What one `FaceTracker.update` returns. */
export interface TrackerUpdate {
  /** Every live track (tentative, confirmed and lost), ordered by id. */
  tracks: Track[];
  /** Ids of tracks that ended in this update, ascending; they never appear again. */
  ended: number[];
}

/** Options of `FaceTracker`. Scores are detector confidences in [0, 1]. */
export interface FaceTrackerOptions {
  /** Detections at or above this score are matched first and may start tracks. Default 0.5. */
  highScore?: number;
  /**
   * Detections below `highScore` but at or above this one only keep existing tracks alive;
   * lower ones are ignored. Default 0.1. The detector must be run with a threshold at or
   * below it for the second matching stage to see anything.
   */
  lowScore?: number;
  /** A detection left unmatched starts a track only at or above this score. Default `highScore`. */
  newTrackScore?: number;
  /** Least IoU between a track's predicted box and a confident detection to match. Default 0.3. */
  matchIou?: number;
  /** Least IoU for a weak (below `highScore`) detection to match. Default 0.5. */
  lowMatchIou?: number;
  /** Consecutive detected frames before a new track is confirmed. Default 2. */
  minHits?: number;
  /**
   * Confirm tracks born on the first update at once. Default true: faces already in view
   * when a stream starts have no earlier frame to be checked against, and holding them back
   * would delay every stream's first results by a frame (a whole second under an fps cap).
   */
  confirmFirstFrame?: boolean;
  /** A lost track ends once it has been missed for more than this many frames. Default 30. */
  maxLostFrames?: number;
  /**
   * A lost track ends once it has not been seen for more than this many milliseconds of
   * stream time, which bounds the wait when frames are far apart (fps cap, drops). Default 2000.
   */
  maxLostMs?: number;
}

const DEFAULTS = {
  highScore: 0.5,
  lowScore: 0.1,
  matchIou: 0.3,
  lowMatchIou: 0.5,
  minHits: 2,
  confirmFirstFrame: true,
  maxLostFrames: 30,
  maxLostMs: 2000,
};

type ResolvedOptions = Required<FaceTrackerOptions>;

/**
 * Gives the faces of one stream ids that stay stable across frames. One tracker per
 * stream; `update` is called once per processed frame, in timestamp order.
 *
 * @example
 * const tracker = new FaceTracker();
 * const { tracks, ended } = tracker.update(detections, frame.timestampMs);
 */
export class FaceTracker {
  private readonly options: ResolvedOptions;
  private tracks: TrackEntry[] = [];
  private nextId = 1;
  private updates = 0;

  /** @throws FxsError FXS_ERR_CONFIG_INVALID when an option is out of range. */
  constructor(options: FaceTrackerOptions = {}) {
    this.options = resolveOptions(options);
  }

  /**
   * Advances every track to `timestampMs`, matches this frame's detections and returns the
   * live tracks and the ids that ended. Timestamps set how far boxes are predicted, so
   * skipped or dropped frames are handled; a timestamp that goes backwards predicts nothing.
   *
   * @param detections this frame's faces; those with a non-positive or non-finite size, or a
   *   score below `lowScore`, are ignored.
   * @param timestampMs the frame's presentation time in milliseconds.
   */
  update(detections: readonly Detection[], timestampMs: number): TrackerUpdate {
    const opts = this.options;
    const firstUpdate = this.updates === 0;
    this.updates++;

    for (const track of this.tracks) track.predict(timestampMs);

    const usable = detections.filter((d) => isUsable(d) && d.score >= opts.lowScore);
    const high = usable.filter((d) => d.score >= opts.highScore);
    const low = usable.filter((d) => d.score < opts.highScore);

    const established = this.tracks.filter((t) => t.state !== 'tentative');
    const tentative = this.tracks.filter((t) => t.state === 'tentative');

    const first = associate(established, high, opts.matchIou);
    const second = associate(first.tracks, low, opts.lowMatchIou);
    const third = associate(tentative, first.detections, opts.matchIou);
    for (const [track, detection] of [...first.pairs, ...second.pairs, ...third.pairs]) {
      track.correct(detection, timestampMs, opts.minHits);
    }

    const ended: number[] = [];
    for (const track of second.tracks) track.miss();
    for (const track of third.tracks) ended.push(track.id);

    for (const detection of third.detections) {
      if (detection.score < opts.newTrackScore) continue;
      const confirmed = opts.minHits <= 1 || (firstUpdate && opts.confirmFirstFrame);
      this.tracks.push(new TrackEntry(this.nextId++, detection, timestampMs, confirmed));
    }

    for (const track of this.tracks) {
      if (track.state === 'lost' && this.expired(track, timestampMs)) ended.push(track.id);
    }

    const endedSet = new Set(ended);
    this.tracks = this.tracks.filter((t) => !endedSet.has(t.id));
    return { tracks: this.tracks.map((t) => t.snapshot()), ended: ended.sort((a, b) => a - b) };
  }

  /** Ends every track, as when the stream stops or restarts; returns their ids, ascending. */
  reset(): number[] {
    const ids = this.tracks.map((t) => t.id);
    this.tracks = [];
    this.updates = 0;
    return ids;
  }

  /** Number of live tracks. */
  get size(): number {
    return this.tracks.length;
  }

  private expired(track: TrackEntry, timestampMs: number): boolean {
    return (
      track.lostFrames > this.options.maxLostFrames ||
      timestampMs - track.lastSeenMs > this.options.maxLostMs
    );
  }
}

function resolveOptions(options: FaceTrackerOptions): ResolvedOptions {
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  const resolved: ResolvedOptions = { newTrackScore: o.highScore, ...o };

  const fractions = ['highScore', 'lowScore', 'newTrackScore', 'matchIou', 'lowMatchIou'] as const;
  for (const key of fractions) {
    const value = resolved[key];
    if (!(value >= 0 && value <= 1)) invalid(key, value, 'a number from 0 to 1');
  }
  if (resolved.matchIou === 0) invalid('matchIou', 0, 'above 0');
  if (resolved.lowMatchIou === 0) invalid('lowMatchIou', 0, 'above 0');
  if (resolved.lowScore > resolved.highScore) {
    invalid('lowScore', resolved.lowScore, `at most highScore (${resolved.highScore})`);
  }

  const { minHits, maxLostFrames } = resolved;
  if (!Number.isInteger(minHits) || minHits < 1) invalid('minHits', minHits, 'a whole number >= 1');
  if (!Number.isInteger(maxLostFrames) || maxLostFrames < 0) {
    invalid('maxLostFrames', maxLostFrames, 'a whole number >= 0');
  }
  if (!(resolved.maxLostMs >= 0)) invalid('maxLostMs', resolved.maxLostMs, 'a number >= 0');
  return resolved;
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  const entries = Object.entries(options).filter(([, value]) => value !== undefined);
  return Object.fromEntries(entries) as Partial<T>;
}

function invalid(key: string, value: unknown, expected: string): never {
  throw new FxsError(
    ErrorCodes.CONFIG_INVALID,
    `tracker option ${key} is ${String(value)}; use ${expected}`,
  );
}

function isUsable(d: Detection): boolean {
  const { x, y, width, height } = d.box;
  return (
    Number.isFinite(x) &&
    Number.isFinite(y) &&
    Number.isFinite(d.score) &&
    width > 0 &&
    height > 0 &&
    Number.isFinite(width) &&
    Number.isFinite(height)
  );
}

interface Association {
  pairs: Array<[TrackEntry, Detection]>;
  tracks: TrackEntry[];
  detections: Detection[];
}

/** Matches tracks to detections by least total (1 - IoU), keeping pairs with IoU >= minIou. */
function associate(tracks: TrackEntry[], detections: Detection[], minIou: number): Association {
  const boxes = tracks.map((t) => t.box());
  const cost = (i: number, j: number) => 1 - iou(boxes[i], detections[j].box);
  // matchMinCost keeps costs strictly below its limit; nudge it so IoU == minIou matches.
  const m = matchMinCost(tracks.length, detections.length, cost, 1 - minIou + 1e-9);
  return {
    pairs: m.pairs.map(([i, j]) => [tracks[i], detections[j]]),
    tracks: m.unmatchedRows.map((i) => tracks[i]),
    detections: m.unmatchedCols.map((j) => detections[j]),
  };
}

/** Intersection over union of two boxes; 0 when either is empty. */
function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/*
 * Motion model. The box is tracked as centre (cx, cy) and size (w, h), each with a velocity,
 * in pixels and seconds. Transition and noise never mix coordinates, so the 8-state Kalman
 * filter splits exactly into four independent 2-state filters, which is all this is.
 * Noise scales with the face's size, as in ByteTrack, so near and far faces behave alike.
 */

/** Detector box noise, standard deviation as a fraction of the face size. */
const MEASUREMENT_STD = 0.05;
/** Random acceleration of the centre, face sizes per second squared. */
const CENTRE_ACCEL_STD = 4;
/** Random acceleration of the size (zooming), face sizes per second squared. */
const SIZE_ACCEL_STD = 1;
/** Velocity uncertainty of a new track: large, so the second detection sets the velocity. */
const INITIAL_CENTRE_VELOCITY_STD = 10;
const INITIAL_SIZE_VELOCITY_STD = 2;

/** Position and velocity of one coordinate with their 2x2 covariance. */
class Axis {
  pp: number;
  pv = 0;
  vv: number;
  v = 0;

  constructor(
    public p: number,
    positionStd: number,
    velocityStd: number,
  ) {
    this.pp = positionStd ** 2;
    this.vv = velocityStd ** 2;
  }

  /** Constant velocity over `dt` seconds, with white-noise acceleration of density `q`. */
  predict(dt: number, q: number): void {
    this.p += this.v * dt;
    this.pp += 2 * dt * this.pv + dt * dt * this.vv + (q * dt ** 3) / 3;
    this.pv += dt * this.vv + (q * dt * dt) / 2;
    this.vv += q * dt;
  }

  /** Folds in a measurement `z` of the position with variance `r`. */
  correct(z: number, r: number): void {
    const s = this.pp + r;
    const kp = this.pp / s;
    const kv = this.pv / s;
    const innovation = z - this.p;
    this.p += kp * innovation;
    this.v += kv * innovation;
    this.vv -= kv * this.pv;
    this.pp *= 1 - kp;
    this.pv *= 1 - kp;
  }
}

/** The tracker's private, mutable state of one track. */
class TrackEntry {
  state: TrackState;
  hits = 1;
  age = 1;
  lostFrames = 0;
  score: number;
  lastSeenMs: number;
  detection: Detection | undefined;
  private timeMs: number;
  private readonly cx: Axis;
  private readonly cy: Axis;
  private readonly w: Axis;
  private readonly h: Axis;

  constructor(
    readonly id: number,
    detection: Detection,
    timestampMs: number,
    confirmed: boolean,
  ) {
    const { x, y, width, height } = detection.box;
    const size = (width + height) / 2;
    const std = MEASUREMENT_STD * size;
    this.cx = new Axis(x + width / 2, std, INITIAL_CENTRE_VELOCITY_STD * size);
    this.cy = new Axis(y + height / 2, std, INITIAL_CENTRE_VELOCITY_STD * size);
    this.w = new Axis(width, std, INITIAL_SIZE_VELOCITY_STD * size);
    this.h = new Axis(height, std, INITIAL_SIZE_VELOCITY_STD * size);
    this.state = confirmed ? 'confirmed' : 'tentative';
    this.score = detection.score;
    this.detection = detection;
    this.lastSeenMs = timestampMs;
    this.timeMs = timestampMs;
  }

  /** Moves the estimate to `timestampMs` and starts a new frame for this track. */
  predict(timestampMs: number): void {
    const dt = Math.max(0, timestampMs - this.timeMs) / 1000;
    this.timeMs = Math.max(this.timeMs, timestampMs);
    this.age++;
    this.detection = undefined;
    if (dt === 0) return;

    const size = this.size();
    const qCentre = (CENTRE_ACCEL_STD * size) ** 2;
    const qSize = (SIZE_ACCEL_STD * size) ** 2;
    this.cx.predict(dt, qCentre);
    this.cy.predict(dt, qCentre);
    this.w.predict(dt, qSize);
    this.h.predict(dt, qSize);
    this.w.p = Math.max(1, this.w.p);
    this.h.p = Math.max(1, this.h.p);
  }

  correct(detection: Detection, timestampMs: number, minHits: number): void {
    const { x, y, width, height } = detection.box;
    const r = (MEASUREMENT_STD * ((width + height) / 2)) ** 2;
    this.cx.correct(x + width / 2, r);
    this.cy.correct(y + height / 2, r);
    this.w.correct(width, r);
    this.h.correct(height, r);

    this.hits++;
    this.lostFrames = 0;
    this.score = detection.score;
    this.detection = detection;
    this.lastSeenMs = timestampMs;
    if (this.state === 'lost' || (this.state === 'tentative' && this.hits >= minHits)) {
      this.state = 'confirmed';
    }
  }

  miss(): void {
    // Without detections a box should drift with the face, not grow or shrink on a guess.
    if (this.state !== 'lost') {
      this.w.v = 0;
      this.h.v = 0;
    }
    this.state = 'lost';
    this.lostFrames++;
  }

  box(): Box {
    const width = this.w.p;
    const height = this.h.p;
    return { x: this.cx.p - width / 2, y: this.cy.p - height / 2, width, height };
  }

  snapshot(): Track {
    const track: Track = {
      id: this.id,
      box: this.box(),
      score: this.score,
      state: this.state,
      hits: this.hits,
      age: this.age,
      lostFrames: this.lostFrames,
      lastSeenMs: this.lastSeenMs,
    };
    if (this.detection) track.detection = this.detection;
    return track;
  }

  private size(): number {
    return Math.max(1, (this.w.p + this.h.p) / 2);
  }
}
