import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The published FaceXFormer's template, relative to the package root. */
const RELATIVE_PATH = join('models', 'templates', 'facexformer-swin-b.onnx');

/**
 * Path of the weight-free Swin-B template shipped in the package (`models/` is in the
 * package's `files`). Found by walking up from this module, so it resolves the same from
 * `src/` (tsx) and from `dist/src/` (built).
 *
 * @returns the path, or undefined when the package was installed without it
 */
export function defaultTemplatePath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
