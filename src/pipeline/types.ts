/** Types that flow between the pipeline's stages. */

/** One decoded video frame, packed RGB (3 bytes a pixel, row-major, no padding). */
export interface Frame {
  /** Id of the source this frame came from. */
  sourceId: string;
  /** 0-based index among frames delivered by this source (after any fps cap). */
  index: number;
  /** Presentation time in milliseconds from the start of the source. */
  timestampMs: number;
  width: number;
  height: number;
  /** RGB24 pixels, width * height * 3 bytes. */
  data: Buffer;
  /** Wall-clock time (Date.now()) when the frame left the decoder, for latency figures. */
  decodedAt: number;
  /**
   * Set by still-image sources: the image's path as listed. Such a frame is unrelated to the
   * one before it, so faces are neither tracked nor smoothed across it.
   */
  file?: string;
}

/** Axis-aligned box in frame pixels: left, top, width, height. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One face found by the detector. */
export interface Detection {
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** Detector keypoints in frame pixels (BlazeFace: eyes, nose tip, mouth, ears). */
  keypoints?: Array<{ x: number; y: number }>;
}
