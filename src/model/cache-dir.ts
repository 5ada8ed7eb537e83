import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The facexstream cache folder: `$XDG_CACHE_HOME/facexstream`, else `~/.cache/facexstream`.
 * It holds the imported official model, downloads in progress and ONNX Runtime's optimized
 * models.
 *
 * @param env environment to read (default process.env)
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0
      ? env.XDG_CACHE_HOME
      : join(homedir(), '.cache');
  return join(base, 'facexstream');
}
