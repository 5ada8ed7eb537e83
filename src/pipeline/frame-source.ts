import type { EventEmitter } from 'node:events';
import type { Frame } from './types.js';

/**
 * Where a source stands. `connecting`: starting (or, for files, opening); `playing`: frames
 * flow; `reconnecting`: a live source went away and a retry is scheduled; `ended`: no more
 * frames and no error (end of file, or `stop()`); `failed`: `frames()` threw.
 */
export type SourceState = 'connecting' | 'playing' | 'reconnecting' | 'ended' | 'failed';

/**
 * A stream of decoded frames from one input. Events:
 * - `'state'` `(state: SourceState, detail?: string)`: detail is one line for people, with
 *   credentials masked (the retry reason and delay, the error message, `'stopped'`).
 */
export interface FrameSource extends EventEmitter {
  /** Short name: letters, digits, `.`, `_`, `-`. */
  readonly id: string;
  /** The file name, or the URL with its credentials masked. */
  readonly displayName: string;
  /** True for RTSP, HTTP and webcam sources: they run at their own pace. */
  readonly live: boolean;
  /** Frames thrown away because a newer one arrived before the consumer asked ('latest' mode). */
  readonly droppedFrames: number;
  /**
   * The frames, in order. Call it once. Ends at the end of a file or after `stop()`; throws an
   * FxsError when the input cannot be read or a live source is gone for good. Frame indices
   * count every frame the source produced, so in 'latest' mode they skip the dropped ones.
   */
  frames(): AsyncIterable<Frame>;
  /** Ends `frames()` without an error and kills the decoder. Safe to call more than once. */
  stop(): Promise<void>;
}

/** How a live source retries after it fails or goes away. */
export interface ReconnectOptions {
  /** Delay before the first retry, doubled on each further one. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest delay between retries. Default 10000 ms. */
  maxDelayMs?: number;
  /**
   * Retries in a row, once a source has played, before `frames()` throws
   * `FXS_ERR_SOURCE_LOST`. A retry that brings frames back resets the count. Default: no limit.
   */
  maxAttempts?: number;
  /**
   * Tries in all for the first connection before `frames()` throws
   * `FXS_ERR_SOURCE_UNREACHABLE`: a wrong address, path or password should not retry forever.
   * Default 3.
   */
  connectAttempts?: number;
}

/** Options of `openSource`. Every field is optional. */
export interface SourceOptions {
  /** Overrides the id derived from the input. */
  id?: string;
  /** Output width in pixels; with `height` the frame fits inside both, keeping its aspect. */
  width?: number;
  /** Output height in pixels; alone, the width follows the aspect ratio. */
  height?: number;
  /**
   * Frame-rate cap in frames per second: frames are skipped, never duplicated, and keep their
   * own timestamps. For image sources: the rate at which the stills are timestamped (default 25).
   */
  fps?: number;
  /**
   * `'latest'`: decode at full speed and keep only the newest frame (default for live sources).
   * `'all'`: deliver every frame and slow the decoder down to the consumer (default otherwise).
   */
  mode?: 'latest' | 'all';
  /** Frames held ahead of the consumer in 'all' mode. Default 4. */
  bufferFrames?: number;
  /** RTSP transport. Default 'tcp'. */
  rtspTransport?: 'tcp' | 'udp';
  /** A live source that delivers no frame for this long is restarted. Default 5000 ms. */
  stallTimeoutMs?: number;
  /** A live source that delivers no first frame for this long is restarted. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Retry policy for live sources. */
  reconnect?: ReconnectOptions;
  /** Play a video file again and again (demo mode); timestamps keep increasing. Default false. */
  loop?: boolean;
  /** Read a video file at its own frame rate, not as fast as it is consumed. Default false. */
  realtime?: boolean;
  /** Overrides whether an http(s) source is live (a camera) or a file on a web server. */
  live?: boolean;
}
