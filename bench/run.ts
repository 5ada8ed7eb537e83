/**
 * `npm run bench`: throughput and latency as ratios measured in one run, never as timed
 * test assertions. Sections:
 *  1. the model alone (ModelRunner.inferRaw) at batch 1 and 4, faces/s;
 *  2. the full pipeline (decode, detect, track, crop, batch, infer, decode) on the sample clip
 *     with every task every frame, faces/s, and its ratio to the model alone at the same
 *     mean batch size; per-stage times per frame;
 *  3. live mode: the clip played in real time through the live engine, decode-to-result
 *     latency p50/p95;
 *  4. when /usr/bin/python3 has torch (dev machines): the published Swin-B architecture with
 *     random weights: ONNX Runtime alone, the pipeline with it (clip capped at 4 fps) as a
 *     ratio to the model alone, PyTorch eager at batch 1 and 4 as a ratio to ORT, and the
 *     fraction of the CPU's peak FLOP rate ORT reaches.
 *
 * Flags: --model <path|default|official|embedded>, --threads <n>, --seconds <n> (per
 * measurement, default 6), --skip-pytorch, --json <file>.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TASKS, OUTPUT_NAMES } from '../src/model/contract.js';
import { ModelRunner } from '../src/model/model-runner.js';
import { resolveModel } from '../src/model/resolve.js';
import { analyzeInputs } from '../src/pipeline/analyze.js';
import { FaceDetector } from '../src/pipeline/detector/face-detector.js';
import { LiveEngine } from '../src/pipeline/engine.js';
import type { FrameTimings } from '../src/pipeline/stream-processor.js';

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    threads: { type: 'string', default: String(Math.max(1, cpus().length)) },
    seconds: { type: 'string', default: '6' },
    'skip-pytorch': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const threads = Number(flags.threads);
const seconds = Number(flags.seconds);
const SAMPLE = 'samples/demo.mp4';
const report: Record<string, unknown> = { threads, cpu: cpus()[0]?.model, cores: cpus().length };

function log(line: string): void {
  process.stdout.write(line + '\n');
}

/** Repeats `fn` for about `secs` seconds after one warm-up call; returns ms per call. */
async function timeIt(fn: () => Promise<unknown>, secs: number): Promise<number> {
  await fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < secs * 1000 || n < 3) {
    await fn();
    n += 1;
  }
  return (performance.now() - start) / n;
}

async function modelAlone(runner: ModelRunner, outputs: string[]): Promise<Record<number, number>> {
  const size = runner.metadata.inputSize;
  const perBatch: Record<number, number> = {};
  for (const batch of [1, 4]) {
    const input = new Float32Array(batch * 3 * size * size).map(() => Math.random() * 2 - 1);
    const ms = await timeIt(() => runner.inferRaw(input, batch, outputs), seconds);
    perBatch[batch] = (batch * 1000) / ms;
    log(`  model alone, batch ${batch}: ${ms.toFixed(1)} ms per call, ${perBatch[batch].toFixed(1)} faces/s`);
  }
  return perBatch;
}

async function pipeline(runner: ModelRunner, detector: FaceDetector, fps?: number): Promise<Record<string, number>> {
  const out = join(mkdtempSync(join(tmpdir(), 'fxs-bench-')), 'bench.jsonl');
  const every = Object.fromEntries(TASKS.map((t) => [t, 1]));
  let faces = 0;
  let batches = 0;
  let batchFaces = 0;
  const onBatch = (b: { faces: number }) => {
    batches += 1;
    batchFaces += b.faces;
  };
  runner.on('batch', onBatch);
  const started = performance.now();
  const summary = await analyzeInputs({
    inputs: [SAMPLE],
    out,
    tasks: runner.metadata.tasks,
    analyzer: runner,
    detector,
    intervals: every,
    fps,
    onFrame: (p) => (faces += p.faces),
  });
  const ms = performance.now() - started;
  runner.off('batch', onBatch);
  rmSync(out, { force: true });
  if (summary.inputs[0]?.error) throw summary.inputs[0].error;
  const result = {
    frames: summary.frames,
    faces,
    fps: (summary.frames * 1000) / ms,
    facesPerSecond: (faces * 1000) / ms,
    meanBatch: batchFaces / Math.max(batches, 1),
  };
  log(
    `  pipeline: ${result.frames} frames, ${faces} faces in ${(ms / 1000).toFixed(1)} s: ` +
      `${result.fps.toFixed(1)} frames/s, ${result.facesPerSecond.toFixed(1)} faces/s, mean batch ${result.meanBatch.toFixed(2)}`,
  );
  return result;
}

