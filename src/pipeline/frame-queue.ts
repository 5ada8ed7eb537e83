import type { Frame } from './types.js';

/**
 * The hand-off between a decoder and the one consumer of `frames()`.
 *
 * 'all' mode keeps every frame; the producer asks `full` and stops reading until `onDrain`
 * fires. 'latest' mode holds one frame: a newer one replaces it and counts as dropped, so the
 * memory held never grows however far the consumer falls behind.
 */
export class FrameQueue {
  /** Frames replaced before the consumer took them ('latest' mode). */
  dropped = 0;
  /** Called when an 'all' queue that was full has room again. */
  onDrain: () => void = () => {};

  private readonly frames: Frame[] = [];
  private waiter: ((frame: Frame | undefined) => void) | null = null;
  private failWaiter: ((error: Error) => void) | null = null;
  private ended = false;
  private error: Error | null = null;

  constructor(
    private readonly mode: 'latest' | 'all',
    private readonly capacity: number,
  ) {}

  /** True when an 'all' queue holds `capacity` frames or more. Never true in 'latest' mode. */
  get full(): boolean {
    return this.mode === 'all' && this.frames.length >= this.capacity;
  }

  /** Hands a frame over; ignored once the queue has ended. */
  push(frame: Frame): void {
    if (this.ended) return;

    if (this.waiter) {
      const resolve = this.waiter;
      this.clearWaiter();
      resolve(frame);
      return;
    }

    if (this.mode === 'latest' && this.frames.length > 0) {
      this.frames.length = 0;
      this.dropped++;
    }
    this.frames.push(frame);
  }

  /** No more frames: the consumer drains what is held, then sees the end or `error`. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error ?? null;
    this.settleWaiter();
  }

  /** Ends at once and forgets the frames held, for `stop()`. */
  close(): void {
    this.frames.length = 0;
    this.end();
  }

  /** The next frame, or undefined at the end; rejects with the end's error once drained. */
  next(): Promise<Frame | undefined> {
    const frame = this.frames.shift();
    if (frame !== undefined) {
      if (this.mode === 'all' && this.frames.length < this.capacity) this.onDrain();
      return Promise.resolve(frame);
    }
    if (this.ended) return this.error ? Promise.reject(this.error) : Promise.resolve(undefined);

    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  private settleWaiter(): void {
    if (!this.waiter || !this.failWaiter) return;
    const resolve = this.waiter;
    const reject = this.failWaiter;
    this.clearWaiter();
    if (this.error) reject(this.error);
    else resolve(undefined);
  }

  private clearWaiter(): void {
    this.waiter = null;
    this.failWaiter = null;
  }
}
