/**
 * Bulk analysis: every input through detection, tracking and the model, one JSON line per
 * frame written as it is produced. A failing input is reported and the others go on; an
 * abort finishes the frames in flight and keeps everything already written.
 */
import { FxsError } from '../common/errors.js';
import type { TaskName } from '../model/contract.js';
import { AnnotatedWriter } from './annotated-writer.js';
import { findFfmpeg } from './ffmpeg.js';
import type { FrameSource } from './frame-source.js';
import { JsonlWriter } from './jsonl-writer.js';
import { openSource } from './open-source.js';
import type { FrameRecord } from './record.js';
import { StreamProcessor, type Detector, type FaceAnalyzer } from './stream-processor.js';
import type { Frame } from './types.js';

/** Options of analyzeInputs. */
export interface AnalyzeOptions {
  inputs: string[];
  /** JSONL output path, or '-' for stdout. */
  out: string;
  /** Tasks to run (already validated against the model). */
  tasks: TaskName[];
  analyzer: FaceAnalyzer;
  /** Face detector; unused with noDetect. */
  detector?: Detector;
  /** Treat every image or frame as one already-cropped face. Default false. */
  noDetect?: boolean;
  /** Frame-rate cap in frames per second (every k-th frame). Default: every frame. */
  fps?: number;
  /** Per-task refresh intervals in frames. */
  intervals?: Partial<Record<TaskName, number>>;
  /** Also write an annotated video here (first input only when several are given). */
  annotated?: string;
  /** Stops reading new frames; frames in flight still finish and are written. */
  signal?: AbortSignal;
  /** Called after every written frame. */
  onFrame?(progress: AnalyzeProgress): void;
  /** Called when an input starts, with its frame count when known. */
  onInput?(input: string, index: number, source: FrameSource): void;
}

/** Progress after a frame. */
export interface AnalyzeProgress {
  input: string;
  frame: number;
  faces: number;
  /** Frames written so far over all inputs. */
  written: number;
}

/** What happened to one input. */
export interface InputSummary {
  input: string;
  frames: number;
  faces: number;
  /** Distinct track ids seen. */
  tracks: number;
  /** The error that ended the input early, if any. */
  error?: FxsError | Error;
}

/** The whole run. */
export interface AnalyzeSummary {
  inputs: InputSummary[];
  frames: number;
  elapsedMs: number;
  aborted: boolean;
}

/** Analyzes the inputs one after another into one JSONL file. */
export async function analyzeInputs(options: AnalyzeOptions): Promise<AnalyzeSummary> {
  const started = Date.now();
  const writer = new JsonlWriter(options.out);
  const summaries: InputSummary[] = [];
  try {
    for (const [i, input] of options.inputs.entries()) {
      if (options.signal?.aborted) break;
      const annotated = i === 0 ? options.annotated : undefined;
      summaries.push(await analyzeOne(input, i, writer, annotated, options));
    }
  } finally {
    await writer.close();
  }
  return {
    inputs: summaries,
    frames: writer.written,
    elapsedMs: Date.now() - started,
    aborted: options.signal?.aborted ?? false,
  };
}

async function analyzeOne(
  input: string,
  index: number,
  writer: JsonlWriter,
  annotatedPath: string | undefined,
  options: AnalyzeOptions,
): Promise<InputSummary> {
  const summary: InputSummary = { input, frames: 0, faces: 0, tracks: 0 };
  const ids = new Set<number>();
  let source: FrameSource | undefined;
  let annotated: AnnotatedWriter | undefined;
  const onAbort = () => void source?.stop();
  options.signal?.addEventListener('abort', onAbort);

  try {
    source = openSource(input, { fps: options.fps, mode: 'all' });
    options.onInput?.(input, index, source);
    if (annotatedPath) annotated = new AnnotatedWriter(annotatedPath, options.fps ?? 25, await findFfmpeg());

    const processor = new StreamProcessor(source, options.detector, options.analyzer, {
      sourceName: source.displayName,
      tasks: options.tasks,
      intervals: options.intervals,
      noDetect: options.noDetect,
    });
    let writing: Promise<void> = Promise.resolve();
    processor.on('record', (record: FrameRecord, frame: Frame) => {
      summary.frames += 1;
      summary.faces += record.faces.length;
      for (const face of record.faces) ids.add(face.id);
      writing = writing.then(async () => {
        await writer.write(record);
        await annotated?.write(frame, record);
        options.onFrame?.({ input, frame: record.frame, faces: record.faces.length, written: writer.written });
      });
    });
    try {
      await processor.run();
    } finally {
      await writing;
    }
  } catch (err) {
    summary.error = err instanceof Error ? err : new Error(String(err));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await annotated?.close().catch((err: Error) => (summary.error ??= err));
    await source?.stop();
  }
  summary.tracks = ids.size;
  return summary;
}