async function stageTimes(runner: ModelRunner, detector: FaceDetector): Promise<Record<string, number>> {
  const engine = new LiveEngine({
    analyzer: runner,
    model: { name: runner.metadata.name, device: runner.device, tasks: runner.metadata.tasks, labels: runner.metadata.labels },
    createDetector: async () => Object.assign(detector, { close: async () => undefined }),
  });
  const timings: FrameTimings[] = [];
  engine.on('results', (_record: unknown, _id: string, t?: FrameTimings) => t && timings.push(t));
  const info = await engine.addStream({ url: SAMPLE, loop: true });
  await new Promise((r) => setTimeout(r, seconds * 1500));
  const stats = engine.getStream(info.id)!.stats;
  await engine.removeStream(info.id);
  const mean = (k: keyof FrameTimings) => timings.reduce((s, t) => s + t[k], 0) / Math.max(timings.length, 1);
  const sorted = timings.map((t) => t.latencyMs).sort((a, b) => a - b);
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const result = {
    frames: timings.length,
    fpsOut: stats.fpsOut,
    dropped: stats.dropped,
    latencyP50Ms: pct(0.5),
    latencyP95Ms: pct(0.95),
    detectMs: mean('detectMs'),
    inferMs: mean('inferMs'),
  };
  log(
    `  live (real-time ${SAMPLE}): ${result.frames} frames, latency p50 ${result.latencyP50Ms} ms, p95 ${result.latencyP95Ms} ms, ` +
      `dropped ${result.dropped}; per frame: detect ${result.detectMs.toFixed(1)} ms, detect-to-results ${result.inferMs.toFixed(1)} ms`,
  );
  return result;
}

/**
 * The pipeline's faces/s as a ratio to the model alone at the pipeline's mean batch size
 * (interpolated between batch 1 and 4); logs it and returns the figures for the report.
 */
function compareToAlone(
  label: string,
  pipe: Record<string, number>,
  alone: Record<number, number>,
): Record<string, number> {
  const b = Math.min(Math.max(pipe.meanBatch, 1), 4);
  const aloneAtBatch = alone[1] + ((alone[4] - alone[1]) * (b - 1)) / 3;
  const ratio = pipe.facesPerSecond / aloneAtBatch;
  log(`  ${label} / model alone at batch ${pipe.meanBatch.toFixed(2)}: ${ratio.toFixed(2)} (target >= 0.9)`);
  return { ...pipe, modelAloneAtBatch: aloneAtBatch, ratio };
}

/** Nominal peak fp32 FLOP/s of this CPU: cores x clock x FLOPs per cycle (AVX-512 or AVX2 FMA). */
function peakFlops(): { flops: number; basis: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? 2000);
  const avx512 = /\bavx512f\b/.test(info);
  const perCycle = avx512 ? 64 : 32; // two FMA units x (16 or 8) lanes x 2 FLOPs
  const cores = cpus().length;
  return { flops: cores * mhz * 1e6 * perCycle, basis: `${cores} cores x ${mhz} MHz x ${perCycle} FLOP/cycle (${avx512 ? 'AVX-512' : 'AVX2'} FMA)` };
}

