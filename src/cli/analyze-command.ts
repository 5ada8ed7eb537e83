/** `facexstream analyze <inputs...> --out results.jsonl`: bulk analysis of files and images. */
import type { Command } from 'commander';
import { createLogger, type Logger } from '../common/logger.js';
import { analyzeInputs, type AnalyzeSummary } from '../pipeline/analyze.js';
import { FaceDetector } from '../pipeline/detector/face-detector.js';
import { findFfmpeg } from '../pipeline/ffmpeg.js';
import { probeVideoFile } from '../pipeline/probe.js';
import { parseSourceSpec } from '../pipeline/source-spec.js';
import { selectTasks } from '../pipeline/task-selection.js';
import { startModel, type ModelFlags } from './model-setup.js';
import { AnalyzeProgressView } from './progress.js';
import { commaList, intervalList, positiveInt, positiveNumber } from './options.js';

interface AnalyzeFlags extends ModelFlags {
  out: string;
  tasks?: string[];
  fps?: number;
  detect: boolean;
  detector: 'short' | 'full';
  annotated?: string;
  interval?: Record<string, number>;
  progress: boolean;
}

/** Adds the `analyze` command. */
export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description('analyze video files, image folders or streams into JSON lines, one per frame')
    .argument('<inputs...>', 'video files, image folders, .txt image lists, URLs')
    .requiredOption('-o, --out <file>', "JSONL output file ('-' for stdout)")
    .option('-t, --tasks <list>', 'comma-separated tasks (default: all the model supports)', commaList)
    .option('--fps <n>', 'analyze at most n frames per second (every k-th frame)', positiveNumber('--fps'))
    .option('--no-detect', 'treat each image as one already-cropped face')
    .option('--detector <range>', "face detector: 'full' (CCTV, small faces) or 'short' (near faces)", 'full')
    .option('--annotated <video>', 'also write a video with the results drawn over the frames')
    .option('--interval <list>', 'task refresh intervals in frames, e.g. age=30,attributes=10', intervalList)
    .option('-m, --model <model>', "'default' (official if installed, else embedded), 'official', 'embedded' or a .onnx path", 'default')
    .option('--device <device>', 'auto, cpu, cuda or tensorrt', 'auto')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt('--threads'))
    .option('--max-batch <n>', 'most faces per model call', positiveInt('--max-batch'), 8)
    .option('--cache-dir <dir>', 'model cache directory')
    .option('--no-progress', 'no progress bar')
    .action(async (inputs: string[], flags: AnalyzeFlags) => {
      const logger = createLogger();
      process.exitCode = await runAnalyze(inputs, flags, logger);
    });
}

async function runAnalyze(inputs: string[], flags: AnalyzeFlags, logger: Logger): Promise<number> {
  if (flags.detector !== 'short' && flags.detector !== 'full') {
    logger.error(`--detector '${String(flags.detector)}' is not 'short' or 'full'`);
    return 2;
  }
  const runner = await startModel(flags, logger);
  const closing: Array<() => Promise<void>> = [() => runner.close()];
  try {
    const tasks = selectTasks(flags.tasks, runner.metadata.tasks, runner.metadata.name);
    const detector = flags.detect ? await FaceDetector.create({ range: flags.detector, minScore: 0.3 }) : undefined;
    if (detector) closing.push(() => detector.close());

    const controller = new AbortController();
    const onSigint = () => {
      logger.warn('interrupted: finishing the frames in flight; press Ctrl-C again to quit at once');
      process.removeListener('SIGINT', onSigint);
      process.once('SIGINT', () => process.exit(130));
      controller.abort();
    };
    process.on('SIGINT', onSigint);

    const view = new AnalyzeProgressView();
    const summary = await analyzeInputs({
      inputs,
      out: flags.out,
      tasks,
      analyzer: runner,
      detector,
      noDetect: !flags.detect,
      fps: flags.fps,
      intervals: flags.interval,
      annotated: flags.annotated,
      signal: controller.signal,
      onInput: (input) => {
        if (flags.progress) void expectedFrames(input, flags.fps).then((n) => view.startInput(input, n));
      },
      onFrame: (p) => flags.progress && view.update(p.frame + 1),
    });
    view.stop();
    process.removeListener('SIGINT', onSigint);
    return report(summary, flags, logger);
  } finally {
    for (const close of closing.reverse()) await close().catch(() => undefined);
  }
}

function report(summary: AnalyzeSummary, flags: AnalyzeFlags, logger: Logger): number {
  let failed = 0;
  for (const input of summary.inputs) {
    if (input.error) {
      failed += 1;
      logger.error(`${input.error.message}${'code' in input.error ? ` [${String(input.error.code)}]` : ''}`);
      if (input.frames > 0) logger.info(`${input.input}: ${input.frames} frames were analyzed before the error and are kept`);
    }
  }
  const secs = summary.elapsedMs / 1000;
  const faces = summary.inputs.reduce((n, i) => n + i.faces, 0);
  const tracks = summary.inputs.reduce((n, i) => n + i.tracks, 0);
  logger.info(
    `${summary.aborted ? 'stopped' : 'done'}: ${summary.frames} frames, ${faces} faces, ${tracks} tracks ` +
      `from ${summary.inputs.length - failed}/${summary.inputs.length} inputs in ${secs.toFixed(1)} s ` +
      `(${(summary.frames / Math.max(secs, 1e-3)).toFixed(1)} fps) -> ${flags.out}` +
      (flags.annotated ? `, ${flags.annotated}` : ''),
  );
  if (summary.aborted) return 130;
  return failed > 0 ? 1 : 0;
}

/** Frame count of a video file after the fps cap, or 0 when unknown. */
async function expectedFrames(input: string, fps: number | undefined): Promise<number> {
  try {
    const spec = parseSourceSpec(input);
    if (spec.kind !== 'file') return 0;
    const probe = await probeVideoFile(spec.target, spec.displayName, await findFfmpeg());
    if (!probe.frameCount) return 0;
    if (!fps || !probe.fps || fps >= probe.fps) return probe.frameCount;
    return Math.floor((probe.frameCount * fps) / probe.fps);
  } catch {
    return 0;
  }
}
