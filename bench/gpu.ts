/**
 * GPU throughput of the model runtime: faces per second for each model file, device and
 * batch size, and the largest output difference from float32 on CPU. Driven by bench/gpu.sh.
 *
 *   node --import tsx bench/gpu.ts --model fp32.onnx [--model fp16.onnx] \
 *     [--devices cuda,tensorrt] [--batches 1,8,32] [--seconds 5]
 *
 * Each timed run fetches every output (parsing included: 2.2 MB a face back to the host),
 * as the runtime does when every task is asked for. Warm-up runs at each batch size come
 * first, so TensorRT engine builds for a new shape are not timed. Prints one JSON line per
 * measurement, then a table.
 */
import { parseArgs } from 'node:util';

import { ModelSession } from '../src/model/session.js';
import type { Device } from '../src/model/device.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    devices: { type: 'string', default: 'cuda,tensorrt' },
    batches: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '5' },
  },
});
const models = values.model ?? [];
if (models.length === 0) {
  process.stderr.write(
    'usage: node --import tsx bench/gpu.ts --model a.onnx [--model b.onnx] ...\n',
  );
  process.exit(2);
}
const devices = values.devices.split(',') as Device[];
const batches = values.batches.split(',').map(Number);
const seconds = Number(values.seconds);

const REFERENCE_BATCH = 8;
const reference = await cpuReference(models[0]);
const rows: string[] = [];

for (const modelPath of models) {
  for (const device of devices) {
    const session = await ModelSession.create({
      modelPath,
      device,
      optimizedCacheDir: false,
      providers: new Set<Device>(['cpu', 'cuda', 'tensorrt']),
    });
    if (session.device !== device) {
      report({ model: modelPath, device, unavailable: session.warnings.join(' ') });
      await session.close();
      continue;
    }

    const diff = await maxDiff(session);
    for (const batch of batches) {
      const facesPerS = await throughput(session, batch);
      report({ model: modelPath, device, batch, facesPerS, maxDiffVsCpu: diff });
      rows.push(
        `${modelPath}\t${device}\t${batch}\t${facesPerS.toFixed(1)}\t${diff.max.toExponential(2)}`,
      );
    }
    await session.close();
  }
}

process.stdout.write(
  `\nmodel\tdevice\tbatch\tfaces/s\tmax |diff| vs cpu fp32\n${rows.join('\n')}\n`,
);

/** Deterministic input in the normalized range the model sees. */
function input(batch: number): Float32Array {
  const data = new Float32Array(batch * 3 * 224 * 224);
  let seed = 12345;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = (seed / 2 ** 32) * 4 - 2;
  }
  return data;
}

async function cpuReference(modelPath: string): Promise<Record<string, Float32Array>> {
  const cpu = await ModelSession.create({ modelPath, device: 'cpu', optimizedCacheDir: false });
  try {
    return await cpu.run(input(REFERENCE_BATCH), REFERENCE_BATCH, cpu.outputNames);
  } finally {
    await cpu.close();
  }
}

async function maxDiff(
  session: ModelSession,
): Promise<{ max: number; byOutput: Record<string, number> }> {
  const out = await session.run(input(REFERENCE_BATCH), REFERENCE_BATCH, session.outputNames);
  const byOutput: Record<string, number> = {};
  let max = 0;
  for (const [name, expected] of Object.entries(reference)) {
    let d = 0;
    const got = out[name];
    for (let i = 0; i < expected.length; i++) d = Math.max(d, Math.abs(got[i] - expected[i]));
    byOutput[name] = d;
    max = Math.max(max, d);
  }
  return { max, byOutput };
}

async function throughput(session: ModelSession, batch: number): Promise<number> {
  const data = input(batch);
  for (let i = 0; i < 3; i++) await session.run(data, batch, session.outputNames);

  let faces = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await session.run(data, batch, session.outputNames);
    faces += batch;
  }
  return faces / ((performance.now() - started) / 1000);
}

function report(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
