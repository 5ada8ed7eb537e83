/**
 * What the HTTP/WebSocket server needs from the processing engine. The pipeline implements
 * it (src/pipeline/engine.ts); the server (src/stream) depends only on this interface.
 */
import type { EventEmitter } from 'node:events';
import type { TaskName } from '../model/contract.js';
import type { FrameRecord } from '../pipeline/record.js';
import type { Frame } from '../pipeline/types.js';

/** Lifecycle of one stream. */
export type StreamState = 'connecting' | 'playing' | 'reconnecting' | 'ended' | 'failed' | 'stopped';

/** Per-task refresh intervals in frames (1 = every frame). */
export type TaskIntervals = Partial<Record<TaskName, number>>;

/** How a stream is asked for: by the config file, the CLI or `POST /api/streams`. */
export interface StreamRequest {
  /** Source: file path, rtsp:// or http(s):// URL, /dev/videoN, image folder. */
  url: string;
  /** Display name; defaults to a name derived from the URL. */
  name?: string;
  /** Detector model: 'short' for near faces, 'full' for CCTV scenes. Default 'full'. */
  detector?: 'short' | 'full';
  /** Tasks to run; default every task the model supports. */
  tasks?: TaskName[];
  /** Per-task refresh intervals in frames. */
  intervals?: TaskIntervals;
  /** RTSP transport. Default 'tcp'. */
  rtspTransport?: 'tcp' | 'udp';
  /** Frame-rate cap in frames per second. */
  fps?: number;
  /** Loop a file source forever (demo mode). Default false. */
  loop?: boolean;
}

/** A stream as the API and the dashboard see it. URLs are always credential-masked. */
export interface StreamInfo {
  id: string;
  name: string;
  /** Credential-masked source URL or file name. */
  url: string;
  live: boolean;
  state: StreamState;
  /** Last error message, if any (one line, credential-masked). */
  error?: string;
  width?: number;
  height?: number;
  tasks: TaskName[];
  stats: StreamStats;
}

/** Rolling per-stream figures. */
export interface StreamStats {
  /** Frames per second entering the pipeline (decoded). */
  fpsIn: number;
  /** Frames per second leaving with results. */
  fpsOut: number;
  /** Decode-to-result latency percentiles in milliseconds. */
  latencyP50Ms: number;
  latencyP95Ms: number;
  framesIn: number;
  framesOut: number;
  dropped: number;
  /** Faces in the latest frame. */
  faces: number;
}

/** Model facts announced to clients in `hello`. */
export interface ModelInfo {
  name: string;
  device: string;
  tasks: TaskName[];
  labels: Record<string, string[]>;
}

/**
 * The engine. Events:
 * - 'results' (record: FrameRecord, streamId: string, timings?: FrameTimings): the stage times
 *   of that frame (pipeline/stream-processor.ts), when the engine measures them
 * - 'frame' (frame: Frame, streamId: string): the frame whose results were just emitted
 * - 'stream' (info: StreamInfo): a stream was added or changed state
 * - 'removed' (streamId: string)
 * - 'error' is never emitted; stream failures arrive as 'stream' with state 'failed'.
 */
export interface Engine extends EventEmitter {
  readonly model: ModelInfo;
  listStreams(): StreamInfo[];
  getStream(id: string): StreamInfo | undefined;
  /** Starts a stream; rejects with an FxsError when the request is invalid. */
  addStream(request: StreamRequest): Promise<StreamInfo>;
  /** Stops and removes a stream; false when the id is unknown. */
  removeStream(id: string): Promise<boolean>;
}

export type { FrameRecord, Frame };
