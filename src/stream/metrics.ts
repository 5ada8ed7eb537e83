/**
 * Prometheus metrics of a running facexstream, served at `GET /metrics`. Per-stream frame
 * counts are read from the engine's StreamInfo when scraped, so they always agree with the
 * dashboard; what only the engine sees as it happens (model batches, queues) it reports by
 * calling the methods below. Every label value is credential-masked.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine, StreamState, StreamStats } from './engine.js';
import { maskUrl } from '../common/mask-url.js';

/** Options of Metrics. */
export interface MetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event-loop lag). Default true. */
  processMetrics?: boolean;
}

/** Kinds of WebSocket messages a slow client can lose. */
export type DroppedMessageKind = 'preview' | 'results' | 'stats';

const STATES: StreamState[] = [
  'connecting',
  'playing',
  'reconnecting',
  'ended',
  'failed',
  'stopped',
];

/** One registry of facexstream metrics. Create one per server; share it with the engine. */
export class Metrics {
  /** The prom-client registry; `render()` formats it. */
  readonly registry = new Registry();

  private source: Pick<Engine, 'listStreams' | 'model'> | undefined;
  private readonly batchSeconds: Histogram;
  private readonly batchSize: Histogram;
  private readonly queueDepth: Gauge<'queue'>;
  private readonly clients: Gauge;
  private readonly dropped: Counter<'kind'>;
  private readonly faceResults: Counter<'stream'>;

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'fxs_process_' });
    }

    const registers = [this.registry];
    this.batchSeconds = new Histogram({
      name: 'fxs_model_latency_seconds',
      help: 'Time of one model forward pass (one batch), in seconds',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'fxs_model_batch_size',
      help: 'Faces per model forward pass',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'fxs_queue_depth',
      help: 'Items waiting in an internal queue',
      labelNames: ['queue'],
      registers,
    });
    this.clients = new Gauge({
      name: 'fxs_ws_clients',
      help: 'Connected WebSocket clients',
      registers,
    });
    this.dropped = new Counter({
      name: 'fxs_ws_dropped_messages_total',
      help: 'Messages not sent to slow WebSocket clients, by kind',
      labelNames: ['kind'],
      registers,
    });
    this.faceResults = new Counter({
      name: 'fxs_face_results_total',
      help: 'Face results produced (faces summed over frames)',
      labelNames: ['stream'],
      registers,
    });
    this.registerStreamMetrics();
  }

  /** Reads per-stream figures and model facts from `engine` at every scrape. */
  attachEngine(engine: Pick<Engine, 'listStreams' | 'model'>): void {
    this.source = engine;
  }

  /** Records one model forward pass of `size` faces that took `ms` milliseconds. */
  observeBatch(size: number, ms: number): void {
    this.batchSize.observe(size);
    this.batchSeconds.observe(ms / 1000);
  }

  /** Sets the current depth of the named queue (e.g. 'detect', 'infer'). */
  setQueueDepth(queue: string, depth: number): void {
    this.queueDepth.set({ queue }, depth);
  }

  /** Sets the number of connected WebSocket clients. */
  setClients(count: number): void {
    this.clients.set(count);
  }

  /** Counts one message a slow client did not get. */
  countDropped(kind: DroppedMessageKind): void {
    this.dropped.inc({ kind });
  }

  /** Counts the faces of one results record of `stream`. */
  countFaces(stream: string, faces: number): void {
    this.faceResults.inc({ stream: maskUrl(stream) }, faces);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private registerStreamMetrics(): void {
    const registers = [this.registry];
    const streams = () => this.source?.listStreams() ?? [];
    const perStream = (name: string, help: string, pick: (s: StreamStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['stream'],
        registers,
        collect() {
          // Totals are the engine's own counters, copied at scrape time.
          this.reset();
          for (const s of streams()) this.inc({ stream: maskUrl(s.id) }, pick(s.stats));
        },
      });

    perStream('fxs_frames_in_total', 'Frames decoded per stream', (s) => s.framesIn);
    perStream('fxs_frames_out_total', 'Frames with results per stream', (s) => s.framesOut);
    perStream('fxs_frames_dropped_total', 'Frames dropped under load per stream', (s) => s.dropped);

    new Gauge({
      name: 'fxs_faces',
      help: 'Faces in the latest frame per stream',
      labelNames: ['stream'],
      registers,
      collect() {
        this.reset();
        for (const s of streams()) this.set({ stream: maskUrl(s.id) }, s.stats.faces);
      },
    });
    new Gauge({
      name: 'fxs_stream_latency_seconds',
      help: 'Decode-to-result latency per stream (rolling percentiles)',
      labelNames: ['stream', 'quantile'],
      registers,
      collect() {
        this.reset();
        for (const s of streams()) {
          const stream = maskUrl(s.id);
          this.set({ stream, quantile: '0.5' }, s.stats.latencyP50Ms / 1000);
          this.set({ stream, quantile: '0.95' }, s.stats.latencyP95Ms / 1000);
        }
      },
    });
    new Gauge({
      name: 'fxs_stream_state',
      help: 'Stream state (1 for the current state, 0 for the others)',
      labelNames: ['stream', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of streams()) {
          const stream = maskUrl(s.id);
          for (const state of STATES) this.set({ stream, state }, s.state === state ? 1 : 0);
        }
      },
    });
    const model = () => this.source?.model;
    new Gauge({
      name: 'fxs_model_info',
      help: 'The loaded model (always 1)',
      labelNames: ['name', 'device'],
      registers,
      collect() {
        this.reset();
        const info = model();
        if (info) this.set({ name: info.name, device: info.device }, 1);
      },
    });
  }
}
