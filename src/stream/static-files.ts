/**
 * Serves the built dashboard from one directory and nothing outside it. The request path is
 * decoded, resolved under the root and checked again after symlinks are followed, so
 * neither `..`, encoded dots, backslashes nor a link can step out. Directories are not
 * listed; `/` is index.html.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Page-wide policy: scripts, styles and sockets from this server only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Serves GET and HEAD for files under `root`; answers 404 for everything else. */
export class StaticFiles {
  private readonly root: string;
  private realRoot: string | undefined;

  /** @param root directory of the built dashboard (vite's outDir). */
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Answers the request for `pathname` (still URL-encoded). */
  async serve(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    const file = await this.locate(pathname);
    if (file === 'bad') return plain(response, 400, 'bad path\n');
    if (file === undefined) {
      if (pathname === '/' || pathname === '/index.html') {
        return plain(response, 503, 'dashboard not built; run `npm run build` and restart\n');
      }
      return plain(response, 404, 'not found\n');
    }

    const type = CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream';
    const immutable = pathname.startsWith('/assets/');
    response.writeHead(200, {
      'Content-Type': type,
      'Content-Length': file.size,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...(type.startsWith('text/html')
        ? { 'Content-Security-Policy': CONTENT_SECURITY_POLICY }
        : {}),
    });
    if (request.method === 'HEAD') return void response.end();

    createReadStream(file.path)
      .on('error', () => response.destroy())
      .pipe(response);
  }

  /** The file for `pathname`, undefined when there is none, 'bad' for an unusable path. */
  private async locate(
    pathname: string,
  ): Promise<{ path: string; size: number } | undefined | 'bad'> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return 'bad';
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return 'bad';
    if (decoded.endsWith('/')) decoded += 'index.html';

    const candidate = resolve(this.root, '.' + decoded);
    if (!candidate.startsWith(this.root + sep)) return undefined;

    try {
      this.realRoot ??= await realpath(this.root);
      const real = await realpath(candidate);
      if (!real.startsWith(this.realRoot + sep)) return undefined;
      const info = await stat(real);
      return info.isFile() ? { path: real, size: info.size } : undefined;
    } catch {
      return undefined;
    }
  }
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(text);
}
