/**
 * Runs one source through detection, tracking, per-track task scheduling and batched
 * FaceXFormer inference, and emits one FrameRecord per frame, in frame order.
 *
 * Stages overlap: while frame k waits for the model, frame k+1 is decoded and detected.
 * At most `maxInFlight` frames are between the detector and the emitted record, so memory
 * stays bounded; a file source is paused by that bound, a live source drops its oldest
 * frames itself (see openSource).
 */
import { EventEmitter } from 'node:events';
import type { TaskName } from '../model/contract.js';
import type { FaceRecord, FrameRecord } from './record.js';
import type { Box, Detection, Frame } from './types.js';
import { FaceTracker, type FaceTrackerOptions, type Track } from './tracker.js';
import { TaskScheduler } from './task-scheduler.js';
import { TrackResults } from './face-state.js';

/** Finds faces in a frame (FaceDetector fits). */
export interface Detector {
  detect(frame: Frame): Promise<Detection[]>;
}

/** Runs the model on faces of a frame (ModelRunner fits). */
export interface FaceAnalyzer {
  analyze(
    frame: Frame,
    faces: Array<{ box: Box; tasks: TaskName[] }>,
  ): Promise<Array<Partial<FaceRecord>>>;
}

/** Where frames come from (FrameSource fits). */
export interface FrameFeed {
  frames(): AsyncIterable<Frame>;
}

/** Options of StreamProcessor. */
export interface StreamProcessorOptions {
  /** Source name written into every record. */
  sourceName: string;
  /** Tasks to run (already checked against the model). */
  tasks: TaskName[];
  /** Per-task refresh intervals in frames; see DEFAULT_TASK_INTERVALS. */
  intervals?: Partial<Record<TaskName, number>>;
  /** Frames allowed between detection and the emitted record. Default 4. */
  maxInFlight?: number;
  /** Tracker tuning. */
  tracker?: FaceTrackerOptions;
  /**
   * Treat every frame as one already-cropped face (no detector): the whole frame is the
   * face box and every task runs on every frame. Default false.
   */
  noDetect?: boolean;
}

/** Timings of one frame, in milliseconds. */
export interface FrameTimings {
  detectMs: number;
  inferMs: number;
  /** From decode to emitted record. */
  latencyMs: number;
}

/**
 * Processes one stream. Events: 'record' (record: FrameRecord, frame: Frame,
 * timings: FrameTimings). `run()` resolves when the source ends and every record is
 * emitted; it rejects with the source's or a stage's error after emitting every record
 * completed before it.
 */
export class StreamProcessor extends EventEmitter {
  private readonly tracker: FaceTracker;
  private readonly scheduler: TaskScheduler;
  private readonly results = new TrackResults();
  private readonly maxInFlight: number;
  private stopped = false;

  constructor(
    private readonly feed: FrameFeed,
    private readonly detector: Detector | undefined,
    private readonly analyzer: FaceAnalyzer,
    private readonly options: StreamProcessorOptions,
  ) {
    super();
    this.tracker = new FaceTracker(options.tracker);
    this.scheduler = new TaskScheduler({ intervals: options.intervals });
    this.maxInFlight = options.maxInFlight ?? 4;
    if (!options.noDetect && !detector) {
      throw new TypeError('StreamProcessor needs a detector unless noDetect is set');
    }
  }

  /** Asks the loop to stop after the frames already in flight. */
  stop(): void {
    this.stopped = true;
  }

  /** Processes the feed to its end. */
  async run(): Promise<void> {
    const pending: Array<Promise<void>> = [];
    let failure: unknown;
    try {
      for await (const frame of this.feed.frames()) {
        if (this.stopped) break;
        pending.push((await this.startFrame(frame)).done);
        while (pending.length >= this.maxInFlight) await pending.shift();
      }
    } catch (err) {
      failure = err;
    }
    // Records completed before a failure are still emitted, in order.
    for (const job of pending) await job.catch((err: unknown) => (failure ??= err));
    if (failure !== undefined) throw failure;
  }

