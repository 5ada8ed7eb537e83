/**
 * Groups faces from every caller into model calls of up to `maxBatch` faces.
 *
 * A batch leaves when it is full, or when its oldest face has waited `maxWaitMs`, but only
 * while fewer than `maxInFlight` batches are running. Faces that arrive while the model is
 * busy therefore pile up and leave together as soon as it is free: the busier the runtime,
 * the larger its batches, without adding latency when it is idle.
 */

/** The timer functions the batcher uses; tests pass a manual clock. */
export interface BatchClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of FaceBatcher. */
export interface FaceBatcherOptions {
  /** Most faces in one model call. Default 8. */
  maxBatch?: number;
  /** Longest a face waits for others before its batch leaves, in milliseconds. Default 5. */
  maxWaitMs?: number;
  /** Batches allowed to run at once. Default 1. */
  maxInFlight?: number;
  /** Time source. Default the real clock. */
  clock?: BatchClock;
}

/** Runs one batch; it must settle every item itself (the batcher only sequences batches). */
export type BatchRunner<T> = (items: T[]) => Promise<void>;

const realClock: BatchClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Queue of faces waiting for a model call (see the file comment for the policy). */
export class FaceBatcher<T> {
  private readonly queue: Array<{ item: T; at: number }> = [];
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly maxInFlight: number;
  private readonly clock: BatchClock;
  private running = 0;
  private timer: unknown;

  constructor(
    private readonly run: BatchRunner<T>,
    options: FaceBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 8;
    this.maxWaitMs = options.maxWaitMs ?? 5;
    this.maxInFlight = options.maxInFlight ?? 1;
    this.clock = options.clock ?? realClock;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    }
    if (!(this.maxWaitMs >= 0)) {
      throw new RangeError(`maxWaitMs must be >= 0, got ${this.maxWaitMs}`);
    }
  }

  /** Faces waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Batches running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Adds a face; it leaves in a batch per the policy above. */
  push(item: T): void {
    this.queue.push({ item, at: this.clock.now() });
    this.pump();
  }

  /** Adds several faces at once, so one caller's faces are considered together. */
  pushAll(items: readonly T[]): void {
    const at = this.clock.now();
    for (const item of items) this.queue.push({ item, at });
    this.pump();
  }

  /** Sends every queued face now, ignoring maxWaitMs (still in batches of maxBatch). */
  flush(): void {
    this.pump(true);
  }

  private pump(force = false): void {
    this.cancelTimer();
    while (this.queue.length > 0 && this.running < this.maxInFlight) {
      const waited = this.clock.now() - this.queue[0].at;
      if (!force && this.queue.length < this.maxBatch && waited < this.maxWaitMs) break;

      this.launch(this.queue.splice(0, this.maxBatch).map((q) => q.item));
    }

    if (this.queue.length > 0 && this.running < this.maxInFlight) {
      const due = this.queue[0].at + this.maxWaitMs - this.clock.now();
      this.timer = this.clock.setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        Math.max(0, due),
      );
    }
  }

  private launch(items: T[]): void {
    this.running++;
    this.run(items)
      .catch(() => {
        // The runner settles its items; a rejection here has already been delivered to them.
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
