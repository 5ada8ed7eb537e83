/**
 * The latest full result of every tracked face of one stream. Tasks are refreshed at
 * different intervals, so each frame brings a partial record; merged into the track's last
 * record, it gives a complete one in which stale fields carry the frame they come from.
 */
import { TASKS, type TaskName } from '../model/contract.js';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { FaceRecord } from './record.js';
import { FaceSmoother, type SmoothingOptions } from './smoothing.js';

/** Options of `TrackResults`. */
export interface TrackResultsOptions {
  /** How results are smoothed over time; see `SmoothingOptions` for the defaults. */
  smoothing?: SmoothingOptions;
  /**
   * Most tracks remembered; beyond it the one merged longest ago is dropped, which bounds
   * memory even when ended tracks are not passed to `forget`. Default 1024.
   */
  maxTracks?: number;
}

/**
 * Merges, smooths and remembers per-track results for one stream.
 *
 * @example
 * const results = new TrackResults();
 * const full = results.merge({ id, box, score, age }, frame.index, frame.timestampMs);
 * results.forget(ended);
 */
export class TrackResults {
  private readonly smoothing: SmoothingOptions;
  private readonly maxTracks: number;
  /** Insertion order is recency order: each merge moves a track to the end. */
  private readonly entries = new Map<number, TrackEntry>();

  /** @throws FxsError FXS_ERR_CONFIG_INVALID when an option is out of range. */
  constructor(options: TrackResultsOptions = {}) {
    this.smoothing = options.smoothing ?? {};
    new FaceSmoother(this.smoothing); // validates the options now rather than at first use

    this.maxTracks = options.maxTracks ?? 1024;
    if (!Number.isInteger(this.maxTracks) || this.maxTracks < 1) {
      throw new FxsError(
        ErrorCodes.CONFIG_INVALID,
        `maxTracks is ${String(options.maxTracks)}; use a whole number >= 1`,
      );
    }
  }

  /**
   * Folds this frame's results of one face into its track's record and returns the full
   * record: box and score from `face`, each task present in `face` smoothed and stamped
   * with `frameIndex` in `updated`, every other task as last computed. `face.updated` is
   * ignored. The returned record is the caller's; its task values are shared with the store
   * and with later records until replaced, so treat them as read-only.
   *
   * @param face the face's record for this frame, holding only the tasks just computed.
   * @param frameIndex index of the frame the results come from.
   * @param timestampMs that frame's time in milliseconds; drives the time-based filters.
   */
  merge(face: FaceRecord, frameIndex: number, timestampMs: number): FaceRecord {
    const entry = this.touch(face.id);
    const record = entry.record;
    record.box = { ...face.box };
    record.score = face.score;

    for (const task of TASKS) {
      if (face[task] === undefined) continue;
      mergeTask(record, entry.smoother, face, task, timestampMs);
      record.updated[task] = frameIndex;
    }
    return { ...record, updated: { ...record.updated } };
  }

  /** The last full record of a track, or undefined when unknown or forgotten. */
  get(trackId: number): FaceRecord | undefined {
    const entry = this.entries.get(trackId);
    return entry && { ...entry.record, updated: { ...entry.record.updated } };
  }

  /** Drops the records and smoothing state of these tracks (the tracker's `ended` ids). */
  forget(trackIds: Iterable<number>): void {
    for (const id of trackIds) this.entries.delete(id);
  }

  /** Number of tracks remembered. */
  get size(): number {
    return this.entries.size;
  }

  private touch(id: number): TrackEntry {
    let entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
    } else {
      const record = { id, box: { x: 0, y: 0, width: 0, height: 0 }, score: 0, updated: {} };
      entry = { record, smoother: new FaceSmoother(this.smoothing) };
    }
    this.entries.set(id, entry);

    if (this.entries.size > this.maxTracks) {
      this.entries.delete(this.entries.keys().next().value as number);
    }
    return entry;
  }
}

interface TrackEntry {
  record: FaceRecord & { updated: Partial<Record<string, number>> };
  smoother: FaceSmoother;
}

function mergeTask(
  record: FaceRecord,
  smoother: FaceSmoother,
  face: FaceRecord,
  task: TaskName,
  timestampMs: number,
): void {
  switch (task) {
    case 'landmarks':
      record.landmarks = smoother.landmarks(face.landmarks!, face.box, timestampMs);
      return;
    case 'headPose':
      record.headPose = smoother.headPose(face.headPose!, timestampMs);
      return;
    case 'age':
    case 'gender':
    case 'race':
      record[task] = smoother.classify(task, face[task]!);
      return;
    case 'attributes':
      record.attributes = smoother.attributes(face.attributes!);
      return;
    case 'visibility':
      record.visibility = smoother.visibility(face.visibility!);
      return;
    case 'parsing':
      record.parsing = face.parsing;
      return;
  }
}
