/**
 * The live server: the dashboard, the WebSocket feed, a REST API over streams, health and
 * Prometheus metrics, on one port of node:http.
 *
 *   /             dashboard (static files of dashboard/dist)
 *   /ws           WebSocket feed (docs/protocol.md)
 *   /healthz      JSON status, open to all
 *   /metrics      Prometheus text                      (token)
 *   /api/streams  list, add, inspect and remove streams (token)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { ErrorCodes, FxsError } from '../common/errors.js';
import { AccessPolicy } from './access-policy.js';
import type { Engine } from './engine.js';
import { replyError, replyJson } from './http-reply.js';
import { LiveHub } from './live-hub.js';
import { Metrics } from './metrics.js';
import { packageInfo } from './package-info.js';
import { MAX_CLIENT_MESSAGE_BYTES } from './protocol.js';
import { StaticFiles } from './static-files.js';
import { StreamsApi } from './streams-api.js';

/** How long clients get to complete the close handshake on shutdown, in milliseconds. */
const CLOSE_GRACE_MS = 500;

/** Options of startServer. */
export interface ServerOptions {
  /** The processing engine whose streams are served. */
  engine: Engine;
  /** Address to listen on. Default '127.0.0.1'; any other address needs `token` or `insecure`. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Access token for the API, /metrics and the WebSocket. Default none. */
  token?: string;
  /** Allow a non-loopback `host` without a token. Default false. */
  insecure?: boolean;
  /** Browser origins allowed besides the server's own, e.g. ['https://nvr.example']. */
  allowedOrigins?: string[];
  /** Most preview frames per second per client and stream; 0 turns previews off. Default 5. */
  previewFps?: number;
  /** Widest preview JPEG in pixels; larger frames are scaled down. Default 960. */
  previewMaxWidth?: number;
  /** Bytes queued for one slow client before its older results are dropped. Default 4 MiB. */
  clientBufferBytes?: number;
  /** Metrics registry; pass the one the engine reports to. Default: a new one. */
  metrics?: Metrics;
  /** Directory of the built dashboard. Default dashboard/dist of this package. */
  dashboardDir?: string;
  /** Structured logger; the server logs API changes and failures. Default: silent. */
  logger?: Logger;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080/ (no token; wildcard hosts shown as loopback). */
  url: string;
  /** The dashboard URL with `?token=` when a token is set: the one to print for the user. */
  dashboardUrl: string;
  /** The bound port (useful with port 0). */
  port: number;
  metrics: Metrics;
  /** Disconnects every client and stops listening. Does not stop the engine. */
  close(): Promise<void>;
}

/**
 * Starts the server and resolves once it listens. Rejects with FxsError CONFIG_INVALID when
 * a non-loopback host has no token (and `insecure` is not set) or the port is taken.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const previewFps = options.previewFps ?? 5;
  checkOptions(options, host, port, previewFps);

  const metrics = options.metrics ?? new Metrics();
  metrics.attachEngine(options.engine);
  const info = packageInfo();
  const access = new AccessPolicy({
    token: options.token,
    allowedOrigins: options.allowedOrigins,
    guardHost: options.token === undefined && isLoopback(host),
  });
  const hub = new LiveHub({
    engine: options.engine,
    metrics,
    version: info.version,
    previewFps,
    previewMaxWidth: options.previewMaxWidth ?? 960,
    clientBufferBytes: options.clientBufferBytes ?? 4 * 1024 * 1024,
    logger: options.logger,
  });
  const routes = new Routes(
    access,
    metrics,
    options.engine,
    new StaticFiles(options.dashboardDir ?? info.dashboardDir),
    new StreamsApi(options.engine, options.logger),
    options.logger,
  );

  const server = createServer((req, res) => routes.http(req, res));
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: 16 * MAX_CLIENT_MESSAGE_BYTES,
  });
  server.on('upgrade', (req, socket, head) => {
    if (!routes.upgradeAllowed(req, socket)) return;
    sockets.handleUpgrade(req, socket, head, (ws) => hub.accept(ws, req));
  });

  try {
    await listen(server, host, port);
  } catch (err) {
    hub.close();
    throw err;
  }

  const bound = (server.address() as { port: number }).port;
  if (!isLoopback(host) && options.token === undefined) {
    options.logger?.warn(
      `listening on ${host} without a token (insecure): anyone who can reach port ` +
        `${bound} can watch every camera and add streams`,
    );
  }
  const url = `http://${urlHost(host)}:${bound}/`;
  return {
    url,
    dashboardUrl: options.token ? `${url}?token=${encodeURIComponent(options.token)}` : url,
    port: bound,
    metrics,
    close: () => close(server, sockets, hub),
  };
}

/** Routing and access checks of plain HTTP requests and WebSocket upgrades. */
class Routes {
  constructor(
    private readonly access: AccessPolicy,
    private readonly metrics: Metrics,
    private readonly engine: Engine,
    private readonly files: StaticFiles,
    private readonly api: StreamsApi,
    private readonly logger?: Logger,
  ) {}

