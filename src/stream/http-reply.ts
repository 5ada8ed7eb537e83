/**
 * Small helpers for HTTP replies: JSON bodies, error bodies in the API's one error shape
 * `{ "error": { "code", "message" } }`, and reading a bounded request body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../common/errors.js';

/** Largest API request body in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Writes `body` as JSON with `status`. */
export function replyJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  response.end(text);
}

/** Writes the API error shape. */
export function replyError(
  response: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  replyJson(response, status, { error: { code, message } }, headers);
}

/** Reads the whole body as text; null when it is larger than `limitBytes`. */
export async function readBody(
  request: IncomingMessage,
  limitBytes = MAX_BODY_BYTES,
): Promise<string | null> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limitBytes) return null;

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
