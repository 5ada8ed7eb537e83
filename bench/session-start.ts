/**
 * Session start-up time with and without ONNX Runtime's optimized-model cache.
 *
 *   node --import tsx bench/session-start.ts <model.onnx> [threads]
 *
 * Prints one JSON line: creation without the cache, the first start with the cache (which
 * optimizes and writes the optimized model) and the second (which loads it), in ms, plus
 * the sizes of the model and its optimized copy. Uses a throwaway cache folder.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ModelSession } from '../src/model/session.js';

const [modelPath, threadsArg] = process.argv.slice(2);
if (!modelPath) {
  process.stderr.write('usage: node --import tsx bench/session-start.ts <model.onnx> [threads]\n');
  process.exit(2);
}
const threads = threadsArg ? Number(threadsArg) : undefined;
const cacheDir = await mkdtemp(join(tmpdir(), 'fxs-start-'));

async function timeStart(
  optimizedCacheDir: string | false,
): Promise<{ ms: number; hit: boolean; path?: string }> {
  const session = await ModelSession.create({
    modelPath,
    device: 'cpu',
    threads,
    optimizedCacheDir,
  });
  const result = {
    ms: Math.round(session.start.createMs),
    hit: session.start.cacheHit,
    path: session.start.optimizedPath,
  };
  await session.close();
  return result;
}

try {
  const uncached = await timeStart(false);
  const first = await timeStart(cacheDir);
  const second = await timeStart(cacheDir);
  const third = await timeStart(cacheDir);
  const modelBytes = (await stat(modelPath)).size;
  const optimizedBytes = second.path ? (await stat(second.path)).size : 0;
  process.stdout.write(
    `${JSON.stringify({
      model: modelPath,
      modelBytes,
      optimizedBytes,
      noCacheMs: uncached.ms,
      firstWithCacheMs: first.ms,
      secondMs: second.ms,
      thirdMs: third.ms,
      secondHit: second.hit,
    })}\n`,
  );
} finally {
  await rm(cacheDir, { recursive: true, force: true });
}
