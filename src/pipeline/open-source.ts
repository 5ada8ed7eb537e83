import { FfmpegSource } from './ffmpeg-source.js';
import type { FrameSource, SourceOptions } from './frame-source.js';
import { ImageSource } from './image-source.js';
import { parseSourceSpec } from './source-spec.js';

export type { FrameSource, ReconnectOptions, SourceOptions, SourceState } from './frame-source.js';

/**
 * Opens an input for decoding: a video file, a folder or `.txt` list of images, one image,
 * `rtsp://`, `http(s)://` (HLS included) or a webcam (`/dev/video0`, `webcam:0`). Nothing runs
 * until `frames()` is called; errors found while decoding are thrown by `frames()`.
 *
 * @throws FxsError `FXS_ERR_INPUT_UNSUPPORTED` (empty input, unknown scheme, bad URL) or
 *   `FXS_ERR_INPUT_NOT_FOUND` (no such path), at once.
 * @throws RangeError when a numeric option is out of range (sizes, rates, delays).
 */
export function openSource(input: string, options: SourceOptions = {}): FrameSource {
  checkOptions(options);
  const parsed = parseSourceSpec(input);
  const canOverrideLive = parsed.kind === 'http' || parsed.kind === 'hls';
  const spec = {
    ...parsed,
    id: options.id ?? parsed.id,
    live: canOverrideLive && options.live !== undefined ? options.live : parsed.live,
  };
  return spec.kind === 'images' ? new ImageSource(spec, options) : new FfmpegSource(spec, options);
}

function checkOptions(options: SourceOptions): void {
  positiveInteger('width', options.width);
  positiveInteger('height', options.height);
  positiveInteger('bufferFrames', options.bufferFrames);
  positiveInteger('reconnect.connectAttempts', options.reconnect?.connectAttempts);
  positive('fps', options.fps);
  positive('stallTimeoutMs', options.stallTimeoutMs);
  positive('connectTimeoutMs', options.connectTimeoutMs);
  positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs);
  atLeastZero('reconnect.initialDelayMs', options.reconnect?.initialDelayMs);
  atLeastZero('reconnect.maxAttempts', options.reconnect?.maxAttempts);
  if (options.id !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(options.id)) {
    throw new RangeError(`id '${options.id}' must be 1-64 letters, digits, '.', '_' or '-'`);
  }
}

function positiveInteger(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function positive(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
}

function atLeastZero(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!(value >= 0)) throw new RangeError(`${name} must be 0 or more, got ${value}`);
}
