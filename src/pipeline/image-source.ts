import { EventEmitter } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { FrameSource, SourceOptions, SourceState } from './frame-source.js';
import { IMAGE_EXTENSIONS, type SourceSpec } from './source-spec.js';
import type { Frame } from './types.js';

/** Frame rate at which stills are timestamped when no `fps` option is given. */
export const DEFAULT_IMAGE_FPS = 25;

/**
 * Still images as a source: a folder (its image files in natural sort order, so `img2` comes
 * before `img10`), a `.txt` list (in its own order) or one image. Each image is one frame,
 * decoded with sharp into RGB, turned upright by its EXIF orientation, alpha dropped. The next
 * image is decoded while the consumer works on the current one, never further ahead.
 */
export class ImageSource extends EventEmitter implements FrameSource {
  readonly id: string;
  readonly displayName: string;
  readonly live = false;
  readonly droppedFrames = 0;

  private state: SourceState | null = null;
  private started = false;
  private stopped = false;

  constructor(
    private readonly spec: SourceSpec,
    private readonly options: SourceOptions = {},
  ) {
    super();
    this.id = spec.id;
    this.displayName = spec.displayName;
  }

  frames(): AsyncIterable<Frame> {
    if (this.started) {
      throw new TypeError(`frames() of source '${this.id}' was already called; call it once`);
    }
    this.started = true;
    return this.iterate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.setState('ended', 'stopped');
  }

  private async *iterate(): AsyncGenerator<Frame> {
    try {
      this.setState('connecting');
      const files = await this.listImages();
      const intervalMs = 1000 / (this.options.fps ?? DEFAULT_IMAGE_FPS);

      let next = files.length > 0 ? this.decode(files[0]) : undefined;
      for (let index = 0; next !== undefined && !this.stopped; index++) {
        const image = await next;
        next = index + 1 < files.length ? this.decode(files[index + 1]) : undefined;
        // An unread prefetch must not surface as an unhandled rejection after a stop.
        next?.catch(() => {});
        if (this.stopped) break;

        if (index === 0) this.setState('playing');
        yield {
          sourceId: this.id,
          index,
          timestampMs: index * intervalMs,
          ...image,
          decodedAt: Date.now(),
          // One image is named like a video file; a folder's or list's images by their path.
          file: this.spec.imageList === 'single' ? this.displayName : files[index],
        };
      }
      this.setState('ended');
    } catch (err) {
      this.setState('failed', err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      this.stopped = true;
    }
  }

  private async listImages(): Promise<string[]> {
    const { target, imageList } = this.spec;
    if (imageList === 'single') return [target];
    const files = imageList === 'list' ? await readList(target) : await readFolder(target);
    if (files.length === 0) {
      throw new FxsError(
        ErrorCodes.INPUT_UNREADABLE,
        `'${this.displayName}' holds no images (${[...IMAGE_EXTENSIONS].join(' ')}); ` +
          'add some or pass another folder or list',
      );
    }
    return files;
  }

  private async decode(file: string): Promise<Pick<Frame, 'width' | 'height' | 'data'>> {
    const { width, height } = this.options;
    let pipeline = sharp(file, { failOn: 'error' }).rotate();
    if (width !== undefined || height !== undefined) {
      pipeline = pipeline.resize({ width, height, fit: 'inside' });
    }

    try {
      const { data, info } = await pipeline
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, data: toRgb(data, info.channels) };
    } catch (err) {
      throw this.decodeError(file, err);
    }
  }

  private decodeError(file: string, err: unknown): FxsError {
    const name = path.basename(file);
    const where = this.spec.imageList === 'single' ? '' : ` (listed in '${this.displayName}')`;
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (/no such file|missing|not found|does not exist/i.test(reason)) {
      return new FxsError(
        ErrorCodes.INPUT_NOT_FOUND,
        `cannot open image '${name}'${where}: no such file; fix the list or restore the file`,
      );
    }
    return new FxsError(
      ErrorCodes.INPUT_UNREADABLE,
      `cannot read image '${name}'${where}: ${reason}; replace or remove it`,
    );
  }

  private setState(state: SourceState, detail?: string): void {
    if (this.state === state || this.state === 'ended' || this.state === 'failed') return;
    this.state = state;
    this.emit('state', state, detail);
  }
}

async function readFolder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries
    // Symbolic links count: a folder of links is a common way to pick a subset of images.
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .filter((e) => IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => path.join(folder, name));
}

/** One path a line, relative to the list's folder; blank lines and `#` comments skipped. */
async function readList(listFile: string): Promise<string[]> {
  const text = await readFile(listFile, 'utf8');
  const folder = path.dirname(listFile);
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => path.resolve(folder, line));
}

/** sharp keeps one channel for some grey inputs even when asked for sRGB; widen those. */
function toRgb(data: Buffer, channels: number): Buffer {
  if (channels === 3) return data;
  const pixels = data.length / channels;
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const v = data[i * channels];
    rgb[i * 3] = v;
    rgb[i * 3 + 1] = v;
    rgb[i * 3 + 2] = v;
  }
  return rgb;
}
