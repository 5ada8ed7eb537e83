import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { readModelMetadata } from '../src/model/onnx-file.js';
import {
  CHECKPOINT_FILE,
  CHECKPOINT_PATH,
  pullOfficialModel,
  type PullOptions,
} from '../src/model/pull.js';
import { OFFICIAL_MODEL_FILE } from '../src/model/resolve.js';

const TEMPLATE = 'test/fixtures/tiny/template.onnx';

/** How the fixture server behaves for the next requests. */
interface ServerMode {
  /** Destroy the socket after this many body bytes, for the first `cuts` responses. */
  cutAfter?: number;
  cuts?: number;
  /** Answer every request with this status and no body. */
  status?: number;
  /** Ignore Range headers and always send the whole file. */
  ignoreRange?: boolean;
}

let checkpoint: Buffer;
let sha256: string;
let server: Server;
let baseUrl: string;
let mode: ServerMode = {};
let requests: Array<{ url: string; range?: string }> = [];
let dir: string;

before(async () => {
  checkpoint = await readFile('test/fixtures/tiny/checkpoint.pt');
  sha256 = createHash('sha256').update(checkpoint).digest('hex');
  dir = await mkdtemp(join(tmpdir(), 'fxs-pull-'));
  server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  mode = {};
  requests = [];
});

/** Like the Hub: the resolve URL redirects to a CDN URL that serves bytes with Range support. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  requests.push({ url: req.url ?? '', range: req.headers.range });
  if (mode.status) {
    res.writeHead(mode.status).end();
    return;
  }
  if (req.url === CHECKPOINT_PATH) {
    res.writeHead(302, { location: '/cdn/blob/model.pt' }).end();
    return;
  }
  if (req.url !== '/cdn/blob/model.pt') {
    res.writeHead(404).end();
    return;
  }

  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = match && !mode.ignoreRange ? Number(match[1]) : 0;
  if (start >= checkpoint.length) {
    res.writeHead(416, { 'content-range': `bytes */${checkpoint.length}` }).end();
    return;
  }
  const body = checkpoint.subarray(start);
  const headers: Record<string, string | number> = { 'content-length': body.length, etag: '"v1"' };
  if (start > 0)
    headers['content-range'] = `bytes ${start}-${checkpoint.length - 1}/${checkpoint.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);

  if (mode.cutAfter !== undefined && (mode.cuts ?? 1) > 0) {
    mode.cuts = (mode.cuts ?? 1) - 1;
    res.write(body.subarray(0, mode.cutAfter), () => res.destroy());
    return;
  }
  res.end(body);
}

async function freshCache(name: string): Promise<string> {
  const cacheDir = join(dir, name);
  await mkdir(cacheDir, { recursive: true });
  return cacheDir;
}

function options(cacheDir: string, extra: PullOptions = {}): PullOptions {
  return { cacheDir, baseUrl, templatePath: TEMPLATE, retryDelayMs: 0, ...extra };
}

