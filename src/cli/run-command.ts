/**
 * `facexstream run <sources...>` and `facexstream run --config cameras.yaml`: processes live
 * sources and serves the dashboard, the WebSocket results stream and the HTTP API.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createLogger, type Logger } from '../common/logger.js';
import { FaceDetector } from '../pipeline/detector/face-detector.js';
import { LiveEngine } from '../pipeline/engine.js';
import { selectTasks } from '../pipeline/task-selection.js';
import { loadConfig, type FacexstreamConfig } from '../stream/config.js';
import type { StreamRequest } from '../stream/engine.js';
import { Metrics } from '../stream/metrics.js';
import { startServer } from '../stream/server.js';
import type { ModelRunner } from '../model/model-runner.js';
import { startModel, type ModelFlags } from './model-setup.js';
import { commaList, intervalList, positiveInt, positiveNumber } from './options.js';

interface RunFlags extends ModelFlags {
  config?: string;
  host?: string;
  port?: number;
  token?: string;
  insecure?: boolean;
  previewFps?: number;
  tasks?: string[];
  detector: 'short' | 'full';
  fps?: number;
  interval?: Record<string, number>;
  rtspTransport: 'tcp' | 'udp';
  loop: boolean;
  open?: boolean;
}

/** Adds the `run` command. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('analyze live sources and serve the dashboard, WebSocket results and HTTP API')
    .argument('[sources...]', 'rtsp:// or http(s):// URLs, /dev/videoN, video files (played in real time)')
    .option('-c, --config <file>', 'YAML file with cameras, server and model settings')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('-p, --port <port>', 'port to listen on (default 8080; 0 picks a free one)', (v) => Number(v))
    .option('--token <token>', 'access token for the API, metrics and WebSocket (env FACEXSTREAM_TOKEN)')
    .option('--insecure', 'allow a non-loopback --host without a token')
    .option('--preview-fps <n>', 'preview frames per second per client (0 = off)', positiveNumber('--preview-fps'))
    .option('-t, --tasks <list>', 'comma-separated tasks (default: all the model supports)', commaList)
    .option('--detector <range>', "face detector: 'full' (CCTV, small faces) or 'short' (near faces)", 'full')
    .option('--fps <n>', 'frame-rate cap per source', positiveNumber('--fps'))
    .option('--interval <list>', 'task refresh intervals in frames, e.g. age=30', intervalList)
    .option('--rtsp-transport <t>', 'tcp or udp', 'tcp')
    .option('--no-loop', 'play video files once instead of looping them')
    .option('--open', 'open the dashboard in the default browser')
    .option('-m, --model <model>', "'default', 'official', 'embedded' or a .onnx path")
    .option('--device <device>', 'auto, cpu, cuda or tensorrt')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt('--threads'))
    .option('--max-batch <n>', 'most faces per model call', positiveInt('--max-batch'))
    .option('--cache-dir <dir>', 'model cache directory')
    .action(async (sources: string[], flags: RunFlags) => {
      await runLive(sources, flags, createLogger());
    });
}

async function runLive(sources: string[], flags: RunFlags, logger: Logger): Promise<void> {
  const config = flags.config ? await loadConfig(flags.config) : undefined;
  const requests = streamRequests(sources, flags, config);
  if (requests.length === 0) {
    logger.warn('no sources given: add some with POST /api/streams or pass URLs or --config');
  }

  const runner = await startModel(
    {
      model: flags.model ?? config?.model.path ?? 'default',
      device: flags.device ?? config?.model.device,
      threads: flags.threads ?? config?.model.threads,
      maxBatch: flags.maxBatch ?? config?.model.maxBatch,
      cacheDir: flags.cacheDir,
    },
    logger,
  );
  for (const r of requests) selectTasks(r.tasks, runner.metadata.tasks, runner.metadata.name);

  const engine = new LiveEngine({
    analyzer: runner,
    model: {
      name: runner.metadata.name,
      device: runner.device,
      tasks: runner.metadata.tasks,
      labels: runner.metadata.labels,
    },
    createDetector: (range) => FaceDetector.create({ range, minScore: 0.3 }),
  });
  const metrics = new Metrics();
  wireMetrics(engine, runner, metrics);

  const server = await startServer({
    engine,
    metrics,
    logger,
    host: flags.host ?? config?.server.host,
    port: flags.port ?? config?.server.port,
    token: flags.token ?? process.env.FACEXSTREAM_TOKEN ?? config?.server.token,
    insecure: flags.insecure ?? config?.server.insecure,
    previewFps: flags.previewFps ?? config?.server.previewFps,
    allowedOrigins: config?.server.allowedOrigins,
  });
  logger.info(`dashboard: ${server.dashboardUrl}`);

  engine.on('stream', (info) => {
    if (info.state === 'failed') logger.error(`stream ${info.id} (${info.url}) failed: ${info.error ?? 'unknown error'}`);
    else logger.debug(`stream ${info.id}: ${info.state}`);
  });
  for (const request of requests) {
    const info = await engine.addStream(request);
    logger.info(`stream ${info.id}: ${info.url}`);
  }
  if (flags.open) openBrowser(server.dashboardUrl, logger);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('stopping');
  await server.close();
  await engine.close();
  await runner.close();
}

/** Streams from the command line, or else from the config file. */
function streamRequests(sources: string[], flags: RunFlags, config?: FacexstreamConfig): StreamRequest[] {
  const fromFlags: StreamRequest[] = sources.map((url) => ({
    url,
    detector: flags.detector,
    tasks: flags.tasks as StreamRequest['tasks'],
    intervals: flags.interval,
    rtspTransport: flags.rtspTransport,
    fps: flags.fps,
    loop: flags.loop,
  }));
  return [...fromFlags, ...(config?.cameras ?? [])];
}

/** Feeds the Prometheus registry from the runner's batch events and the engine's results. */
function wireMetrics(engine: LiveEngine, runner: ModelRunner, metrics: Metrics): void {
  metrics.attachEngine(engine);
  runner.on('batch', (batch) => {
    metrics.observeBatch(batch.faces, batch.totalMs);
    metrics.setQueueDepth('model', runner.stats.queued);
  });
  engine.on('results', (record, streamId: string) => metrics.countFaces(streamId, record.faces.length));
}

function openBrowser(url: string, logger: Logger): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => logger.info(`open ${url} in a browser`));
  child.unref();
}
