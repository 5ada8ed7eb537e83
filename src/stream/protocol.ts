/**
 * The WebSocket protocol between the server and its clients (the dashboard or any program),
 * version 1. Documented in docs/protocol.md. Every message is one JSON text frame with a
 * `type`. Server messages are typed here; client messages are validated with the zod schemas
 * below, since they come from outside.
 */
import { z } from 'zod';
import { TASKS, type TaskName } from '../model/contract.js';
import type { FaceRecord } from '../pipeline/record.js';
import type { ModelInfo, StreamInfo } from './engine.js';

/** Protocol version announced in `hello`; bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;

/** Largest client message the server reads, in bytes; larger ones get an `error` reply. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** First message on every connection. */
export interface HelloMessage {
  type: 'hello';
  protocol: typeof PROTOCOL_VERSION;
  server: { name: string; version: string };
  model: ModelInfo;
  streams: StreamInfo[];
  /** Most preview frames per second the server sends a client for one stream. */
  previewFps: number;
}

/** Confirms a `subscribe`, echoing what the client now receives. */
export interface SubscribedMessage {
  type: 'subscribed';
  /** Stream ids, or null for every stream, present and future. */
  streams: string[] | null;
  tasks: TaskName[];
  previews: boolean;
}

/** Results of one frame of one stream; `faces` holds only the client's tasks. */
export interface ResultsMessage {
  type: 'results';
  stream: string;
  frame: number;
  timestampMs: number;
  width: number;
  height: number;
  faces: FaceRecord[];
}

/**
 * A preview image of a frame whose results were sent before it. `width` and `height` are the
 * frame's size, the space of every coordinate in `results`; the JPEG may be smaller.
 */
export interface FrameMessage {
  type: 'frame';
  stream: string;
  frame: number;
  timestampMs: number;
  width: number;
  height: number;
  /** Base64 JPEG. */
  jpeg: string;
}

/** Every subscribed stream with its rolling figures, once a second. */
export interface StatsMessage {
  type: 'stats';
  streams: StreamInfo[];
}

/** A stream was added or changed state. */
export interface StreamMessage {
  type: 'stream';
  stream: StreamInfo;
}

/** A stream was removed. */
export interface RemovedMessage {
  type: 'removed';
  stream: string;
}

/** Reply to `ping`. */
export interface PongMessage {
  type: 'pong';
  id?: string | number;
  /** Server time, milliseconds since the epoch. */
  time: number;
}

/** A client message was refused; the connection stays open. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export type ServerMessage =
  | HelloMessage
  | SubscribedMessage
  | ResultsMessage
  | FrameMessage
  | StatsMessage
  | StreamMessage
  | RemovedMessage
  | PongMessage
  | ErrorMessage;

/** `subscribe`: replaces the client's subscription. Omitted fields mean "everything". */
export const SubscribeSchema = z.strictObject({
  type: z.literal('subscribe'),
  /** Stream ids; default every stream, including streams added later. */
  streams: z.array(z.string().min(1).max(200)).max(1000).optional(),
  /** Face fields to send; default every task the model supports. */
  tasks: z.array(z.enum(TASKS)).optional(),
  /** Whether to send preview frames. Default true. */
  previews: z.boolean().optional(),
});

/** `ping`: the server answers `pong` with the same id. */
export const PingSchema = z.strictObject({
  type: z.literal('ping'),
  id: z.union([z.string().max(200), z.number()]).optional(),
});

export const ClientMessageSchema = z.discriminatedUnion('type', [SubscribeSchema, PingSchema]);

export type SubscribeMessage = z.infer<typeof SubscribeSchema>;
export type PingMessage = z.infer<typeof PingSchema>;
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