  http(request: IncomingMessage, response: ServerResponse): void {
    this.route(request, response).catch((err: unknown) => {
      this.logger?.error({ err: String(err), path: request.url?.split('?')[0] }, 'request failed');
      if (!response.headersSent)
        replyError(response, 500, ErrorCodes.BAD_REQUEST, 'internal error');
      else response.destroy();
    });
  }

  /** Checks a WebSocket upgrade; on refusal answers with a plain HTTP status and false. */
  upgradeAllowed(request: IncomingMessage, socket: Duplex): boolean {
    const url = requestUrl(request);
    const refusal =
      url.pathname !== '/ws'
        ? '404 Not Found'
        : !this.access.hostAllowed(request) || !this.access.originAllowed(request)
          ? '403 Forbidden'
          : !this.access.hasToken(request, url)
            ? '401 Unauthorized'
            : undefined;
    if (refusal === undefined) return true;

    this.logger?.warn({ origin: request.headers.origin, refusal }, 'websocket refused');
    socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    return false;
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request);
    const path = url.pathname;
    const method = request.method ?? 'GET';

    if (path === '/healthz') return this.health(response);

    const guarded = path === '/metrics' || path === '/api' || path.startsWith('/api/');
    if (guarded) {
      const refusal = this.refusal(request, url, method);
      if (refusal)
        return replyError(
          response,
          refusal.status,
          ErrorCodes.UNAUTHORIZED,
          refusal.message,
          refusal.headers,
        );
      if (path === '/metrics') return this.prometheus(response);
      return this.api.handle(request, response, path);
    }

    if (method !== 'GET' && method !== 'HEAD') {
      return replyError(response, 405, ErrorCodes.BAD_REQUEST, 'method not allowed', {
        Allow: 'GET, HEAD',
      });
    }
    return this.files.serve(request, response, path);
  }

  private refusal(
    request: IncomingMessage,
    url: URL,
    method: string,
  ): { status: number; message: string; headers?: Record<string, string> } | undefined {
    if (!this.access.hostAllowed(request)) {
      return {
        status: 403,
        message: `host "${request.headers.host}" is not allowed; use 127.0.0.1 or localhost`,
      };
    }
    const changes = method !== 'GET' && method !== 'HEAD';
    if (changes && !this.access.originAllowed(request)) {
      return {
        status: 403,
        message: 'requests from another site are refused; add its origin to allowedOrigins',
      };
    }
    if (!this.access.hasToken(request, url)) {
      const message =
        'missing or wrong token; send Authorization: Bearer <token> or ?token=<token>';
      return { status: 401, message, headers: { 'WWW-Authenticate': 'Bearer' } };
    }
    return undefined;
  }

  private health(response: ServerResponse): void {
    const streams = this.engine
      .listStreams()
      .map((s) => ({ id: s.id, name: s.name, state: s.state }));
    const troubled = streams.some((s) => s.state === 'failed' || s.state === 'reconnecting');
    replyJson(response, 200, { status: troubled ? 'degraded' : 'ok', streams });
  }

  private async prometheus(response: ServerResponse): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    response.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
    response.end(body);
  }
}

function checkOptions(
  options: ServerOptions,
  host: string,
  port: number,
  previewFps: number,
): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!(previewFps >= 0 && previewFps <= 60)) {
    throw new RangeError(`previewFps must be from 0 to 60, got ${previewFps}`);
  }
  if (options.token !== undefined && options.token.trim() === '') {
    throw new FxsError(
      ErrorCodes.CONFIG_INVALID,
      'server token is empty; set a long random token or leave it out',
    );
  }
  if (!isLoopback(host) && options.token === undefined && !options.insecure) {
    throw new FxsError(
      ErrorCodes.CONFIG_INVALID,
      `refusing to listen on ${host} without a token; set a token (--token or server.token) ` +
        'or pass --insecure to let anyone on the network in',
    );
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Host part of the printed URL; the wildcard addresses are reached locally as loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The request target as a URL; a path such as `//x` stays a path, never a host. */
function requestUrl(request: IncomingMessage): URL {
  const target = request.url ?? '/';
  try {
    return new URL(target.startsWith('/') ? `http://server.invalid${target}` : target);
  } catch {
    return new URL('http://server.invalid/');
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'EADDRINUSE'
          ? 'the port is in use; choose another port or stop the other server'
          : err.code === 'EADDRNOTAVAIL'
            ? 'no such address on this machine'
            : err.message;
      reject(
        new FxsError(ErrorCodes.CONFIG_INVALID, `cannot listen on ${host}:${port}: ${reason}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Lets clients receive their close frame for a moment, then cuts whatever is left. */
async function close(server: Server, sockets: WebSocketServer, hub: LiveHub): Promise<void> {
  hub.close();
  const deadline = Date.now() + CLOSE_GRACE_MS;
  while (sockets.clients.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const client of sockets.clients) client.terminate();
  sockets.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
