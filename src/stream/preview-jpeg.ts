/**
 * Encodes a decoded frame as the JPEG of a preview message. sharp runs on libuv's thread
 * pool, so encoding does not hold up the event loop that carries results and sockets.
 */
import sharp from 'sharp';
import type { Frame } from '../pipeline/types.js';

/** Options of encodePreviewJpeg. */
export interface PreviewJpegOptions {
  /** Widest preview in pixels; larger frames are scaled down, keeping the aspect. */
  maxWidth: number;
  /** JPEG quality, 1-100. */
  quality: number;
}

/** Returns the JPEG bytes of `frame` (packed RGB24). */
export async function encodePreviewJpeg(
  frame: Frame,
  options: PreviewJpegOptions,
): Promise<Buffer> {
  // A private copy: the engine may reuse its frame buffers once the event has returned.
  const pixels = Buffer.from(frame.data);
  const image = sharp(pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } });
  if (frame.width > options.maxWidth) image.resize({ width: options.maxWidth });

  return image.jpeg({ quality: options.quality, mozjpeg: false }).toBuffer();
}
