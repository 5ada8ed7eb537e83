/** Rolling per-stream throughput and latency figures for the dashboard and /healthz. */
import type { StreamStats } from '../stream/engine.js';

/** Options of StreamStatsWindow. */
export interface StreamStatsOptions {
  /** Span over which frame rates are measured, in milliseconds. Default 2000. */
  rateWindowMs?: number;
  /** Latencies kept for the percentiles. Default 200. */
  latencySamples?: number;
}

/** Counts frames in and out and keeps recent latencies, in bounded memory. */
export class StreamStatsWindow {
  private framesIn = 0;
  private framesOut = 0;
  private faces = 0;
  private readonly inTimes: number[] = [];
  private readonly outTimes: number[] = [];
  private readonly latencies: number[] = [];
  private readonly rateWindowMs: number;
  private readonly latencySamples: number;

  constructor(options: StreamStatsOptions = {}) {
    this.rateWindowMs = options.rateWindowMs ?? 2000;
    this.latencySamples = options.latencySamples ?? 200;
  }

  /** A frame entered the pipeline at `now` (ms). */
  frameIn(now = Date.now()): void {
    this.framesIn += 1;
    this.push(this.inTimes, now);
  }

  /** A frame's results left the pipeline at `now` (ms). */
  frameOut(latencyMs: number, faces: number, now = Date.now()): void {
    this.framesOut += 1;
    this.faces = faces;
    this.push(this.outTimes, now);
    this.latencies.push(latencyMs);
    if (this.latencies.length > this.latencySamples) this.latencies.shift();
  }

  /** The figures now; `dropped` comes from the source. */
  snapshot(dropped: number, now = Date.now()): StreamStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      fpsIn: this.rate(this.inTimes, now),
      fpsOut: this.rate(this.outTimes, now),
      latencyP50Ms: percentile(sorted, 0.5),
      latencyP95Ms: percentile(sorted, 0.95),
      framesIn: this.framesIn + dropped,
      framesOut: this.framesOut,
      dropped,
      faces: this.faces,
    };
  }

  private push(times: number[], now: number): void {
    times.push(now);
    while (times.length > 0 && times[0] < now - this.rateWindowMs) times.shift();
  }

  private rate(times: number[], now: number): number {
    const recent = times.filter((t) => t >= now - this.rateWindowMs);
    if (recent.length < 2) return 0;
    const span = Math.max(now - recent[0], 1);
    return Math.round(((recent.length - 1) * 1000 * 10) / span) / 10;
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.floor(q * sorted.length));
  return Math.round(sorted[i]);
}
