/**
 * Fans the engine's events out to WebSocket clients: results filtered per client, preview
 * JPEGs encoded once per frame and shared, stats once a second, stream state changes. It
 * also reads and answers client messages. The engine's events are handled synchronously and
 * never wait on a client; see ClientSession for how slow clients are handled.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { TaskName } from '../model/contract.js';
import type { FaceRecord, FrameRecord } from '../pipeline/record.js';
import type { Frame } from '../pipeline/types.js';
import { ErrorCodes, type ErrorCode } from '../common/errors.js';
import { ClientSession } from './client-session.js';
import type { Engine, StreamInfo } from './engine.js';
import { describeFirstIssue } from './issue-text.js';
import { maskUrl } from '../common/mask-url.js';
import type { Metrics } from './metrics.js';
import { encodePreviewJpeg } from './preview-jpeg.js';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  PingSchema,
  SubscribeSchema,
  type ServerMessage,
  type SubscribeMessage,
} from './protocol.js';

/** Options of LiveHub. */
export interface LiveHubOptions {
  engine: Engine;
  metrics: Metrics;
  /** Server version announced in `hello`. */
  version: string;
  /** Most preview frames per second per client and stream; 0 turns previews off. */
  previewFps: number;
  /** Widest preview JPEG in pixels. */
  previewMaxWidth: number;
  /** Queue budget of one client in bytes. */
  clientBufferBytes: number;
  logger?: Logger;
}

const STATS_INTERVAL_MS = 1000;
const HEARTBEAT_INTERVAL_MS = 15_000;
const PREVIEW_QUALITY = 75;

/** Connects WebSocket clients to the engine. */
export class LiveHub {
  private readonly sessions = new Set<ClientSession>();
  private readonly lastResults = new Map<string, FrameRecord>();
  private readonly lastPreview = new Map<string, string>();
  private readonly encoding = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly detach: () => void;
  private closed = false;

