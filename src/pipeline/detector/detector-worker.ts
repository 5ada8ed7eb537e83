/**
 * Worker thread of one FaceDetector: loads MediaPipe's face detector on the CPU and answers
 * `detect` requests one at a time, in the order they arrive.
 *
 * MediaPipe runs in IMAGE mode: it numbers frames itself, so no caller can break the strictly
 * increasing timestamps that VIDEO mode demands, and on BlazeFace the two modes cost the same
 * (the face detector graph keeps no state between frames).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Detection } from '../types.js';
import { installBrowserGlobals, type WasmOutput } from './browser-globals.js';
import type { DetectorReply, DetectorRequest, DetectorWorkerData } from './detector-protocol.js';
import { FakeWebGlCanvas } from './fake-webgl.js';

/** The part of a MediaPipe FaceDetector used here. */
interface VisionDetector {
  detect(image: RgbaImage): { detections: VisionDetection[] };
  close(): void;
}

interface VisionDetection {
  categories: Array<{ score: number }>;
  boundingBox?: { originX: number; originY: number; width: number; height: number };
  keypoints: Array<{ x: number; y: number }>;
}

interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

const port = parentPort;
if (!port) throw new Error('detector-worker.ts runs only as a worker thread of FaceDetector');

const settings = workerData as DetectorWorkerData;
const output = installBrowserGlobals();
const detector = await load(settings, output).catch((err: unknown) => {
  send({ type: 'failed', message: firstLine(err, output) });
  return null;
});

if (detector) {
  port.on('message', (request: DetectorRequest) => answer(detector, request));
  send({ type: 'ready' });
}

async function load(data: DetectorWorkerData, output: WasmOutput): Promise<VisionDetector> {
  const vision = await import('@mediapipe/tasks-vision');
  const fileset = await vision.FilesetResolver.forVisionTasks(data.wasmDir);
  const options = {
    baseOptions: { modelAssetBuffer: data.model, delegate: 'CPU' as const },
    runningMode: 'IMAGE' as const,
    minDetectionConfidence: data.minScore,
    canvas: new FakeWebGlCanvas(),
  };
  const task = await vision.FaceDetector.createFromOptions(fileset, options as never);
  const created = task as unknown as VisionDetector;

  // The first frame pays for the inference engine's setup (0.6-1.4 s measured); pay it here
  // rather than on a live stream's first frame. It also proves that the model runs.
  created.detect({ data: new Uint8ClampedArray(16 * 16 * 4), width: 16, height: 16 });
  output.lines.length = 0;
  return created;
}

function answer(detector: VisionDetector, request: DetectorRequest): void {
  if (request.type === 'close') {
    detector.close();
    port?.close();
    return;
  }

  const { id, width, height, rgb } = request;
  try {
    const result = detector.detect({ data: toRgba(rgb, width, height), width, height });
    const image = { width, height, boxCentreBelowKeypoints: settings.boxCentreBelowKeypoints };
    const faces = result.detections.flatMap((d) => toDetection(d, image) ?? []);
    send({ type: 'faces', id, faces });
  } catch (err) {
    send({ type: 'error', id, message: firstLine(err, output) });
  }
}

function send(reply: DetectorReply): void {
  port?.postMessage(reply);
}

let rgba = new Uint8ClampedArray(0);

/** Packs RGB24 into the RGBA buffer MediaPipe takes, reusing it while the size holds. */
function toRgba(rgb: Uint8Array, width: number, height: number): Uint8ClampedArray {
  const pixels = width * height;
  if (rgba.length !== pixels * 4) rgba = new Uint8ClampedArray(pixels * 4);

  // One 32-bit store a pixel: on little-endian machines the bytes land as R, G, B, A.
  const words = new Uint32Array(rgba.buffer, rgba.byteOffset, pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    words[i] = rgb[j] | (rgb[j + 1] << 8) | (rgb[j + 2] << 16) | 0xff000000;
  }
  return rgba;
}

/**
 * MediaPipe's box (pixels) clipped to the frame, and its keypoints (normalized) in pixels.
 *
 * MediaPipe clamps a box's left and top at 0 but keeps its width and height, so the box of a
 * face cut by the left or top edge comes back shifted right or down by the part outside. Such
 * a box is put back around the centre of the eyes, nose tip and mouth, which sits at the box
 * centre within a few pixels (measured: 2 px on 80-150 px faces, full range); its true left
 * or top edge is otherwise lost.
 */
function toDetection(d: VisionDetection, image: ImageGeometry): Detection | null {
  const box = d.boundingBox;
  if (!box) return null;

  const { width, height } = image;
  const keypoints = d.keypoints.map((k) => ({ x: k.x * width, y: k.y * height }));
  let { originX: x, originY: y } = box;
  if ((x <= 0 || y <= 0) && keypoints.length >= 4) {
    const centre = meanOf(keypoints.slice(0, 4));
    if (x <= 0) x = centre.x - box.width / 2;
    if (y <= 0) y = centre.y - box.height / 2 + image.boxCentreBelowKeypoints * box.height;
  }

  const left = clamp(x, width);
  const top = clamp(y, height);
  const right = clamp(x + box.width, width);
  const bottom = clamp(y + box.height, height);
  if (right <= left || bottom <= top) return null;

  const score = d.categories[0]?.score ?? 0;
  return { box: { x: left, y: top, width: right - left, height: bottom - top }, score, keypoints };
}

interface ImageGeometry {
  width: number;
  height: number;
  /** See DetectorWorkerData. */
  boxCentreBelowKeypoints: number;
}

function meanOf(points: Array<{ x: number; y: number }>): { x: number; y: number } {
  const sum = points.reduce((a, p) => ({ x: a.x + p.x, y: a.y + p.y }), { x: 0, y: 0 });
  return { x: sum.x / points.length, y: sum.y / points.length };
}

function clamp(value: number, max: number): number {
  return Math.min(Math.max(value, 0), max);
}

/**
 * MediaPipe errors carry a status line followed by a source trace; the status line is the
 * useful part. Falls back to the wasm runtime's last printed line when the error has no text.
 */
function firstLine(err: unknown, output: WasmOutput): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n')[0].trim() || output.lines.at(-1)?.split('\n')[0] || 'unknown error';
  return line.replace(/;?\s*=== Source Location Trace.*$/, '');
}
