/**
 * Progress of a bulk analysis: a bar with frames, fps and ETA on a terminal, a line every few
 * seconds otherwise (so logs of long runs still show that work goes on).
 */
import cliProgress from 'cli-progress';

/** Reports frames done for one input at a time. */
export class AnalyzeProgressView {
  private bar: cliProgress.SingleBar | undefined;
  private readonly tty: boolean;
  private started = Date.now();
  private lastLine = 0;
  private total = 0;
  private label = '';

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly intervalMs = 5000) {
    this.tty = Boolean(out.isTTY);
  }

  /** A new input starts; `total` frames when known (0 = unknown). */
  startInput(label: string, total: number): void {
    this.stop();
    this.label = label;
    this.total = total;
    this.started = Date.now();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.out,
        format: total
          ? ' {label} |{bar}| {value}/{total} frames | {fps} fps | ETA {eta_formatted}'
          : ' {label} | {value} frames | {fps} fps',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total || 1, 0, { label, fps: '0.0' });
  }

  /** `done` frames of the current input are written. */
  update(done: number): void {
    const fps = (done / Math.max((Date.now() - this.started) / 1000, 1e-3)).toFixed(1);
    if (this.bar) {
      if (done > this.total && this.total) this.bar.setTotal(done);
      this.bar.update(done, { fps });
      return;
    }
    const now = Date.now();
    if (now - this.lastLine < this.intervalMs) return;
    this.lastLine = now;
    const of = this.total ? `/${this.total}` : '';
    this.out.write(`${this.label}: ${done}${of} frames, ${fps} fps\n`);
  }

  /** Ends the current bar. */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