async function ortVsPytorch(): Promise<Record<string, unknown> | undefined> {
  const py = '/usr/bin/python3';
  if (flags['skip-pytorch'] || !existsSync(py)) return undefined;
  if (spawnSync(py, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fxs-bench-swinb-'));
  const onnx = join(dir, 'swin-b.onnx');
  log('  exporting Swin-B FaceXFormer with random weights (tools/export_onnx.py) ...');
  execFileSync(py, ['tools/export_onnx.py', '--preset', 'swin-b', '--out', onnx], { stdio: 'ignore' });
  const runner = await ModelRunner.create({ modelPath: onnx, device: 'cpu', threads, maxBatch: 4 });
  const ort = await modelAlone(runner, [...OUTPUT_NAMES]);
  // The same pipeline comparison as section 2, with the model that dominates the work.
  const detector = await FaceDetector.create({ range: 'full', minScore: 0.3 });
  const pipe = await pipeline(runner, detector, 4);
  await detector.close();
  await runner.close();
  const pipelineVsAlone = compareToAlone('Swin-B pipeline', pipe, ort);
  const torchOut = execFileSync(py, ['tools/bench_pytorch.py', '--preset', 'swin-b', '--batches', '1,4', '--runs', '5', '--threads', String(threads)], {
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    encoding: 'utf8',
  });
  const torchReport = JSON.parse(torchOut.trim().split('\n').pop()!) as { ms_per_batch: Record<string, { median: number }> };
  const torchMs = Object.fromEntries(Object.entries(torchReport.ms_per_batch).map(([b, t]) => [b, t.median]));
  rmSync(dir, { recursive: true, force: true });
  const peak = peakFlops();
  const flopsPerFace = 2 * 17.6e9;
  const result: Record<string, unknown> = { peak: peak.basis, pipeline: pipelineVsAlone };
  for (const batch of [1, 4]) {
    const torchFps = (batch * 1000) / torchMs[String(batch)];
    const ratio = ort[batch] / torchFps;
    const fraction = (ort[batch] * flopsPerFace) / peak.flops;
    result[`batch${batch}`] = { ortFacesPerSecond: ort[batch], torchFacesPerSecond: torchFps, ratio, peakFraction: fraction };
    log(
      `  Swin-B batch ${batch}: ORT ${ort[batch].toFixed(2)} faces/s vs PyTorch ${torchFps.toFixed(2)} faces/s: ` +
        `ORT/PyTorch = ${ratio.toFixed(2)}x; ORT reaches ${(fraction * 100).toFixed(1)}% of peak (${peak.basis})`,
    );
  }
  return result;
}

async function main(): Promise<void> {
  const resolved = await resolveModel({ model: flags.model! });
  log(`facexstream bench: ${resolved.path}, ${threads} threads, ${cpus().length} cores (${cpus()[0]?.model})`);
  const runner = await ModelRunner.create({ modelPath: resolved.path, device: 'cpu', threads, maxBatch: 4 });
  const detector = await FaceDetector.create({ range: 'full', minScore: 0.3 });
  const outputs = runner.metadata.tasks.map((t) => ({ headPose: 'headpose' })[t as 'headPose'] ?? t);

  log(`\n1. model alone (${runner.metadata.name}, outputs: ${outputs.join(', ')})`);
  const alone = await modelAlone(runner, outputs);
  report.modelAlone = alone;

  log('\n2. pipeline on the sample clip, every task every frame');
  const pipe = await pipeline(runner, detector);
  report.pipeline = compareToAlone('pipeline', pipe, alone);

  log('\n3. live mode latency and per-stage time');
  report.live = await stageTimes(runner, detector);
  await detector.close();
  await runner.close();

  log('\n4. ONNX Runtime vs PyTorch eager (published architecture, random weights)');
  const torch = await ortVsPytorch();
  if (torch) report.ortVsPytorch = torch;
  else log('  skipped (needs /usr/bin/python3 with torch and torchvision, e.g. Debian python3-torch)');

  if (flags.json) writeFileSync(flags.json, JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