  constructor(private readonly options: LiveHubOptions) {
    const { engine } = options;
    const onResults = (record: FrameRecord, id: string) => this.onResults(record, id);
    const onFrame = (frame: Frame, id: string) => this.onFrame(frame, id);
    const onStream = (info: StreamInfo) =>
      this.broadcast(info.id, { type: 'stream', stream: info });
    const onRemoved = (id: string) => this.onRemoved(id);
    engine.on('results', onResults);
    engine.on('frame', onFrame);
    engine.on('stream', onStream);
    engine.on('removed', onRemoved);
    this.detach = () => {
      engine.off('results', onResults);
      engine.off('frame', onFrame);
      engine.off('stream', onStream);
      engine.off('removed', onRemoved);
    };

    this.timers.push(setInterval(() => this.sendStats(), STATS_INTERVAL_MS));
    this.timers.push(setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS));
    for (const timer of this.timers) timer.unref();
  }

  /** Connected clients. */
  get clientCount(): number {
    return this.sessions.size;
  }

  /** Takes over an accepted WebSocket: says hello, then serves its messages. */
  accept(socket: WebSocket, request: IncomingMessage): void {
    const limits = {
      queueBytes: this.options.clientBufferBytes,
      socketBytes: Math.max(64 * 1024, this.options.clientBufferBytes / 4),
      previewSocketBytes: Math.max(32 * 1024, this.options.clientBufferBytes / 16),
    };
    const session = new ClientSession(socket, limits, (kind) =>
      this.options.metrics.countDropped(kind),
    );
    this.sessions.add(session);
    this.options.metrics.setClients(this.sessions.size);
    this.options.logger?.debug(
      { client: request.socket.remoteAddress },
      'websocket client connected',
    );

    socket.on('message', (data, isBinary) => this.onMessage(session, data, isBinary));
    socket.on('pong', () => (session.alive = true));
    socket.on('error', () => socket.terminate());
    socket.on('close', () => {
      this.sessions.delete(session);
      this.options.metrics.setClients(this.sessions.size);
    });

    const { engine } = this.options;
    this.sendTo(session, 'control', {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      server: { name: 'facexstream', version: this.options.version },
      model: engine.model,
      streams: engine.listStreams(),
      previewFps: this.options.previewFps,
    });
  }

  /** Closes every client (1001 going away) and stops listening to the engine. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    for (const timer of this.timers) clearInterval(timer);
    for (const session of this.sessions) session.socket.close(1001, 'server shutting down');
  }

  private onMessage(session: ClientSession, data: WebSocket.RawData, isBinary: boolean): void {
    const size = rawSize(data);
    if (size > MAX_CLIENT_MESSAGE_BYTES) {
      const limit = MAX_CLIENT_MESSAGE_BYTES;
      return this.refuse(session, `message of ${size} bytes exceeds the ${limit}-byte limit`);
    }
    if (isBinary) return this.refuse(session, 'binary messages are not supported; send JSON text');

    let message: unknown;
    try {
      message = JSON.parse(rawText(data));
    } catch {
      return this.refuse(session, 'message is not JSON; send an object such as {"type":"ping"}');
    }

    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'ping') return this.onPing(session, message);
    if (type === 'subscribe') return this.onSubscribe(session, message);

    const shown = typeof type === 'string' ? `"${maskUrl(type.slice(0, 40))}"` : 'missing';
    this.refuse(session, `message type ${shown} is unknown; expected "subscribe" or "ping"`);
  }

  private onPing(session: ClientSession, message: unknown): void {
    const parsed = PingSchema.safeParse(message);
    if (!parsed.success) return this.refuse(session, `ping.${describeFirstIssue(parsed.error)}`);

    this.sendTo(session, 'control', { type: 'pong', id: parsed.data.id, time: Date.now() });
  }

  private onSubscribe(session: ClientSession, message: unknown): void {
    const parsed = SubscribeSchema.safeParse(message);
    if (!parsed.success) {
      return this.refuse(session, `subscribe.${describeFirstIssue(parsed.error)}`);
    }

    const problem = this.checkSubscription(parsed.data);
    if (problem) return this.refuse(session, problem.message, problem.code);

    const { engine } = this.options;
    const streams = parsed.data.streams ?? null;
    const tasks = parsed.data.tasks ?? engine.model.tasks;
    const previews = (parsed.data.previews ?? true) && this.options.previewFps > 0;
    session.subscribe(streams, tasks, previews);
    this.sendTo(session, 'control', {
      type: 'subscribed',
      streams,
      tasks: session.tasks,
      previews,
    });
    this.catchUp(session);
  }

  private checkSubscription(
    request: SubscribeMessage,
  ): { code: ErrorCode; message: string } | undefined {
    const { engine } = this.options;
    for (const id of request.streams ?? []) {
      if (engine.getStream(id)) continue;
      const known =
        engine
          .listStreams()
          .map((s) => s.id)
          .join(', ') || 'none';
      const shown = maskUrl(id.slice(0, 100));
      return {
        code: ErrorCodes.STREAM_NOT_FOUND,
        message: `subscribe.streams: no stream "${shown}"; known ids: ${known}`,
      };
    }

    for (const task of request.tasks ?? []) {
      if (engine.model.tasks.includes(task)) continue;
      const supported = engine.model.tasks.join(', ');
      return {
        code: ErrorCodes.TASK_UNSUPPORTED,
        message: `subscribe.tasks: the model does not support "${task}"; it supports ${supported}`,
      };
    }
    return undefined;
  }

  /** Gives a fresh subscriber the latest results and preview of each stream it follows. */
  private catchUp(session: ClientSession): void {
    for (const [id, record] of this.lastResults) {
      if (session.wantsResults(id)) session.send('results', resultsJson(id, record, session.tasks));
    }
    if (!session.previews) return;
    for (const [id, data] of this.lastPreview) {
      if (session.wantsResults(id)) session.send('preview', data);
    }
  }

  private onResults(record: FrameRecord, id: string): void {
    this.options.metrics.countFaces(id, record.faces.length);
    this.lastResults.set(id, record);

    const byTasks = new Map<string, string>();
    for (const session of this.sessions) {
      if (!session.wantsResults(id)) continue;
      let data = byTasks.get(session.taskKey);
      if (data === undefined) {
        data = resultsJson(id, record, session.tasks);
        byTasks.set(session.taskKey, data);
      }
      session.send('results', data);
    }
  }

  private onFrame(frame: Frame, id: string): void {
    if (this.options.previewFps <= 0 || this.encoding.has(id)) return;

    const now = Date.now();
    const interval = 1000 / this.options.previewFps;
    const targets = [...this.sessions].filter((s) => s.previewDue(id, now, interval));
    if (targets.length === 0) return;

    for (const session of targets) session.markPreview(id, now);
    this.encoding.add(id);
    const options = { maxWidth: this.options.previewMaxWidth, quality: PREVIEW_QUALITY };
    encodePreviewJpeg(frame, options)
      .then((jpeg) => {
        if (this.closed) return;
        const data = JSON.stringify({
          type: 'frame',
          stream: id,
          frame: frame.index,
          timestampMs: frame.timestampMs,
          width: frame.width,
          height: frame.height,
          jpeg: jpeg.toString('base64'),
        } satisfies ServerMessage);
        this.lastPreview.set(id, data);
        for (const session of targets) {
          if (session.previews && session.wantsResults(id)) session.send('preview', data);
        }
      })
      .catch((err: unknown) => {
        this.options.logger?.warn({ stream: id, err: String(err) }, 'preview encoding failed');
      })
      .finally(() => this.encoding.delete(id));
  }

  private onRemoved(id: string): void {
    this.lastResults.delete(id);
    this.lastPreview.delete(id);
    this.broadcast(id, { type: 'removed', stream: id });
  }

  private broadcast(stream: string, message: ServerMessage): void {
    const data = JSON.stringify(message);
    for (const session of this.sessions) {
      if (session.follows(stream)) session.send('control', data);
    }
  }

  private sendStats(): void {
    const all = this.options.engine.listStreams();
    const everything = JSON.stringify({ type: 'stats', streams: all } satisfies ServerMessage);
    for (const session of this.sessions) {
      if (session.streams === null) {
        session.send('stats', everything);
        continue;
      }
      const streams = all.filter((s) => session.follows(s.id));
      session.send('stats', JSON.stringify({ type: 'stats', streams } satisfies ServerMessage));
    }
  }

  private heartbeat(): void {
    for (const session of this.sessions) {
      if (!session.alive) {
        session.socket.terminate();
        continue;
      }
      session.alive = false;
      session.socket.ping();
    }
  }

  private refuse(
    session: ClientSession,
    message: string,
    code: ErrorCode = ErrorCodes.BAD_REQUEST,
  ): void {
    this.sendTo(session, 'control', { type: 'error', code, message });
  }

  private sendTo(session: ClientSession, kind: 'control', message: ServerMessage): void {
    session.send(kind, JSON.stringify(message));
  }
}

/** The `results` message of `record` with each face cut down to `tasks`. */
function resultsJson(stream: string, record: FrameRecord, tasks: readonly TaskName[]): string {
  const message: ServerMessage = {
    type: 'results',
    stream,
    frame: record.frame,
    timestampMs: record.timestampMs,
    width: record.width,
    height: record.height,
    faces: record.faces.map((face) => pickTasks(face, tasks)),
  };
  return JSON.stringify(message);
}

function pickTasks(face: FaceRecord, tasks: readonly TaskName[]): FaceRecord {
  const picked: FaceRecord = { id: face.id, box: face.box, score: face.score };
  const updated: Partial<Record<string, number>> = {};
  for (const task of tasks) {
    if (face[task] !== undefined) (picked as unknown as Record<string, unknown>)[task] = face[task];
    if (face.updated?.[task] !== undefined) updated[task] = face.updated[task];
  }
  if (face.updated) picked.updated = updated;
  return picked;
}

function rawSize(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
