import ffmpeg from 'fluent-ffmpeg';
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { FfmpegBinaries } from './ffmpeg.js';

/** What ffprobe tells about a video file's first video stream. */
export interface VideoProbe {
  /** Size as displayed, after rotation metadata: ffmpeg turns the frames upright itself. */
  width: number;
  height: number;
  /** Clockwise display rotation in degrees: 0, 90, 180 or 270. */
  rotation: number;
  /** Frames in the stream per the container, when it says. */
  frameCount?: number;
  /** Stream duration in milliseconds, when known. */
  durationMs?: number;
  /** Average frame rate in frames per second, when known. */
  fps?: number;
}

/**
 * Reads a local video file's first video stream with ffprobe.
 *
 * @param displayName how the file is named in error messages.
 * @throws FxsError `FXS_ERR_INPUT_UNREADABLE` when ffprobe cannot read the file or it holds no
 *   video stream (audio only, subtitles, a text file).
 */
export function probeVideoFile(
  file: string,
  displayName: string,
  binaries: FfmpegBinaries,
): Promise<VideoProbe> {
  ffmpeg.setFfprobePath(binaries.ffprobePath);
  return new Promise((resolve, reject) => {
    ffmpeg.ffprobe(file, (err: unknown, data: ffmpeg.FfprobeData) => {
      if (err) {
        reject(unreadable(displayName, `not a video ffmpeg can read (${probeReason(err)})`));
        return;
      }

      const video = data.streams.find((s) => s.codec_type === 'video' && !isCoverArt(s));
      if (!video) {
        const what = data.streams.some((s) => s.codec_type === 'audio')
          ? 'holds audio only'
          : 'holds no video stream';
        reject(unreadable(displayName, what));
        return;
      }

      resolve(describe(video));
    });
  });
}

function describe(video: ffmpeg.FfprobeStream): VideoProbe {
  const rotation = readRotation(video);
  const turned = rotation === 90 || rotation === 270;
  const width = Number(video.width);
  const height = Number(video.height);
  const frameCount = positive(video.nb_frames);
  const seconds = positive(video.duration);
  const fps = rate(video.avg_frame_rate) ?? rate(video.r_frame_rate);
  return {
    width: turned ? height : width,
    height: turned ? width : height,
    rotation,
    ...(frameCount !== undefined && { frameCount }),
    ...(seconds !== undefined && { durationMs: seconds * 1000 }),
    ...(fps !== undefined && { fps }),
  };
}

/**
 * Rotation comes from the display matrix side data (ffprobe prints `rotation=-90`, which
 * fluent-ffmpeg lifts onto the stream) or, in files from older muxers, a `rotate` tag.
 */
function readRotation(video: ffmpeg.FfprobeStream): number {
  const fields = video as unknown as Record<string, unknown>;
  const raw = fields.rotation ?? video.tags?.rotate ?? 0;
  const degrees = Math.round(Number(raw) / 90) * 90;
  if (!Number.isFinite(degrees)) return 0;
  return ((degrees % 360) + 360) % 360;
}

/** An attached picture (album art) is a video stream of one still: not a video. */
function isCoverArt(stream: ffmpeg.FfprobeStream): boolean {
  return stream.disposition?.attached_pic === 1;
}

function positive(value: unknown): number | undefined {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function rate(value: unknown): number | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(String(value));
  if (!match || Number(match[2]) === 0) return undefined;
  return positive(Number(match[1]) / Number(match[2]));
}

/** The last line ffprobe printed, without the file path it starts with. */
function probeReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? 'unknown error';
  const colon = last.lastIndexOf(': ');
  return colon >= 0 ? last.slice(colon + 2) : last;
}

function unreadable(displayName: string, what: string): FxsError {
  return new FxsError(
    ErrorCodes.INPUT_UNREADABLE,
    `cannot read '${displayName}': ${what}; pass a video file with a video stream`,
  );
}
