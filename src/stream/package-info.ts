/**
 * Where the installed package lives and what it is called. The server needs both: the
 * dashboard files sit at `dashboard/dist` under the package root, and `hello` announces the
 * version. The module runs from `src/stream` under tsx and from `dist/src/stream` once built,
 * so the root is found by walking up to the nearest facexstream package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Name, version and root directory of the running facexstream package. */
export interface PackageInfo {
  name: string;
  version: string;
  /** Absolute path of the directory holding package.json. */
  root: string;
  /** Absolute path of the built dashboard (may not exist when the dashboard was not built). */
  dashboardDir: string;
}

let cached: PackageInfo | undefined;

/** Reads the package facts once; later calls return the same object. */
export function packageInfo(): PackageInfo {
  cached ??= findPackage(dirname(fileURLToPath(import.meta.url)));
  return cached;
}

function findPackage(start: string): PackageInfo {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'facexstream') {
        return {
          name: pkg.name,
          version: pkg.version ?? '0.0.0',
          root: dir,
          dashboardDir: join(dir, 'dashboard', 'dist'),
        };
      }
    }
    if (dirname(dir) === dir) break;
  }

  // Only reachable when the files were copied out of the package; the server still runs.
  return { name: 'facexstream', version: '0.0.0', root: start, dashboardDir: join(start, 'dist') };
}
