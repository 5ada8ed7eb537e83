import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, FxsError } from '../common/errors.js';

/** The ffmpeg and ffprobe executables facexstream drives, and what they can do. */
export interface FfmpegBinaries {
  ffmpegPath: string;
  ffprobePath: string;
  /** `[major, minor]` from `ffmpeg -version`; null for builds that print a git id instead. */
  version: [number, number] | null;
  /** Option that stops ffmpeg from dropping or duplicating frames: `-fps_mode` from 5.1 on. */
  passthroughFlag: '-fps_mode' | '-vsync';
}

const cache = new Map<string, Promise<FfmpegBinaries>>();

/**
 * Finds ffmpeg and ffprobe: `FFMPEG_PATH` (and `FFPROBE_PATH`, else the ffprobe beside it)
 * first, then `PATH`, then an npm package that ships a binary (`@ffmpeg-installer/ffmpeg`,
 * `ffmpeg-static`, with `@ffprobe-installer/ffprobe` or `ffprobe-static`) when one is
 * installed. The answer is cached per value of those variables.
 *
 * @throws FxsError `FXS_ERR_FFMPEG_MISSING` when either binary cannot be found.
 */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<FfmpegBinaries> {
  const key = [env.FFMPEG_PATH, env.FFPROBE_PATH, env.PATH].join('\0');
  let found = cache.get(key);
  if (found === undefined) {
    found = locate(env);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

async function locate(env: NodeJS.ProcessEnv): Promise<FfmpegBinaries> {
  const ffmpegPath = await locateOne('ffmpeg', env.FFMPEG_PATH, env);
  const besideFfmpeg = env.FFMPEG_PATH
    ? path.join(path.dirname(env.FFMPEG_PATH), 'ffprobe')
    : undefined;
  const ffprobePath = await locateOne('ffprobe', env.FFPROBE_PATH ?? besideFfmpeg, env);
  const version = await readVersion(ffmpegPath);
  const modern = version === null || version[0] > 5 || (version[0] === 5 && version[1] >= 1);
  return { ffmpegPath, ffprobePath, version, passthroughFlag: modern ? '-fps_mode' : '-vsync' };
}

async function locateOne(
  name: 'ffmpeg' | 'ffprobe',
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if (explicit !== undefined && explicit !== '') {
    if (await isExecutable(explicit)) return explicit;
    if (name === 'ffmpeg') {
      throw missing(
        `FFMPEG_PATH is '${explicit}', which is not an executable file; fix or unset it`,
      );
    }
  }

  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }

  const packaged = fromPackages(name);
  if (packaged !== undefined && (await isExecutable(packaged))) return packaged;

  throw missing(`${name} not found; install it (apt-get install ffmpeg) or set FFMPEG_PATH`);
}

/** Binary paths exported by the npm packages that ship one, first hit wins. */
function fromPackages(name: 'ffmpeg' | 'ffprobe'): string | undefined {
  const require = createRequire(import.meta.url);
  const packages =
    name === 'ffmpeg'
      ? ['@ffmpeg-installer/ffmpeg', 'ffmpeg-static']
      : ['@ffprobe-installer/ffprobe', 'ffprobe-static'];
  for (const pkg of packages) {
    try {
      const exported: unknown = require(pkg);
      if (typeof exported === 'string') return exported;
      if (exported !== null && typeof exported === 'object' && 'path' in exported) {
        const p = (exported as { path: unknown }).path;
        if (typeof p === 'string') return p;
      }
    } catch {
      // Not installed: the packages are optional.
    }
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function readVersion(ffmpegPath: string): Promise<[number, number] | null> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(ffmpegPath, ['-hide_banner', '-version']));
  } catch {
    throw missing(`'${ffmpegPath}' did not run as ffmpeg; install ffmpeg or fix FFMPEG_PATH`);
  }
  const match = /version n?(\d+)\.(\d+)/.exec(stdout);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

function missing(message: string): FxsError {
  return new FxsError(ErrorCodes.FFMPEG_MISSING, message);
}
