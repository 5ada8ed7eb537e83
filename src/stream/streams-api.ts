/**
 * The REST API over the engine's streams:
 *   GET    /api/streams        200 StreamInfo[]
 *   POST   /api/streams        201 StreamInfo (body: a StreamRequest as JSON)
 *   GET    /api/streams/:id    200 StreamInfo, 404
 *   DELETE /api/streams/:id    204, 404
 * Errors use `{ "error": { "code", "message" } }`; a validation message names the field.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { Engine } from './engine.js';
import { MAX_BODY_BYTES, readBody, replyError, replyJson } from './http-reply.js';
import { REQUIRED_ERROR_MAP, describeFirstIssue } from './issue-text.js';
import { maskUrl } from '../common/mask-url.js';
import { StreamRequestSchema } from './stream-request.js';

/** Answers requests under /api/streams. */
export class StreamsApi {
  constructor(
    private readonly engine: Engine,
    private readonly logger?: Logger,
  ) {}

  /** Handles `request` whose path is `pathname` (already known to start with /api/). */
  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    pathname: string,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    if (pathname === '/api/streams') {
      if (method === 'GET') return replyJson(response, 200, this.engine.listStreams());
      if (method === 'POST') return this.add(request, response);
      return notAllowed(response, 'GET, POST');
    }

    const match = /^\/api\/streams\/([^/]+)$/.exec(pathname);
    if (!match)
      return replyError(response, 404, ErrorCodes.BAD_REQUEST, `no API route ${pathname}`);

    const id = safeDecode(match[1]);
    if (method === 'GET') return this.get(response, id);
    if (method === 'DELETE') return this.remove(response, id);
    return notAllowed(response, 'GET, DELETE');
  }

  private get(response: ServerResponse, id: string): void {
    const info = this.engine.getStream(id);
    if (!info) return notFound(response, id);
    replyJson(response, 200, info);
  }

  private async remove(response: ServerResponse, id: string): Promise<void> {
    if (!(await this.engine.removeStream(id))) return notFound(response, id);

    this.logger?.info({ stream: maskUrl(id) }, 'stream removed');
    response.writeHead(204).end();
  }

  private async add(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      const message = 'send the stream as JSON with Content-Type: application/json';
      return replyError(response, 415, ErrorCodes.BAD_REQUEST, message);
    }

    const body = await readBody(request);
    if (body === null) {
      const message = `request body exceeds ${MAX_BODY_BYTES} bytes`;
      return replyError(response, 413, ErrorCodes.BAD_REQUEST, message, { Connection: 'close' });
    }

    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      const message = 'body is not JSON; send e.g. {"url": "rtsp://camera/stream"}';
      return replyError(response, 400, ErrorCodes.BAD_REQUEST, message);
    }

    const parsed = StreamRequestSchema.safeParse(json, REQUIRED_ERROR_MAP);
    if (!parsed.success) {
      return replyError(response, 400, ErrorCodes.BAD_REQUEST, describeFirstIssue(parsed.error));
    }

    try {
      const info = await this.engine.addStream(parsed.data);
      this.logger?.info({ stream: info.id, url: info.url }, 'stream added');
      replyJson(response, 201, info, { Location: `/api/streams/${encodeURIComponent(info.id)}` });
    } catch (err) {
      if (err instanceof FxsError) {
        return replyError(response, 400, err.code, maskUrl(err.message));
      }
      throw err;
    }
  }
}

function notFound(response: ServerResponse, id: string): void {
  const message = `no stream "${maskUrl(id)}"; GET /api/streams lists the ids`;
  replyError(response, 404, ErrorCodes.STREAM_NOT_FOUND, message);
}

function notAllowed(response: ServerResponse, allow: string): void {
  replyError(response, 405, ErrorCodes.BAD_REQUEST, `method not allowed; use ${allow}`, {
    Allow: allow,
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
