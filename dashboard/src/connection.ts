/**
 * The dashboard's WebSocket to the server: connects, parses messages, and reconnects with
 * exponential backoff (0.5 s doubling to 10 s, with jitter) whenever the socket drops.
 * A refused upgrade is told apart from a server that is down by asking the API once:
 * a 401 there means the token is missing or wrong, and retrying will not help soon.
 */
import type { ServerMessage } from '../../src/stream/protocol.js';

/** What the connection is doing, for the status pill. */
export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'reconnecting'; retryAt: number; attempt: number }
  | { kind: 'unauthorized'; retryAt: number };

/** Callbacks of LiveConnection. */
export interface ConnectionHandlers {
  message(message: ServerMessage): void;
  state(state: ConnectionState): void;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const UNAUTHORIZED_DELAY_MS = 30_000;

/** A self-healing WebSocket to `/ws` next to the page. */
export class LiveConnection {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;

  constructor(
    private readonly token: string | undefined,
    private readonly handlers: ConnectionHandlers,
  ) {}

  /** Opens the first connection. */
  start(): void {
    this.open();
  }

  /** Sends a client message when connected; dropped otherwise (re-sent after `hello`). */
  send(message: unknown): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Closes for good. */
  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.socket?.close();
  }

  private open(): void {
    this.handlers.state({ kind: 'connecting' });
    const url = new URL('ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    if (this.token) url.searchParams.set('token', this.token);

    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.handlers.state({ kind: 'live' });
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      try {
        this.handlers.message(JSON.parse(event.data) as ServerMessage);
      } catch (err) {
        console.warn('facexstream: unreadable message', err);
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      void this.retry(opened);
    };
  }

  private async retry(wasOpen: boolean): Promise<void> {
    if (!wasOpen && (await this.refusedForToken())) {
      const retryAt = Date.now() + UNAUTHORIZED_DELAY_MS;
      this.handlers.state({ kind: 'unauthorized', retryAt });
      this.timer = window.setTimeout(() => this.open(), UNAUTHORIZED_DELAY_MS);
      return;
    }

    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = base * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.handlers.state({
      kind: 'reconnecting',
      retryAt: Date.now() + delay,
      attempt: this.attempt,
    });
    this.timer = window.setTimeout(() => this.open(), delay);
  }

  private async refusedForToken(): Promise<boolean> {
    try {
      const headers: Record<string, string> = this.token
        ? { Authorization: `Bearer ${this.token}` }
        : {};
      const response = await fetch(new URL('api/streams', window.location.href), { headers });
      return response.status === 401;
    } catch {
      return false;
    }
  }
}
