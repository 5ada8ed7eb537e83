/**
 * `facexstream model pull`: download the published FaceXFormer checkpoint and import it into
 * the cache folder as the official ONNX model.
 *
 * The download goes to `<checkpoint>.part` and resumes with an HTTP Range request, both after
 * a connection drops mid-body (retried within one pull) and across runs (a `.part` left by an
 * interrupted pull is continued). An `If-Range` with the server's ETag makes a server whose
 * file changed send it whole instead of a mismatched tail. Once complete (and matching the
 * expected SHA-256, when one is given) the file is renamed into place, then imported.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { defaultCacheDir } from './cache-dir.js';
import { defaultTemplatePath } from './checkpoint/default-template.js';
import { importCheckpoint } from './checkpoint-import.js';
import { officialModelPath } from './resolve.js';
import { sha256File } from '../common/sha256-file.js';

/** Default download host; overridden by `baseUrl` or the FACEXSTREAM_HF_BASE variable. */
export const HF_BASE = 'https://huggingface.co';

/** Path of the published checkpoint below the host. */
export const CHECKPOINT_PATH = '/kartiknarayan/facexformer/resolve/main/ckpts/model.pt';

/** File name of the downloaded checkpoint in the cache folder. */
export const CHECKPOINT_FILE = 'facexformer-model.pt';

/** Progress of a pull; `phase` tells which counters are meaningful. */
export type PullProgress =
  | {
      phase: 'download';
      /** Bytes of the checkpoint on disk so far. */
      receivedBytes: number;
      /** Size of the checkpoint, when the server told it. */
      totalBytes?: number;
      /** Bytes that were already on disk when this attempt started. */
      resumedFromBytes: number;
    }
  | { phase: 'verify' }
  | { phase: 'import'; stage: 'read' | 'convert' | 'write'; done: number; total: number };

/** Options of pullOfficialModel. */
export interface PullOptions {
  /** Cache folder. Default `$XDG_CACHE_HOME/facexstream` (see cache-dir.ts). */
  cacheDir?: string;
  /** Host to download from. Default FACEXSTREAM_HF_BASE, else https://huggingface.co. */
  baseUrl?: string;
  /** Expected SHA-256 of the checkpoint (hex); a mismatch deletes the download. */
  sha256?: string;
  /** Weight-free template to import into. Default models/templates/facexformer-swin-b.onnx. */
  templatePath?: string;
  /** Keep the checkpoint after importing it. Default false (it is as large as the model). */
  keepCheckpoint?: boolean;
  /** Attempts per pull when the connection fails. Default 5. */
  maxAttempts?: number;
  /** Pause before a retry, multiplied by the attempt number, in milliseconds. Default 1000. */
  retryDelayMs?: number;
  /** Called on every received chunk and import step; it must be cheap and must not throw. */
  onProgress?: (progress: PullProgress) => void;
}

/** What a pull did. */
export interface PullResult {
  /** The imported official model. */
  modelPath: string;
  /** The checkpoint (deleted after import unless keepCheckpoint). */
  checkpointPath: string;
  /** SHA-256 of the checkpoint. */
  sha256: string;
  /** Bytes fetched over the network by this pull. */
  downloadedBytes: number;
  /** True when the download continued an earlier partial file or a dropped connection. */
  resumed: boolean;
}

/**
 * Downloads (resuming if possible), verifies and imports the published checkpoint.
 *
 * @throws FxsError FXS_ERR_DOWNLOAD_FAILED (network, HTTP status, checksum),
 *   FXS_ERR_CHECKPOINT_UNREADABLE / FXS_ERR_CHECKPOINT_MISMATCH (import),
 *   FXS_ERR_MODEL_NOT_FOUND (no template)
 */
export async function pullOfficialModel(options: PullOptions = {}): Promise<PullResult> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const base = options.baseUrl ?? process.env.FACEXSTREAM_HF_BASE ?? HF_BASE;
  const url = new URL(CHECKPOINT_PATH, base.endsWith('/') ? base : `${base}/`).href;
  const checkpointPath = join(cacheDir, CHECKPOINT_FILE);
  const progress = options.onProgress ?? (() => {});
  const templatePath = options.templatePath ?? defaultTemplatePath();
  if (!templatePath) {
    throw new FxsError(
      ErrorCodes.MODEL_NOT_FOUND,
      'the Swin-B template models/templates/facexformer-swin-b.onnx is missing; ' +
        'reinstall facexstream',
    );
  }

  await mkdir(cacheDir, { recursive: true });
  let download = { downloadedBytes: 0, resumed: false };
  let sha256: string;
  if (existsSync(checkpointPath)) {
    progress({ phase: 'verify' });
    sha256 = await verifyChecksum(checkpointPath, options.sha256, url);
  } else {
    const part = `${checkpointPath}.part`;
    download = await downloadResumable(url, part, options, progress);
    progress({ phase: 'verify' });
    sha256 = await verifyChecksum(part, options.sha256, url);
    await rename(part, checkpointPath);
  }

  const modelPath = officialModelPath(cacheDir);
  await importCheckpoint({
    checkpointPath,
    templatePath,
    outPath: modelPath,
    onProgress: (p) => progress({ phase: 'import', ...p }),
  });
  if (!options.keepCheckpoint) await rm(checkpointPath, { force: true });

  return { modelPath, checkpointPath, sha256, ...download };
}

