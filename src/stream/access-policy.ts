/**
 * Who may use the server. With a token, the API, /metrics and the WebSocket need it, as
 * `Authorization: Bearer <token>` or `?token=<token>`. Browsers are held to their origin:
 * a WebSocket or a state-changing API call from a page must come from the server's own
 * host or from an allowed origin. Without a token the server listens on loopback only, and
 * the Host header must then name a loopback or allowed host, so a web page cannot reach it
 * through a DNS name rebound to 127.0.0.1.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Options of AccessPolicy. */
export interface AccessPolicyOptions {
  /** Shared secret; undefined means no token is asked for. */
  token?: string;
  /** Extra browser origins allowed besides the server's own, e.g. 'https://nvr.example'. */
  allowedOrigins?: string[];
  /** Check the Host header against loopback names (see above). */
  guardHost: boolean;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Decides whether a request may go on. */
export class AccessPolicy {
  private readonly tokenDigest: Buffer | undefined;
  private readonly origins: Set<string>;
  private readonly originHosts: Set<string>;

  constructor(private readonly options: AccessPolicyOptions) {
    this.tokenDigest = options.token === undefined ? undefined : digest(options.token);
    this.origins = new Set((options.allowedOrigins ?? []).map(normalizeOrigin));
    this.originHosts = new Set([...this.origins].map((origin) => new URL(origin).hostname));
  }

  /** Whether a token is required at all. */
  get tokenRequired(): boolean {
    return this.tokenDigest !== undefined;
  }

  /** True when no token is configured or the request carries the right one. */
  hasToken(request: IncomingMessage, url: URL): boolean {
    if (this.tokenDigest === undefined) return true;

    const header = request.headers.authorization ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const given = bearer ?? url.searchParams.get('token') ?? undefined;
    if (given === undefined) return false;
    return timingSafeEqual(digest(given), this.tokenDigest);
  }

  /** True when the request has no Origin (not a browser) or a same-host or allowed one. */
  originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;

    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      return false;
    }
    if (this.origins.has(parsed.origin)) return true;
    return request.headers.host !== undefined && parsed.host === request.headers.host;
  }

  /** True unless the host guard is on and the Host header names a foreign host. */
  hostAllowed(request: IncomingMessage): boolean {
    if (!this.options.guardHost) return true;

    const host = request.headers.host;
    if (host === undefined) return true;
    const hostname = host.replace(/:\d+$/, '').toLowerCase();
    return (
      LOOPBACK_HOSTS.has(hostname) || hostname.startsWith('127.') || this.originHosts.has(hostname)
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    throw new TypeError(`allowedOrigins: "${origin}" is not an origin such as https://host:port`);
  }
}
