/**
 * Decides, per tracked face and frame, which FaceXFormer tasks to refresh. One forward pass
 * serves every task, so the saving is in faces skipped when nothing is due and in outputs
 * not fetched or decoded (parsing above all); slow-changing answers such as age, gender and
 * race need not be recomputed on every frame.
 */
import { ErrorCodes, FxsError } from '../common/errors.js';
import { TASKS, type TaskName } from '../model/contract.js';
import type { TrackState } from './tracker.js';

/** Refresh interval of each task in processed frames (after any fps cap); 1 = every frame. */
export const DEFAULT_TASK_INTERVALS: Readonly<Record<TaskName, number>> = Object.freeze({
  landmarks: 1,
  headPose: 1,
  parsing: 1,
  visibility: 1,
  attributes: 10,
  age: 15,
  gender: 15,
  race: 15,
});

/** The part of a track the scheduler looks at (`Track` from tracker.ts fits). */
export interface SchedulableTrack {
  id: number;
  /** Lost tracks have no detection to crop and are never planned. Default 'confirmed'. */
  state?: TrackState;
}

/** Options of `TaskScheduler`. */
export interface TaskSchedulerOptions {
  /** Per-task intervals in frames, overriding `DEFAULT_TASK_INTERVALS`; whole numbers >= 1. */
  intervals?: Partial<Record<TaskName, number>>;
  /**
   * Most tracks remembered; beyond it the one planned longest ago is dropped, which bounds
   * memory even when ended tracks are not passed to `forget`. Default 1024.
   */
  maxTracks?: number;
}

/**
 * Plans per-track task refreshes for one stream. Each task of a track runs again once its
 * interval has passed since it last ran; a track seen for the first time, or just confirmed,
 * gets every enabled task at once.
 *
 * Use: `plan` before inference, `done` when results arrive, `cancel` when an inference was
 * dropped or failed, `forget` with the tracker's ended ids.
 */
export class TaskScheduler {
  private readonly intervals: Record<TaskName, number>;
  private readonly maxTracks: number;
  /** Insertion order is recency order: each plan moves a track to the end. */
  private readonly entries = new Map<number, TrackTasks>();

  /**
   * @throws FxsError FXS_ERR_UNKNOWN_TASK for an interval of an unknown task,
   *   FXS_ERR_CONFIG_INVALID for an interval or maxTracks that is not a whole number >= 1.
   */
  constructor(options: TaskSchedulerOptions = {}) {
    this.intervals = { ...DEFAULT_TASK_INTERVALS };
    for (const [task, frames] of Object.entries(options.intervals ?? {})) {
      if (frames === undefined) continue;
      if (!isTask(task)) {
        throw new FxsError(
          ErrorCodes.UNKNOWN_TASK,
          `unknown task '${task}' in intervals; use one of ${TASKS.join(', ')}`,
        );
      }
      if (!isCount(frames)) {
        throw new FxsError(
          ErrorCodes.CONFIG_INVALID,
          `intervals.${task} is ${String(frames)}; use a whole number of frames >= 1`,
        );
      }
      this.intervals[task] = frames;
    }

    this.maxTracks = options.maxTracks ?? 1024;
    if (!isCount(this.maxTracks)) {
      throw new FxsError(
        ErrorCodes.CONFIG_INVALID,
        `maxTracks is ${String(options.maxTracks)}; use a whole number >= 1`,
      );
    }
  }

  /** Refresh interval of `task` in frames. */
  intervalOf(task: TaskName): number {
    return this.intervals[task];
  }

