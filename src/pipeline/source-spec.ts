import { statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, FxsError } from '../common/errors.js';
import { maskUrl } from '../common/mask-url.js';

/** What kind of thing an input string names. */
export type SourceKind = 'file' | 'images' | 'rtsp' | 'http' | 'hls' | 'webcam';

/** How the images of an `images` source are listed. */
export type ImageListKind = 'directory' | 'list' | 'single';

/** An input string, understood. Holds credentials in `target`: never log it. */
export interface SourceSpec {
  kind: SourceKind;
  /** What gets opened: an absolute path, the full URL (credentials included) or a device. */
  target: string;
  /** A short name for ids, file names and metrics labels: letters, digits, `.`, `_`, `-`. */
  id: string;
  /** For people: the file name, or the URL with its credentials masked. */
  displayName: string;
  /** True for cameras and network streams, which run at their own pace and may drop frames. */
  live: boolean;
  /** Set for `images` sources. */
  imageList?: ImageListKind;
}

/** Still-image file extensions read with sharp rather than ffmpeg. */
export const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.tif',
  '.tiff',
  '.avif',
]);

const LIST_EXTENSIONS = new Set(['.txt', '.lst']);
const HOW_TO =
  'pass a video file, a folder or .txt list of images, an rtsp:// or http(s):// URL, ' +
  'or a webcam (/dev/video0, webcam:0)';

/**
 * Understands an input string: a local video file, a folder of images, a `.txt` list of image
 * paths (one a line, relative to the list, `#` starts a comment), a single image,
 * `rtsp://`/`rtsps://`, `http(s)://` (an `.m3u8` path is HLS), or a V4L2 webcam given as
 * `/dev/videoN` or `webcam:N`. Local paths are checked with one `stat`.
 *
 * @throws FxsError `FXS_ERR_INPUT_UNSUPPORTED` for an empty string, an unknown scheme or a
 *   malformed URL; `FXS_ERR_INPUT_NOT_FOUND` for a path that does not exist.
 */
export function parseSourceSpec(input: string): SourceSpec {
  const text = input.trim();
  if (text === '') throw unsupported(`the input is empty; ${HOW_TO}`);

  const webcam = /^webcam:(\d+)$/i.exec(text);
  if (webcam) return pathSpec(`/dev/video${webcam[1]}`, text);

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) return urlSpec(text, scheme[1].toLowerCase());

  return pathSpec(path.resolve(text), text);
}

function urlSpec(url: string, scheme: string): SourceSpec {
  if (scheme === 'file') return pathSpec(path.resolve(decodeURIComponent(url.slice(7))), url);

  if (!['rtsp', 'rtsps', 'http', 'https'].includes(scheme)) {
    throw unsupported(`cannot read '${maskUrl(url)}': unknown scheme '${scheme}://'; ${HOW_TO}`);
  }

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw unsupported(`cannot read '${maskUrl(url)}': not a valid URL; check its spelling`);
  }
  if (parsed.hostname === '') {
    throw unsupported(`cannot read '${maskUrl(url)}': the URL has no host; add one`);
  }

  const kind: SourceKind = scheme.startsWith('rtsp')
    ? 'rtsp'
    : parsed.pathname.toLowerCase().endsWith('.m3u8')
      ? 'hls'
      : 'http';
  const last = parsed.pathname.split('/').filter(Boolean).pop() ?? '';
  const id = shortId([parsed.hostname, stripExtension(last)].filter(Boolean).join('-'));
  return { kind, target: url, id, displayName: maskUrl(url), live: true };
}

function pathSpec(absolute: string, original: string): SourceSpec {
  let stats: Stats;
  try {
    stats = statSync(absolute);
  } catch {
    const message = absolute.startsWith('/dev/video')
      ? `cannot open webcam '${absolute}': no such device; plug one in or pick another index`
      : `cannot open '${maskUrl(original)}': no such file or directory; ${HOW_TO}`;
    throw new FxsError(ErrorCodes.INPUT_NOT_FOUND, message);
  }

  const base = path.basename(absolute);
  if (stats.isDirectory()) return imageSpec(absolute, base, 'directory');
  if (stats.isCharacterDevice()) return webcamSpec(absolute);

  const ext = path.extname(absolute).toLowerCase();
  if (LIST_EXTENSIONS.has(ext)) return imageSpec(absolute, stripExtension(base), 'list');
  if (IMAGE_EXTENSIONS.has(ext)) return imageSpec(absolute, stripExtension(base), 'single');
  return {
    kind: 'file',
    target: absolute,
    id: shortId(stripExtension(base)),
    displayName: base,
    live: false,
  };
}

function imageSpec(target: string, name: string, imageList: ImageListKind): SourceSpec {
  const displayName = path.basename(target);
  return { kind: 'images', target, id: shortId(name), displayName, live: false, imageList };
}

function webcamSpec(device: string): SourceSpec {
  return {
    kind: 'webcam',
    target: device,
    id: shortId(path.basename(device)),
    displayName: device,
    live: true,
  };
}

function stripExtension(name: string): string {
  const ext = path.extname(name);
  return ext === '' || ext === name ? name : name.slice(0, -ext.length);
}

/** Keeps ids safe for file names and metrics labels, and short. */
function shortId(name: string): string {
  const id = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 40);
  return id === '' ? 'source' : id;
}

function unsupported(message: string): FxsError {
  return new FxsError(ErrorCodes.INPUT_UNSUPPORTED, message);
}
