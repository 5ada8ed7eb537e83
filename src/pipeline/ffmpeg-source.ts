import { EventEmitter } from 'node:events';
import type { PassThrough } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { ErrorCodes, FxsError } from '../common/errors.js';
import { maskUrl } from '../common/mask-url.js';
import { findFfmpeg, type FfmpegBinaries } from './ffmpeg.js';
import { FrameQueue } from './frame-queue.js';
import type { FrameSource, SourceOptions, SourceState } from './frame-source.js';
import { probeVideoFile, type VideoProbe } from './probe.js';
import { RawFrameReader, type RawFrame } from './raw-frame-reader.js';
import type { SourceSpec } from './source-spec.js';
import type { Frame } from './types.js';

/** Defaults of the options that tune an ffmpeg source. */
export const FFMPEG_SOURCE_DEFAULTS = {
  bufferFrames: 4,
  rtspTransport: 'tcp',
  stallTimeoutMs: 5000,
  connectTimeoutMs: 10_000,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  maxAttempts: Infinity,
  connectAttempts: 3,
} as const;

/** How one run of ffmpeg ended. */
interface Session {
  /** Frames it produced (delivered or dropped). */
  frames: number;
  /** Decoder pts of its last frame, in milliseconds; -1 without frames. */
  lastPtsMs: number;
  /** `exit`: ffmpeg ended by itself; `stalled`: the watchdog killed it; `stopped`: stop(). */
  end: 'exit' | 'stalled' | 'stopped';
  /** ffmpeg's exit status; null when it was killed by a signal. */
  exitCode: number | null;
  /** Its last log lines other than showinfo's, credentials masked. */
  log: string[];
}

/** The options in force, defaults filled in. */
interface Settings {
  mode: 'latest' | 'all';
  bufferFrames: number;
  rtspTransport: 'tcp' | 'udp';
  stallTimeoutMs: number;
  connectTimeoutMs: number;
  loop: boolean;
  realtime: boolean;
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  connectAttempts: number;
}

const LOG_LINES_KEPT = 20;

/** Log lines that mean a file's data is damaged or cut short. */
const DAMAGE = new RegExp(
  [
    'partial file',
    'corrupt',
    'Invalid NAL',
    'error while decoding',
    'Invalid data found',
    'missing picture',
    'End of file',
  ].join('|'),
  'i',
);

/** Why a network source failed, from ffmpeg's log, most specific first. */
const NETWORK_REASONS: Array<[RegExp, string]> = [
  [
    /401 Unauthorized|authorization failed/i,
    'credentials rejected (401); check the user name and password',
  ],
  [/403 Forbidden/i, 'access forbidden (403); check the account and the path'],
  [/404 Not Found/i, 'no stream at this path (404); check the path'],
  [/Connection refused/i, 'connection refused; check that the camera or server is running'],
  [/Connection timed out|timed out/i, 'connection timed out; check the address and the network'],
  [
    /No route to host|Network is unreachable/i,
    'no route to host; check the address and the network',
  ],
  [
    /Name or service not known|Failed to resolve|Temporary failure in name resolution/i,
    'host name not found; check its spelling',
  ],
  [
    /Invalid data found|could not find codec|Unsupported/i,
    'the server sent no video ffmpeg can decode',
  ],
];

/**
 * A source decoded by ffmpeg into raw RGB24 frames on a pipe: video files, RTSP, HTTP/HLS and
 * V4L2 webcams. Timestamps are the decoder's own (see RawFrameReader). Live sources are watched
 * for stalls and restarted with exponential backoff; across restarts timestamps keep
 * increasing, bridging the gap with the wall-clock time that passed.
 */
export class FfmpegSource extends EventEmitter implements FrameSource {
  readonly id: string;
  readonly displayName: string;
  readonly live: boolean;

