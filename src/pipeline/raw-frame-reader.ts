/** One frame cut from ffmpeg's output, before it gets a source id and an index. */
export interface RawFrame {
  /** Presentation time in milliseconds, as ffmpeg's decoder stamped it. */
  ptsMs: number;
  width: number;
  height: number;
  /** RGB24, width * height * 3 bytes. */
  data: Buffer;
}

const SHOWINFO = /^\[Parsed_showinfo_\d+ @ [^\]]+\]/;
const FRAME_LINE = /\] n:\s*\d+ pts:\s*(-?\d+|NOPTS)\s.*?\bs:(\d+)x(\d+)/;
const CONFIG_LINE = /\] config in time_base: (\d+)\/(\d+), frame_rate: (\d+)\/(\d+)/;

/**
 * Cuts ffmpeg's raw RGB24 byte stream into frames. ffmpeg runs with `showinfo` as the last
 * filter, which logs each frame's integer pts and its size just before the frame is written,
 * so every frame gets its exact timestamp in the stream's time base (the decimal `pts_time` is
 * rounded to 6 digits and loses milliseconds after ~17 minutes) and its exact size, whatever
 * rotation, scaling or mid-stream size change happened before.
 *
 * The log and the pixels arrive on two pipes in no fixed order, so bytes wait here until the
 * line describing them has arrived, and lines wait until their bytes have. Either backlog is at
 * most a pipe's worth, since ffmpeg blocks when stdout is not read.
 */
export class RawFrameReader {
  private readonly pending: Array<{ ptsMs: number; width: number; height: number }> = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private timeBase = { num: 1, den: 1000 };
  private frameMs = 40;
  private lastPtsMs = -Infinity;

  constructor(private readonly onFrame: (frame: RawFrame) => void) {}

  /** Feeds one line of ffmpeg's log. Returns true when it was a showinfo line (consumed). */
  acceptLogLine(line: string): boolean {
    if (!SHOWINFO.test(line)) return false;

    const frame = FRAME_LINE.exec(line);
    if (frame) {
      this.pending.push({
        ptsMs: this.toMs(frame[1]),
        width: Number(frame[2]),
        height: Number(frame[3]),
      });
      this.drain();
      return true;
    }

    const config = CONFIG_LINE.exec(line);
    if (config) {
      this.timeBase = { num: Number(config[1]), den: Number(config[2]) };
      const rate = Number(config[3]) / Number(config[4]);
      if (rate > 0 && Number.isFinite(rate)) this.frameMs = 1000 / rate;
    }
    return true;
  }

  /** Feeds bytes from ffmpeg's stdout. */
  acceptData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  /** Bytes received that do not (yet) make a whole frame. */
  get leftoverBytes(): number {
    return this.buffered;
  }

  private toMs(pts: string): number {
    // A frame without a pts (rare, some live streams) is placed one frame after the last.
    const ms =
      pts === 'NOPTS'
        ? this.lastPtsMs + this.frameMs
        : (Number(pts) * this.timeBase.num * 1000) / this.timeBase.den;
    this.lastPtsMs = Number.isFinite(ms) ? ms : 0;
    return this.lastPtsMs;
  }

  private drain(): void {
    while (this.pending.length > 0) {
      const next = this.pending[0];
      const size = next.width * next.height * 3;
      if (this.buffered < size) return;

      this.pending.shift();
      this.onFrame({ ...next, data: this.take(size) });
    }
  }

  /** Removes `size` bytes from the front of the buffered chunks, copying them once. */
  private take(size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.chunks[0];
      const want = size - filled;
      if (chunk.length <= want) {
        chunk.copy(out, filled);
        filled += chunk.length;
        this.chunks.shift();
      } else {
        chunk.copy(out, filled, 0, want);
        this.chunks[0] = chunk.subarray(want);
        filled += want;
      }
    }
    this.buffered -= size;
    return out;
  }
}
