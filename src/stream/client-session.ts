/**
 * One connected WebSocket client: what it subscribed to and a bounded outgoing queue.
 *
 * The pipeline never waits for a client. Messages go straight to the socket while its
 * buffer is small; after that they wait in this session's own queue, which is capped in
 * bytes. A preview frame is never queued: it is sent only onto an almost empty socket and
 * dropped otherwise, since the next one is a fraction of a second away. When the queue is
 * full the oldest results go first. `stats` keeps only its newest copy. Control messages
 * (hello, stream changes, errors, pongs) are never dropped; a client that lets even those
 * pile up past four times the cap is disconnected.
 */
import WebSocket from 'ws';
import type { TaskName } from '../model/contract.js';
import type { DroppedMessageKind } from './metrics.js';

/** What kind of message is being sent; decides what is dropped first. */
export type MessageKind = 'control' | DroppedMessageKind;

/** Byte budgets of one client. */
export interface SessionLimits {
  /** Most bytes waiting in the session's own queue before results are dropped. */
  queueBytes: number;
  /** Socket buffer (ws bufferedAmount) above which messages wait in the queue instead. */
  socketBytes: number;
  /** Socket buffer above which preview frames are dropped instead of sent. */
  previewSocketBytes: number;
}

interface Queued {
  kind: MessageKind;
  data: string;
}

/** A client's subscription and outgoing queue. */
export class ClientSession {
  /** True once the client sent `subscribe`; results and previews flow only after that. */
  subscribed = false;
  /** Subscribed stream ids; null means every stream. */
  streams: Set<string> | null = null;
  /** Face fields the client wants, sorted; `taskKey` names the set for caching. */
  tasks: TaskName[] = [];
  taskKey = '';
  previews = false;
  /** Set by the heartbeat: false until the client answers a ping. */
  alive = true;

  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private readonly lastPreviewAt = new Map<string, number>();

  constructor(
    readonly socket: WebSocket,
    private readonly limits: SessionLimits,
    private readonly onDrop: (kind: DroppedMessageKind) => void,
  ) {}

  /** Replaces the subscription. */
  subscribe(streams: string[] | null, tasks: TaskName[], previews: boolean): void {
    this.subscribed = true;
    this.streams = streams === null ? null : new Set(streams);
    this.tasks = [...tasks].sort();
    this.taskKey = this.tasks.join(',');
    this.previews = previews;
    this.lastPreviewAt.clear();
  }

  /** Whether state and stats messages about `stream` concern this client. */
  follows(stream: string): boolean {
    return this.streams === null || this.streams.has(stream);
  }

  /** Whether results of `stream` go to this client. */
  wantsResults(stream: string): boolean {
    return this.subscribed && this.follows(stream);
  }

  /**
   * Whether a preview of `stream` is due at `nowMs` given the per-client interval. A little
   * early counts as due, so a source at exactly the preview rate is not halved by jitter.
   */
  previewDue(stream: string, nowMs: number, intervalMs: number): boolean {
    if (!this.previews || !this.wantsResults(stream)) return false;
    if (!this.socketClearForPreview()) return false;

    const last = this.lastPreviewAt.get(stream);
    return last === undefined || nowMs - last >= intervalMs * 0.8;
  }

  /** Reserves the preview slot of `stream`, before the JPEG is encoded. */
  markPreview(stream: string, nowMs: number): void {
    this.lastPreviewAt.set(stream, nowMs);
  }

  /** Sends or queues `data`, dropping by the rules above when the client is slow. */
  send(kind: MessageKind, data: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;

    if (kind === 'preview') {
      if (this.socketClearForPreview()) this.write(data);
      else this.onDrop('preview');
      return;
    }

    if (this.queue.length === 0 && this.socket.bufferedAmount < this.limits.socketBytes) {
      this.write(data);
      return;
    }

    if (kind === 'stats') this.removeQueued('stats');
    this.queue.push({ kind, data });
    this.queuedBytes += data.length;
    this.trim();
  }

  /** Moves queued messages onto the socket while its buffer allows. */
  flush(): void {
    while (this.queue.length > 0 && this.socket.bufferedAmount < this.limits.socketBytes) {
      const next = this.queue.shift()!;
      this.queuedBytes -= next.data.length;
      this.write(next.data);
    }
  }

  /** Bytes waiting in the session's queue (not counting the socket's own buffer). */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  private socketClearForPreview(): boolean {
    return this.queue.length === 0 && this.socket.bufferedAmount < this.limits.previewSocketBytes;
  }

  private write(data: string): void {
    this.socket.send(data, (err) => {
      if (!err) this.flush();
    });
  }

  private trim(): void {
    while (this.queuedBytes > this.limits.queueBytes) {
      if (!this.removeQueued('results')) break;
    }

    if (this.queuedBytes > this.limits.queueBytes * 4) {
      this.socket.terminate();
    }
  }

  /** Removes the oldest queued message of `kind`; false when there is none. */
  private removeQueued(kind: DroppedMessageKind): boolean {
    const index = this.queue.findIndex((item) => item.kind === kind);
    if (index < 0) return false;

    const [removed] = this.queue.splice(index, 1);
    this.queuedBytes -= removed.data.length;
    this.onDrop(kind);
    return true;
  }
}