  private readonly queue: FrameQueue;
  private readonly settings: Settings;
  private state: SourceState | null = null;
  private started = false;
  private stopped = false;
  private nextIndex = 0;
  private lastTimestampMs = -1;
  private lastFrameAt = 0;
  private offsetMs = 0;
  private killCurrent: (() => void) | null = null;
  private cancelSleep: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly spec: SourceSpec,
    private readonly options: SourceOptions = {},
  ) {
    super();
    this.id = spec.id;
    this.displayName = spec.displayName;
    this.live = spec.live;
    const d = FFMPEG_SOURCE_DEFAULTS;
    const r = options.reconnect ?? {};
    this.settings = {
      mode: options.mode ?? (spec.live ? 'latest' : 'all'),
      bufferFrames: options.bufferFrames ?? d.bufferFrames,
      rtspTransport: options.rtspTransport ?? d.rtspTransport,
      stallTimeoutMs: options.stallTimeoutMs ?? d.stallTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      loop: options.loop ?? false,
      realtime: options.realtime ?? false,
      initialDelayMs: r.initialDelayMs ?? d.initialDelayMs,
      maxDelayMs: r.maxDelayMs ?? d.maxDelayMs,
      maxAttempts: r.maxAttempts ?? d.maxAttempts,
      connectAttempts: r.connectAttempts ?? d.connectAttempts,
    };
    this.queue = new FrameQueue(this.settings.mode, this.settings.bufferFrames);
  }

  get droppedFrames(): number {
    return this.queue.dropped;
  }

  frames(): AsyncIterable<Frame> {
    if (this.started) {
      throw new TypeError(`frames() of source '${this.id}' was already called; call it once`);
    }
    this.started = true;
    this.done = this.run().catch((err: unknown) => this.fail(err));
    return this.iterate();
  }

  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.queue.close();
      this.cancelSleep?.();
      this.killCurrent?.();
    }
    await this.done;
    this.setState('ended', 'stopped');
  }

  private async *iterate(): AsyncGenerator<Frame> {
    try {
      for (;;) {
        const frame = await this.queue.next();
        if (frame === undefined) return;
        yield frame;
      }
    } finally {
      await this.stop();
    }
  }

  private async run(): Promise<void> {
    this.setState('connecting');
    const binaries = await findFfmpeg();
    if (this.stopped) return;

    const probe =
      this.spec.kind === 'file'
        ? await probeVideoFile(this.spec.target, this.displayName, binaries)
        : undefined;
    if (this.stopped) return;

    if (this.live) await this.runLive(binaries);
    else await this.runFile(binaries, probe);
  }

  private async runFile(binaries: FfmpegBinaries, probe: VideoProbe | undefined): Promise<void> {
    const session = await this.session(binaries);
    if (this.stopped) return;

    const error = this.fileError(session, probe);
    if (error) throw error;
    this.queue.end();
    this.setState('ended');
  }

  private async runLive(binaries: FfmpegBinaries): Promise<void> {
    const s = this.settings;
    let played = false;
    let retries = 0;

    for (;;) {
      const session = await this.session(binaries);
      if (this.stopped) return;

      if (session.frames > 0) {
        played = true;
        retries = 0;
      }
      const reason = this.liveReason(session);
      const limit = played ? s.maxAttempts : s.connectAttempts - 1;
      if (retries >= limit) throw this.liveError(played, reason, retries);

      retries++;
      const delayMs = Math.min(s.initialDelayMs * 2 ** (retries - 1), s.maxDelayMs);
      this.setState('reconnecting', `${reason}; retry ${retries} in ${delayMs} ms`);
      await this.sleep(delayMs);
      if (this.stopped) return;
    }
  }

  /** Runs ffmpeg once, feeding the queue, until it exits, stalls or the source stops. */
  private session(binaries: FfmpegBinaries): Promise<Session> {
    return new Promise((resolve) => {
      const result: Session = { frames: 0, lastPtsMs: -1, end: 'exit', exitCode: null, log: [] };
      let exited = false;
      let drained = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;

      // The target, credentials included, is on ffmpeg's command line, where other users of
      // this machine can read it in the process list: ffmpeg has no other way to take them.
      const command = ffmpeg(this.spec.target)
        .setFfmpegPath(binaries.ffmpegPath)
        .inputOptions(this.inputArgs())
        .outputOptions(this.outputArgs(binaries));

      const kill = (end: Session['end']): void => {
        if (settled || result.end !== 'exit') return;
        result.end = end;
        killProcess();
        finish();
      };
      const killProcess = (): void => {
        if ((command as unknown as { ffmpegProc?: unknown }).ffmpegProc) command.kill('SIGKILL');
      };
      const arm = (ms: number): void => {
        if (!this.live) return;
        clearTimeout(timer);
        timer = setTimeout(() => kill('stalled'), ms);
      };
      // Settles once ffmpeg is gone (so a retry never overlaps it and stop() leaves no
      // process behind) and, when it ended by itself, once its last bytes are read.
      const finish = (): void => {
        if (settled || !exited || (result.end === 'exit' && !drained)) return;
        settled = true;
        clearTimeout(timer);
        this.killCurrent = null;
        this.queue.onDrain = () => {};
        resolve(result);
      };

      const reader = new RawFrameReader((raw) => {
        result.frames++;
        result.lastPtsMs = raw.ptsMs;
        this.deliver(raw, result.frames === 1);
        arm(this.settings.stallTimeoutMs);
      });

      command.on('start', () => {
        if (result.end !== 'exit') killProcess();
      });
      command.on('stderr', (line: string) => {
        if (reader.acceptLogLine(line)) return;
        result.log.push(maskUrl(line));
        if (result.log.length > LOG_LINES_KEPT) result.log.shift();
      });
      command.on('error', (err: Error) => {
        const code = /exited with code (\d+)/.exec(err.message);
        result.exitCode = code ? Number(code[1]) : null;
        exited = true;
        finish();
      });
      command.on('end', () => {
        result.exitCode = 0;
        exited = true;
        finish();
      });

      const out = command.pipe() as PassThrough;
      out.on('data', (chunk: Buffer) => {
        if (settled) return;
        reader.acceptData(chunk);
        if (this.queue.full) {
          out.pause();
          clearTimeout(timer);
        }
      });
      out.on('end', () => {
        drained = true;
        finish();
      });
      out.on('error', () => {
        // The process side reports the failure through 'error' or 'end' above.
      });
      this.queue.onDrain = () => {
        if (!out.isPaused() || settled) return;
        out.resume();
        arm(this.settings.stallTimeoutMs);
      };

      this.killCurrent = () => kill('stopped');
      arm(this.settings.connectTimeoutMs);
    });
  }

  private deliver(raw: RawFrame, firstOfSession: boolean): void {
    if (firstOfSession) {
      // A restarted live stream counts from 0 again: continue from the last frame, plus the
      // wall-clock time the outage lasted.
      if (this.lastTimestampMs >= 0) {
        const gapMs = Math.max(1, Date.now() - this.lastFrameAt);
        this.offsetMs = this.lastTimestampMs + gapMs - raw.ptsMs;
      }
      this.setState('playing');
    }

    // Timestamps strictly increase: a frame whose decoder time does not move forward (the
    // first frames of some RTSP-over-UDP streams share pts 0) goes 1 ms after the previous one.
    const timestampMs = Math.max(raw.ptsMs + this.offsetMs, this.lastTimestampMs + 1);
    this.lastTimestampMs = timestampMs;
    this.lastFrameAt = Date.now();
    this.queue.push({
      sourceId: this.id,
      index: this.nextIndex++,
      timestampMs,
      width: raw.width,
      height: raw.height,
      data: raw.data,
      decodedAt: this.lastFrameAt,
    });
  }

  private inputArgs(): string[] {
    const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'];
    switch (this.spec.kind) {
      case 'rtsp':
        return [...args, '-rtsp_transport', this.settings.rtspTransport];
      case 'webcam':
        return [...args, '-f', 'v4l2'];
      case 'file':
        if (this.settings.loop) args.push('-stream_loop', '-1');
        if (this.settings.realtime) args.push('-re');
        return args;
      default:
        return args;
    }
  }

  private outputArgs(binaries: FfmpegBinaries): string[] {
    const filters: string[] = [];
    const { fps, width, height } = this.options;
    if (fps !== undefined) {
      // Keep the first frame of each 1/fps slot: never duplicates, and keeps exact timestamps
      // (the fps filter would re-time frames and repeat some when the source is slower).
      const slot = (v: string): string => `floor(${v}*${fps}+0.001)`;
      filters.push(`select='isnan(prev_selected_t)+gt(${slot('t')},${slot('prev_selected_t')})'`);
    }
    if (width !== undefined && height !== undefined) {
      filters.push(`scale=${width}:${height}:force_original_aspect_ratio=decrease`);
    } else if (width !== undefined || height !== undefined) {
      filters.push(`scale=${width ?? -1}:${height ?? -1}`);
    }
    filters.push('format=rgb24', 'showinfo=checksum=0');

    return [
      '-map',
      '0:v:0',
      '-vf',
      filters.join(','),
      binaries.passthroughFlag,
      'passthrough',
      '-pix_fmt',
      'rgb24',
      '-f',
      'rawvideo',
    ];
  }

  private fileError(session: Session, probe: VideoProbe | undefined): FxsError | undefined {
    const name = this.displayName;
    const lastError = lastErrorLine(session.log);
    if (session.frames === 0 && this.spec.kind !== 'file') {
      return this.liveError(false, this.liveReason(session), 0);
    }
    if (session.frames === 0) {
      return new FxsError(
        ErrorCodes.INPUT_UNREADABLE,
        `cannot read '${name}': no frame could be decoded (${lastError ?? 'no error given'}); ` +
          'pass a playable video file',
      );
    }
    if (this.settings.loop) return undefined;
    if (probe === undefined) {
      // A file streamed over HTTP: without a probe, only ffmpeg's exit status tells.
      if (session.exitCode === 0) return undefined;
      return new FxsError(
        ErrorCodes.INPUT_TRUNCATED,
        `'${name}' ends early after ${session.frames} frames (${lastError ?? 'ffmpeg failed'}); ` +
          'check the server and the file',
      );
    }

    const damaged = session.log.some((line) => DAMAGE.test(line));
    const expected = probe.frameCount;
    const missing =
      expected !== undefined && this.options.fps === undefined ? expected - session.frames : 0;
    const slackMs = 2 * (1000 / (probe.fps ?? 25) + 1000 / (this.options.fps ?? Infinity)) + 100;
    const early = probe.durationMs !== undefined && session.lastPtsMs < probe.durationMs - slackMs;
    const failed = session.exitCode !== 0;
    if (!(failed || missing > 2 || (missing > 0 && damaged) || early)) return undefined;

    const got =
      expected !== undefined && this.options.fps === undefined
        ? `${session.frames} of ${expected} frames`
        : `${session.frames} frames, up to ${(session.lastPtsMs / 1000).toFixed(2)} s of ` +
          `${((probe.durationMs ?? 0) / 1000).toFixed(2)} s`;
    return new FxsError(
      ErrorCodes.INPUT_TRUNCATED,
      `'${name}' ends early: decoded ${got}` +
        (lastError ? ` (${lastError})` : '') +
        '; the file is cut short or damaged, copy it again or re-encode it',
    );
  }

  private liveReason(session: Session): string {
    if (session.end === 'stalled') {
      return session.frames > 0
        ? `no frame for ${this.settings.stallTimeoutMs} ms`
        : `no first frame within ${this.settings.connectTimeoutMs} ms`;
    }
    const text = session.log.join('\n');
    for (const [pattern, reason] of NETWORK_REASONS) {
      if (pattern.test(text)) return reason;
    }
    if (session.exitCode === 0) return 'the stream ended';
    return lastErrorLine(session.log) ?? `ffmpeg exited with status ${session.exitCode}`;
  }

  private liveError(played: boolean, reason: string, retries: number): FxsError {
    const after = retries === 0 ? '' : ` (after ${retries} ${retries === 1 ? 'retry' : 'retries'})`;
    if (!played) {
      return new FxsError(
        ErrorCodes.SOURCE_UNREACHABLE,
        `cannot reach '${this.displayName}': ${reason}${after}`,
      );
    }
    return new FxsError(
      ErrorCodes.SOURCE_LOST,
      `lost '${this.displayName}': ${reason}${after}; check the source or raise ` +
        'reconnect.maxAttempts',
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cancelSleep = done;
    }).finally(() => {
      this.cancelSleep = null;
    });
  }

  private fail(err: unknown): void {
    const reason = maskUrl(err instanceof Error ? err.message : String(err));
    const error =
      err instanceof FxsError
        ? err
        : new FxsError(ErrorCodes.INPUT_UNREADABLE, `cannot read '${this.displayName}': ${reason}`);
    this.queue.end(error);
    this.setState('failed', error.message);
  }

  private setState(state: SourceState, detail?: string): void {
    if (this.state === state && state !== 'reconnecting') return;
    if (this.state === 'ended' || this.state === 'failed') return;
    this.state = state;
    this.emit('state', state, detail);
  }
}

/** The last log line that reads like an error, shortened to its message. */
function lastErrorLine(log: string[]): string | undefined {
  for (let i = log.length - 1; i >= 0; i--) {
    const line = log[i].trim();
    if (
      !/error|invalid|fail|refused|not found|unauthorized|denied|corrupt|partial|timed out/i.test(
        line,
      )
    ) {
      continue;
    }
    return line.replace(/^\[[^\]]*\]\s*/, '').slice(0, 200);
  }
  return undefined;
}