  /** Detects and plans one frame now; `done` settles when its record is emitted. */
  private async startFrame(frame: Frame): Promise<{ done: Promise<void> }> {
    const started = Date.now();
    const tracks = await this.trackFaces(frame);
    const detectMs = Date.now() - started;

    const plan = this.untracked(frame)
      ? new Map(tracks.map((t) => [t.id, this.options.tasks]))
      : this.scheduler.plan(tracks, frame.index, this.options.tasks);
    const asked = tracks.filter((t) => plan.has(t.id));
    const inferStart = Date.now();
    const analysis = asked.length
      ? this.analyzer.analyze(frame, asked.map((t) => ({ box: t.box, tasks: plan.get(t.id)! })))
      : Promise.resolve([]);

    // Chained so that records leave in frame order even if batches finish out of order.
    const previous = this.lastEmit;
    const emitted = analysis.then(async (parts) => {
      const inferMs = Date.now() - inferStart;
      await previous;
      this.emitRecord(frame, tracks, asked, plan, parts, { detectMs, inferMs });
    });
    this.lastEmit = emitted.catch(() => undefined);
    return { done: emitted };
  }

  private lastEmit: Promise<void> = Promise.resolve();

  /** A still image, or any frame under noDetect: every task on every face, no smoothing. */
  private untracked(frame: Frame): boolean {
    return this.options.noDetect === true || frame.file !== undefined;
  }

  private async trackFaces(frame: Frame): Promise<Track[]> {
    if (this.options.noDetect) {
      const box = { x: 0, y: 0, width: frame.width, height: frame.height };
      return stillTracks([{ box, score: 1 }], frame.timestampMs);
    }
    const detections = await this.detector!.detect(frame);
    if (frame.file !== undefined) return stillTracks(detections, frame.timestampMs);
    const update = this.tracker.update(detections, frame.timestampMs);
    if (update.ended.length) {
      this.scheduler.forget(update.ended);
      this.results.forget(update.ended);
    }
    // Confirmed faces seen in this frame: lost tracks are predictions, and a tentative track
    // may be a one-frame false positive (faces on a stream's first frame are confirmed at once).
    return update.tracks.filter((t) => t.detection !== undefined && t.state === 'confirmed');
  }

  private emitRecord(
    frame: Frame,
    tracks: Track[],
    asked: Track[],
    plan: Map<number, TaskName[]>,
    parts: Array<Partial<FaceRecord>>,
    timing: { detectMs: number; inferMs: number },
  ): void {
    const computed = new Map(asked.map((t, i) => [t.id, parts[i] ?? {}]));
    const faces: FaceRecord[] = [];
    for (const track of tracks) {
      const box = roundBox(track.detection?.box ?? track.box);
      const part = computed.get(track.id) ?? {};
      const tasks = plan.get(track.id);
      if (tasks) this.scheduler.done(track.id, tasks, frame.index);
      const face = { ...part, id: track.id, box, score: round(track.score, 3) } as FaceRecord;
      faces.push(this.untracked(frame) ? face : this.results.merge(face, frame.index, frame.timestampMs));
    }

    const record: FrameRecord = {
      source: frame.file ?? this.options.sourceName,
      frame: frame.index,
      timestampMs: Math.round(frame.timestampMs * 1000) / 1000,
      width: frame.width,
      height: frame.height,
      faces,
    };
    const timings: FrameTimings = { ...timing, latencyMs: Date.now() - frame.decodedAt };
    this.emit('record', record, frame, timings);
  }
}

/** The faces of an untracked frame: ids 1, 2, ... from left to right, nothing carried over. */
function stillTracks(detections: Detection[], timestampMs: number): Track[] {
  const ordered = [...detections].sort((a, b) => a.box.x - b.box.x);
  return ordered.map((detection, i) => ({
    id: i + 1,
    box: detection.box,
    score: detection.score,
    detection,
    state: 'confirmed',
    hits: 1,
    age: 1,
    lostFrames: 0,
    lastSeenMs: timestampMs,
  }));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function roundBox(box: Box): Box {
  return { x: round(box.x, 1), y: round(box.y, 1), width: round(box.width, 1), height: round(box.height, 1) };
}
