/**
 * The YAML configuration file: server, model and cameras. Documented in docs/config.md.
 *
 * Errors name the file, the line and the key path, e.g.
 * `cameras.yaml:7: cameras[1].url: required`. Strings may hold `${NAME}`, replaced by the
 * environment variable NAME, so passwords and tokens need not be written into the file.
 * Relative file paths (model.path and file cameras) are taken from the file's directory.
 * Fields left out stay undefined: the CLI fills defaults after its own flags, which win.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { StreamRequest } from './engine.js';
import { REQUIRED_ERROR_MAP, formatIssuePath, issuePath, issueReason } from './issue-text.js';
import { StreamRequestSchema } from './stream-request.js';

const ServerSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.int().min(0).max(65535).optional(),
  token: z.string().min(1, 'must not be empty').optional(),
  insecure: z.boolean().optional(),
  previewFps: z.number().min(0).max(60).optional(),
  allowedOrigins: z.array(z.url({ protocol: /^https?$/ })).optional(),
});

const ModelSchema = z.strictObject({
  path: z.string().min(1).optional(),
  device: z.enum(['auto', 'cpu', 'cuda', 'tensorrt']).optional(),
  threads: z.int().min(1).max(256).optional(),
  maxBatch: z.int().min(1).max(256).optional(),
});

const ConfigSchema = z.strictObject({
  server: ServerSchema.optional(),
  model: ModelSchema.optional(),
  cameras: z.array(StreamRequestSchema).optional(),
});

/** `server:` section. Defaults live in startServer. */
export type ServerConfig = z.infer<typeof ServerSchema>;

/** `model:` section. `path` is a file path or 'default' | 'official'. */
export type ModelConfig = z.infer<typeof ModelSchema>;

/** A loaded, validated configuration file. */
export interface FacexstreamConfig {
  /** Absolute path of the file it came from. */
  file: string;
  server: ServerConfig;
  model: ModelConfig;
  cameras: StreamRequest[];
}

/**
 * Reads and validates the YAML file at `path`. Rejects with FxsError CONFIG_INVALID naming
 * the line and key of the first problem.
 */
export async function loadConfig(path: string): Promise<FacexstreamConfig> {
  const text = await readText(path);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });

  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0].line ?? 1;
    const reason = syntax.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw invalid(path, line, `YAML syntax: ${reason}`);
  }

  const where = (keys: PropertyKey[]) => lines.linePos(offsetOf(doc, keys)).line;
  const raw = expandEnv(doc.toJS() ?? {}, [], (keys, name) => {
    throw invalid(
      path,
      where(keys),
      `${formatIssuePath(keys)}: environment variable ${name} is not set`,
    );
  });

  const parsed = ConfigSchema.safeParse(raw, REQUIRED_ERROR_MAP);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(
      path,
      where(issuePath(issue)),
      `${formatIssuePath(issue.path)}: ${issueReason(issue)}`,
    );
  }

  const cameras = parsed.data.cameras ?? [];
  const duplicate = findDuplicateName(cameras);
  if (duplicate !== undefined) {
    const keys = ['cameras', duplicate, 'name'];
    throw invalid(path, where(keys), `${formatIssuePath(keys)}: another camera has this name`);
  }

  const base = dirname(resolve(path));
  const model = parsed.data.model ?? {};
  return {
    file: resolve(path),
    server: parsed.data.server ?? {},
    model: { ...model, path: model.path && resolveModelPath(base, model.path) },
    cameras: cameras.map((camera) => ({ ...camera, url: resolveSource(base, camera.url) })),
  };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : String(code);
    throw new FxsError(
      ErrorCodes.CONFIG_INVALID,
      `cannot read config '${path}': ${reason}; pass the path of a YAML file (see docs/config.md)`,
      { cause: err },
    );
  }
}

function invalid(path: string, line: number, message: string): FxsError {
  return new FxsError(ErrorCodes.CONFIG_INVALID, `${path}:${line}: ${message}`);
}

/**
 * Source offset of the entry at `keys`: the key of a map entry, the item of a list. For an
 * entry that is absent (a required key left out), the nearest entry above it.
 */
function offsetOf(doc: Document, keys: PropertyKey[]): number {
  for (let depth = keys.length; depth > 0; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(keys.slice(0, depth - 1), true);
    const last = keys[depth - 1];
    let node: unknown;
    if (isMap(parent))
      node = parent.items.find((item) => isScalar(item.key) && item.key.value === last)?.key;
    if (isSeq(parent) && typeof last === 'number') node = parent.items[last];
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return range[0];
  }
  return (doc.contents as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
}

/** Replaces `${NAME}` in every string; calls `missing` for an unset variable. */
function expandEnv(
  value: unknown,
  keys: PropertyKey[],
  missing: (keys: PropertyKey[], name: string) => never,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
      const found = process.env[name];
      return found === undefined ? missing(keys, name) : found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, [...keys, i], missing));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, expandEnv(v, [...keys, k], missing)]);
    return Object.fromEntries(entries);
  }
  return value;
}

function findDuplicateName(cameras: StreamRequest[]): number | undefined {
  const seen = new Set<string>();
  for (const [index, camera] of cameras.entries()) {
    if (camera.name === undefined) continue;
    if (seen.has(camera.name)) return index;
    seen.add(camera.name);
  }
  return undefined;
}

function resolveModelPath(base: string, path: string): string {
  return path === 'default' || path === 'official' ? path : resolve(base, path);
}

/** A relative file path is taken from the config's folder; URLs and devices stay as they are. */
function resolveSource(base: string, url: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || isAbsolute(url)) return url;
  return resolve(base, url);
}