describe('pullOfficialModel', () => {
  it('downloads through the redirect, imports, and removes the checkpoint', async () => {
    const cacheDir = await freshCache('full');
    const phases = new Set<string>();
    const result = await pullOfficialModel(
      options(cacheDir, { onProgress: (p) => phases.add(p.phase) }),
    );

    assert.equal(result.modelPath, join(cacheDir, OFFICIAL_MODEL_FILE));
    assert.equal(result.sha256, sha256);
    assert.equal(result.downloadedBytes, checkpoint.length);
    assert.equal(result.resumed, false);
    assert.equal((await readModelMetadata(result.modelPath)).provenance.sha256, sha256);
    assert.equal(existsSync(join(cacheDir, CHECKPOINT_FILE)), false);
    assert.equal(existsSync(join(cacheDir, `${CHECKPOINT_FILE}.part`)), false);
    assert.deepEqual([...phases], ['download', 'verify', 'import']);
    assert.deepEqual(
      requests.map((r) => r.url),
      [CHECKPOINT_PATH, '/cdn/blob/model.pt'],
    );
  });

  it('resumes with a Range request after the connection drops mid-body', async () => {
    const cacheDir = await freshCache('cut');
    mode = { cutAfter: 300_000, cuts: 1 };
    const result = await pullOfficialModel(options(cacheDir, { sha256, keepCheckpoint: true }));

    assert.equal(result.resumed, true);
    const ranged = requests.filter((r) => r.range);
    assert.equal(ranged.length, 2, 'the resolve URL and the CDN URL both carry the Range');
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranged[1].range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 300_000, `resumed at ${resumedAt}`);
    assert.deepEqual(await readFile(join(cacheDir, CHECKPOINT_FILE)), checkpoint);
    assert.equal(result.downloadedBytes, checkpoint.length);
  });

  it('continues a partial file left by an interrupted run', async () => {
    const cacheDir = await freshCache('leftover');
    await writeFile(join(cacheDir, `${CHECKPOINT_FILE}.part`), checkpoint.subarray(0, 100_000));
    const result = await pullOfficialModel(options(cacheDir, { sha256 }));

    assert.equal(result.resumed, true);
    assert.equal(result.downloadedBytes, checkpoint.length - 100_000);
    assert.equal(requests[0].range, 'bytes=100000-');
  });

  it('starts over when the server ignores the Range request', async () => {
    const cacheDir = await freshCache('no-range');
    await writeFile(join(cacheDir, `${CHECKPOINT_FILE}.part`), Buffer.alloc(50_000, 7));
    mode = { ignoreRange: true };
    const result = await pullOfficialModel(options(cacheDir, { sha256 }));
    assert.equal(result.sha256, sha256);
  });

  it('rejects a checksum mismatch and deletes the download', async () => {
    const cacheDir = await freshCache('mismatch');
    await assert.rejects(pullOfficialModel(options(cacheDir, { sha256: 'ab'.repeat(32) })), (err) =>
      isFxsError(err, ErrorCodes.DOWNLOAD_FAILED),
    );
    assert.equal(existsSync(join(cacheDir, `${CHECKPOINT_FILE}.part`)), false);
    assert.equal(existsSync(join(cacheDir, CHECKPOINT_FILE)), false);
    assert.equal(existsSync(join(cacheDir, OFFICIAL_MODEL_FILE)), false);
  });

  it('rejects an HTTP 404 without retrying', async () => {
    const cacheDir = await freshCache('missing');
    mode = { status: 404 };
    await assert.rejects(pullOfficialModel(options(cacheDir)), (err) =>
      isFxsError(err, ErrorCodes.DOWNLOAD_FAILED),
    );
    assert.equal(requests.length, 1);
  });

  it('gives up after maxAttempts when every connection drops', async () => {
    const cacheDir = await freshCache('flaky');
    mode = { cutAfter: 1000, cuts: 99 };
    await assert.rejects(pullOfficialModel(options(cacheDir, { maxAttempts: 3 })), (err) =>
      isFxsError(err, ErrorCodes.DOWNLOAD_FAILED),
    );
    assert.equal(requests.filter((r) => r.url === CHECKPOINT_PATH).length, 3);
    assert.ok(
      existsSync(join(cacheDir, `${CHECKPOINT_FILE}.part`)),
      'the partial file stays for the next run',
    );
  });

  it('rejects an unreachable host', async () => {
    const cacheDir = await freshCache('unreachable');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      pullOfficialModel(options(cacheDir, { baseUrl: `http://127.0.0.1:${port}`, maxAttempts: 2 })),
      (err) => isFxsError(err, ErrorCodes.DOWNLOAD_FAILED),
    );
  });

  it('reads the host from FACEXSTREAM_HF_BASE when no base URL is given', async () => {
    const cacheDir = await freshCache('env');
    process.env.FACEXSTREAM_HF_BASE = baseUrl;
    try {
      const result = await pullOfficialModel({ cacheDir, templatePath: TEMPLATE, retryDelayMs: 0 });
      assert.equal(result.sha256, sha256);
    } finally {
      delete process.env.FACEXSTREAM_HF_BASE;
    }
  });
});
