/**
 * Writes an H.264 video of the analyzed frames with the results drawn over them: frames go
 * through sharp (SVG overlay) into an ffmpeg encoder on a pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import sharp from 'sharp';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { FfmpegBinaries } from './ffmpeg.js';
import { overlaySvg } from './overlay-svg.js';
import type { FrameRecord } from './record.js';
import type { Frame } from './types.js';

/** Encodes annotated frames into one video file. */
export class AnnotatedWriter {
  private encoder: ChildProcess | undefined;
  private size: { width: number; height: number } | undefined;
  private stderr = '';

  /**
   * @param outPath the video to write (any container ffmpeg infers from the extension).
   * @param fps frame rate of the written video, frames per second.
   */
  constructor(
    private readonly outPath: string,
    private readonly fps: number,
    private readonly binaries: FfmpegBinaries,
  ) {}

  /** Draws the record over its frame and appends it. Frames of another size are scaled. */
  async write(frame: Frame, record: FrameRecord): Promise<void> {
    const encoder = this.start(frame);
    const { width, height } = this.size!;
    let image = sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .composite([{ input: Buffer.from(overlaySvg(record)), top: 0, left: 0 }]);
    if (frame.width !== width || frame.height !== height) {
      image = sharp(await image.png().toBuffer()).resize(width, height, { fit: 'contain' });
    }
    const pixels = await image.removeAlpha().raw().toBuffer();
    if (!encoder.stdin!.write(pixels)) await once(encoder.stdin!, 'drain');
  }

  /** Finishes the file. */
  async close(): Promise<void> {
    const encoder = this.encoder;
    if (!encoder) return;
    encoder.stdin!.end();
    const [code] = (await once(encoder, 'close')) as [number | null];
    if (code !== 0) {
      throw new FxsError(
        ErrorCodes.INPUT_UNREADABLE,
        `cannot write annotated video '${this.outPath}': ffmpeg said ${lastLine(this.stderr)}; check the path and extension`,
      );
    }
  }

  private start(frame: Frame): ChildProcess {
    if (this.encoder) return this.encoder;
    // libx264 with yuv420p needs even sizes.
    this.size = { width: frame.width & ~1, height: frame.height & ~1 };
    const args = [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24',
      '-s', `${this.size.width}x${this.size.height}`, '-r', String(this.fps), '-i', 'pipe:0',
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
      this.outPath,
    ];
    this.encoder = spawn(this.binaries.ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.encoder.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.encoder.stdin!.on('error', () => undefined);
    return this.encoder;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() || 'nothing';
}