  /**
   * Chooses the tasks to compute on this frame for each track that is not lost, and marks
   * them as in flight so they are not planned again before their interval passes.
   *
   * @param tracks this frame's tracks; lost ones are skipped.
   * @param frameIndex the frame's index in the stream; an index below the one a track was
   *   last planned at is taken as a restart of the stream and makes every task due.
   * @param enabledTasks the tasks wanted for this stream (those the model supports).
   * @returns track id to its due tasks in `TASKS` order; tracks with nothing due are absent.
   */
  plan(
    tracks: Iterable<SchedulableTrack>,
    frameIndex: number,
    enabledTasks: Iterable<TaskName>,
  ): Map<number, TaskName[]> {
    const enabled = new Set(enabledTasks);
    const tasks = TASKS.filter((t) => enabled.has(t));
    const plan = new Map<number, TaskName[]>();

    for (const track of tracks) {
      const state = track.state ?? 'confirmed';
      if (state === 'lost') continue;

      const entry = this.touch(track.id);
      const restarted = entry.lastFrame !== undefined && frameIndex < entry.lastFrame;
      if (restarted) {
        entry.done.clear();
        entry.pending.clear();
      }
      const confirmedNow = entry.state === 'tentative' && state === 'confirmed';
      const refreshAll = entry.state === undefined || restarted || confirmedNow;
      entry.state = state;
      entry.lastFrame = frameIndex;

      const due = tasks.filter((task) => refreshAll || this.isDue(entry, task, frameIndex));
      for (const task of due) entry.pending.set(task, frameIndex);
      if (due.length > 0) plan.set(track.id, due);
    }
    return plan;
  }

  /**
   * Records that `tasks` of a track were computed on frame `frameIndex`. Unknown (forgotten)
   * tracks are ignored.
   */
  done(trackId: number, tasks: Iterable<TaskName>, frameIndex: number): void {
    const entry = this.entries.get(trackId);
    // A result from beyond the last planned frame predates a restart of the stream.
    if (!entry || entry.lastFrame === undefined || frameIndex > entry.lastFrame) return;

    for (const task of tasks) {
      const last = entry.done.get(task);
      if (last === undefined || frameIndex >= last) entry.done.set(task, frameIndex);
      const pending = entry.pending.get(task);
      if (pending !== undefined && pending <= frameIndex) entry.pending.delete(task);
    }
  }

  /**
   * Withdraws in-flight tasks whose results will never come (dropped frame, failed
   * inference), so they are planned again on the next frame when due. Default: all of them.
   */
  cancel(trackId: number, tasks: Iterable<TaskName> = TASKS): void {
    const entry = this.entries.get(trackId);
    if (!entry) return;
    for (const task of tasks) entry.pending.delete(task);
  }

  /** Drops what is known about these tracks (the tracker's `ended` ids). */
  forget(trackIds: Iterable<number>): void {
    for (const id of trackIds) this.entries.delete(id);
  }

  /** Number of tracks remembered. */
  get size(): number {
    return this.entries.size;
  }

  private isDue(entry: TrackTasks, task: TaskName, frameIndex: number): boolean {
    const done = entry.done.get(task);
    const pending = entry.pending.get(task);
    if (done === undefined && pending === undefined) return true;

    const last = Math.max(done ?? -Infinity, pending ?? -Infinity);
    return frameIndex - last >= this.intervals[task];
  }

  private touch(id: number): TrackTasks {
    const entry = this.entries.get(id) ?? newEntry();
    this.entries.delete(id);
    this.entries.set(id, entry);

    if (this.entries.size > this.maxTracks) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
    return entry;
  }
}

/** What the scheduler remembers of one track. */
interface TrackTasks {
  /** State at the last plan; undefined before the first. */
  state: TrackState | undefined;
  /** Frame index of the last plan; undefined before the first. */
  lastFrame: number | undefined;
  /** Frame index at which each task was last computed. */
  done: Map<TaskName, number>;
  /** Frame index at which each in-flight task was planned. */
  pending: Map<TaskName, number>;
}

function newEntry(): TrackTasks {
  return { state: undefined, lastFrame: undefined, done: new Map(), pending: new Map() };
}

function isTask(name: string): name is TaskName {
  return (TASKS as readonly string[]).includes(name);
}

function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1;
}
