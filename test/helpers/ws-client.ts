/**
 * Test helper: a WebSocket client that records every server message and lets a test wait
 * for the next one matching a condition.
 */
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/stream/protocol.js';

type Message<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A connected client with its message log. */
export class TestClient {
  /** Every parsed message received so far, oldest first. */
  readonly messages: ServerMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Opens a connection; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new TestClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => {
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
          }),
        );
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Sends a message (objects are JSON-encoded; strings and buffers go as they are). */
  send(message: unknown, binary = false): void {
    if (typeof message === 'string' || Buffer.isBuffer(message))
      this.socket.send(message, { binary });
    else this.socket.send(JSON.stringify(message));
  }

  /** Waits for a message of `type` (received after `from`) matching `match`. */
  async next<T extends ServerMessage['type']>(
    type: T,
    match: (message: Message<T>) => boolean = () => true,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<Message<T>> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    let seen = options.from ?? 0;
    for (;;) {
      for (; seen < this.messages.length; seen++) {
        const message = this.messages[seen];
        if (message.type === type && match(message as Message<T>)) return message as Message<T>;
      }
      if (this.socket.readyState === WebSocket.CLOSED)
        throw new Error(`closed while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} message within ${options.timeoutMs ?? 5000} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages of `type` received so far. */
  all<T extends ServerMessage['type']>(type: T): Array<Message<T>> {
    return this.messages.filter((m) => m.type === type) as Array<Message<T>>;
  }

  /** Sends `message` and returns the next message of `type` that follows it. */
  async request<T extends ServerMessage['type']>(
    message: unknown,
    type: T,
    binary = false,
  ): Promise<Message<T>> {
    const from = this.messages.length;
    this.send(message, binary);
    return this.next(type, () => true, { from });
  }

  /** Closes the connection and waits until it is closed. */
  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