/**
 * Downloads `url` into `part`, continuing what is there. Retries dropped connections with a
 * Range request.
 */
async function downloadResumable(
  url: string,
  part: string,
  options: PullOptions,
  progress: NonNullable<PullOptions['onProgress']>,
): Promise<{ downloadedBytes: number; resumed: boolean }> {
  const maxAttempts = options.maxAttempts ?? 5;
  const delayMs = options.retryDelayMs ?? 1000;
  const counter = { bytes: 0 };
  let resumed = false;
  let lastError: unknown;

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const have = await sizeOf(part);
    resumed ||= have > 0;
    try {
      if (await fetchInto(url, part, have, counter, progress)) {
        await rm(`${part}.etag`, { force: true });
        return { downloadedBytes: counter.bytes, resumed };
      }
      lastError = new Error('the connection closed before the end of the file');
    } catch (err) {
      if (err instanceof FxsError) throw err;
      lastError = err;
    }
    if (attempt < maxAttempts) await sleep(delayMs * attempt);
  }

  throw new FxsError(
    ErrorCodes.DOWNLOAD_FAILED,
    `cannot download ${url} (${describe(lastError)}) after ${maxAttempts} attempts; ` +
      'check the network and run the command again to resume',
    { cause: lastError },
  );
}

/**
 * One HTTP request: appends the body to `part` from byte `have`, counting bytes received
 * into `counter`. Resolves true when the file is complete.
 */
async function fetchInto(
  url: string,
  part: string,
  have: number,
  counter: { bytes: number },
  progress: NonNullable<PullOptions['onProgress']>,
): Promise<boolean> {
  const headers: Record<string, string> = {};
  const etag = have > 0 ? await readFile(`${part}.etag`, 'utf8').catch(() => undefined) : undefined;
  if (have > 0) headers.range = `bytes=${have}-`;
  if (have > 0 && etag) headers['if-range'] = etag;

  const response = await fetch(url, { headers, redirect: 'follow' });
  if (response.status === 416) {
    await response.body?.cancel();
    const total = Number(/\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1]);
    if (total === have) return true;
    await rm(part, { force: true });
    return false;
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    if (response.status >= 500 || response.status === 429) {
      throw new Error(`HTTP ${response.status}`);
    }
    throw new FxsError(
      ErrorCodes.DOWNLOAD_FAILED,
      `${url} answered HTTP ${response.status}; check --base-url (or FACEXSTREAM_HF_BASE)`,
    );
  }

  // 200 to a ranged request means the server sends the whole file (no ranges, or changed).
  const start = response.status === 206 ? have : 0;
  const total = totalSize(response, start);
  const newEtag = response.headers.get('etag');
  if (newEtag) await writeFile(`${part}.etag`, newEtag);
  if (!response.body) return total === start;

  let received = start;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    counter.bytes += chunk.length;
    progress({
      phase: 'download',
      receivedBytes: received,
      totalBytes: total,
      resumedFromBytes: start,
    });
  });
  await pipeline(body, createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }));

  return total === undefined || received >= total;
}

/** Full file size from Content-Range (206) or Content-Length (200). */
function totalSize(response: Response, start: number): number | undefined {
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);

  const length = response.headers.get('content-length');
  return length === null ? undefined : start + Number(length);
}

async function verifyChecksum(
  path: string,
  expected: string | undefined,
  url: string,
): Promise<string> {
  const actual = await sha256File(path);
  if (expected && actual !== expected.toLowerCase()) {
    await rm(path, { force: true });
    throw new FxsError(
      ErrorCodes.DOWNLOAD_FAILED,
      `the download of ${url} has SHA-256 ${actual}, expected ${expected}; it was deleted, ` +
        'run the command again (or check --sha256)',
    );
  }
  return actual;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
