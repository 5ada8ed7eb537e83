/**
 * The live engine: runs any number of streams through one shared model runner and a shared
 * face detector per detector range, and reports results, frames and stream states as events
 * (the Engine interface of src/stream/engine.ts).
 */
import { EventEmitter } from 'node:events';
import { FxsError } from '../common/errors.js';
import type { ModelInfo, StreamInfo, StreamRequest, StreamState, Engine } from '../stream/engine.js';
import type { FrameRecord } from './record.js';
import type { Frame } from './types.js';
import type { FrameSource } from './frame-source.js';
import { openSource } from './open-source.js';
import { selectTasks } from './task-selection.js';
import { StreamProcessor, type Detector, type FaceAnalyzer, type FrameTimings } from './stream-processor.js';
import { StreamStatsWindow } from './stream-stats.js';

/** What the engine needs from outside. */
export interface LiveEngineOptions {
  /** The model runner shared by every stream. */
  analyzer: FaceAnalyzer;
  /** Model facts announced to clients; `tasks` are the tasks the model supports. */
  model: ModelInfo;
  /** Creates (once per range) the face detector shared by the streams using that range. */
  createDetector(range: 'short' | 'full'): Promise<Detector & { close(): Promise<void> }>;
  /** Opens a source; defaults to openSource. Tests and tools may pass their own. */
  open?: typeof openSource;
}

interface StreamEntry {
  info: Omit<StreamInfo, 'stats'>;
  source: FrameSource;
  processor: StreamProcessor;
  stats: StreamStatsWindow;
  done: Promise<void>;
}

/** Runs live streams and reports them. See the Engine interface for the events. */
export class LiveEngine extends EventEmitter implements Engine {
  readonly model: ModelInfo;
  private readonly streams = new Map<string, StreamEntry>();
  private readonly detectors = new Map<string, Promise<Detector & { close(): Promise<void> }>>();
  private readonly open: typeof openSource;

  constructor(private readonly options: LiveEngineOptions) {
    super();
    this.model = options.model;
    this.open = options.open ?? openSource;
  }

  listStreams(): StreamInfo[] {
    return [...this.streams.values()].map((s) => this.describe(s));
  }

  getStream(id: string): StreamInfo | undefined {
    const entry = this.streams.get(id);
    return entry && this.describe(entry);
  }

  async addStream(request: StreamRequest): Promise<StreamInfo> {
    const tasks = selectTasks(request.tasks, this.model.tasks, this.model.name);
    const source = this.open(request.url, {
      id: request.name ? slug(request.name) : undefined,
      fps: request.fps,
      rtspTransport: request.rtspTransport,
      loop: request.loop,
      realtime: true,
      mode: 'latest',
    });
    const id = this.uniqueId(source.id);
    const detector = await this.detector(request.detector ?? 'full');
    const processor = new StreamProcessor(countFrames(source, () => entry.stats.frameIn()), detector, this.options.analyzer, {
      sourceName: id,
      tasks,
      intervals: request.intervals,
    });
    const entry: StreamEntry = {
      info: {
        id,
        name: request.name ?? source.displayName,
        url: source.displayName,
        live: source.live,
        state: 'connecting',
        tasks,
      },
      source,
      processor,
      stats: new StreamStatsWindow(),
      done: Promise.resolve(),
    };
    this.streams.set(id, entry);
    source.on('state', (state: StreamState, detail?: string) => this.setState(entry, state, detail));
    processor.on('record', (record: FrameRecord, frame: Frame, timings: FrameTimings) =>
      this.onRecord(entry, record, frame, timings),
    );
    entry.done = processor.run().then(
      () => this.setState(entry, entry.info.state === 'stopped' ? 'stopped' : 'ended'),
      (err: unknown) => this.setState(entry, 'failed', describe(err)),
    );
    this.emit('stream', this.describe(entry));
    return this.describe(entry);
  }

  async removeStream(id: string): Promise<boolean> {
    const entry = this.streams.get(id);
    if (!entry) return false;
    entry.info.state = 'stopped';
    entry.processor.stop();
    await entry.source.stop();
    await entry.done;
    this.streams.delete(id);
    this.emit('removed', id);
    return true;
  }

  /** Stops every stream and closes the detectors. */
  async close(): Promise<void> {
    await Promise.all([...this.streams.keys()].map((id) => this.removeStream(id)));
    const detectors = await Promise.allSettled(this.detectors.values());
    for (const d of detectors) if (d.status === 'fulfilled') await d.value.close();
    this.detectors.clear();
  }

  /** Resolves when every stream has ended on its own (files without loop). */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.done));
  }

  private detector(range: 'short' | 'full'): Promise<Detector & { close(): Promise<void> }> {
    let detector = this.detectors.get(range);
    if (!detector) {
      detector = this.options.createDetector(range);
      this.detectors.set(range, detector);
      detector.catch(() => this.detectors.delete(range));
    }
    return detector;
  }

  private onRecord(entry: StreamEntry, record: FrameRecord, frame: Frame, timings: FrameTimings): void {
    entry.stats.frameOut(timings.latencyMs, record.faces.length);
    entry.info.width = record.width;
    entry.info.height = record.height;
    if (entry.info.state === 'connecting') this.setState(entry, 'playing');
    this.emit('results', record, entry.info.id, timings);
    this.emit('frame', frame, entry.info.id);
  }

  private setState(entry: StreamEntry, state: StreamState, detail?: string): void {
    if (entry.info.state === 'stopped' && state !== 'stopped') return;
    entry.info.state = state;
    if (state === 'failed' && detail) entry.info.error = detail;
    if (state === 'playing') delete entry.info.error;
    this.emit('stream', this.describe(entry));
  }

  private describe(entry: StreamEntry): StreamInfo {
    return { ...entry.info, stats: entry.stats.snapshot(entry.source.droppedFrames) };
  }

  private uniqueId(base: string): string {
    let id = base;
    for (let n = 2; this.streams.has(id); n += 1) id = `${base}-${n}`;
    return id;
  }
}

/** Wraps a source so every frame entering the pipeline is counted. */
function countFrames(source: FrameSource, onFrame: () => void): { frames(): AsyncIterable<Frame> } {
  return {
    async *frames() {
      for await (const frame of source.frames()) {
        onFrame();
        yield frame;
      }
    },
  };
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'stream';
}

function describe(err: unknown): string {
  if (err instanceof FxsError) return err.message;
  if (err instanceof Error) return err.message.split('\n')[0];
  return String(err);
}

