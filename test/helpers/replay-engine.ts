/**
 * Test fixture: an Engine that plays drawn scenes instead of decoding video and running a
 * model. It emits the same events as the real engine ('results' then 'frame', 'stream',
 * 'removed') with results that match its pictures exactly, so the server and the dashboard
 * can be tested without ffmpeg, a detector or model weights.
 *
 * Sources are `replay:<scene>` URLs (credentials allowed, e.g. `replay://user:pw@cam/duo`);
 * scenes are solo, duo, trio (1-3 people) and empty. With `fps: 0` nothing plays by itself
 * and tests advance streams with `step()`.
 */
import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import { ErrorCodes, FxsError } from '../../src/common/errors.js';
import {
  AGE_LABELS,
  ATTRIBUTE_LABELS,
  GENDER_LABELS,
  INPUT_SIZE,
  PARSING_LABELS,
  RACE_LABELS,
  TASKS,
  VISIBILITY_POINTS,
  type TaskName,
} from '../../src/model/contract.js';
import type { ClassResult, FaceRecord, FrameRecord } from '../../src/pipeline/record.js';
import type { Frame } from '../../src/pipeline/types.js';
import type {
  Engine,
  ModelInfo,
  StreamInfo,
  StreamRequest,
  StreamState,
} from '../../src/stream/engine.js';
import { maskUrl } from '../../src/common/mask-url.js';
import { contractLabels } from './contract-labels.js';
import {
  coverage,
  cropBox,
  detectorBox,
  landmarks,
  parsingMask,
  runLength,
  sceneSvg,
  type FaceLook,
  type FacePose,
} from './synthetic-faces.js';

/** Options of ReplayEngine. */
export interface ReplayEngineOptions {
  /** Frames per second each stream plays at; 0 plays only on `step()`. Default 10. */
  fps?: number;
  /** Frame size in pixels. Default 640x360. */
  width?: number;
  height?: number;
  /** Tasks the pretend model supports. Default all. */
  tasks?: TaskName[];
}

/** Frames in one animation loop. */
const CYCLE = 24;

/** Age-bin logits per look: 20-29, 40-49 and 60-69. */
const AGE_LOGITS = [
  [0, 1, 4, 2.5, 0.5, 0, 0, 0],
  [0, 0, 0.5, 2, 3.5, 1.5, 0, 0],
  [0, 0, 0, 0, 0.5, 2, 3.2, 1.8],
];

const SCENES: Record<string, number> = { empty: 0, solo: 1, duo: 2, trio: 3 };

const LOOKS: FaceLook[] = [
  {
    skin: '#e8b996',
    skinShade: '#cf9c78',
    hair: '#5a3825',
    longHair: true,
    shirt: '#2f6f8f',
    iris: '#3a6b4a',
    lips: '#c0605f',
    glasses: false,
  },
  {
    skin: '#c68b63',
    skinShade: '#a87150',
    hair: '#1f1a17',
    longHair: false,
    shirt: '#8f3f3f',
    iris: '#4a3020',
    lips: '#9c5249',
    glasses: true,
  },
  {
    skin: '#f1cfb4',
    skinShade: '#d9b094',
    hair: '#b8b2a8',
    longHair: false,
    shirt: '#4f6b3a',
    iris: '#3f5f8f',
    lips: '#b86a6a',
    glasses: false,
  },
];

interface Person {
  look: FaceLook;
  /** Home position and size of the face in pixels. */
  x: number;
  y: number;
  size: number;
  /** Phase offset of its motion, in loops. */
  offset: number;
  /** Parsing results by loop phase: the costly part of a record, the same every loop. */
  parsing: Map<number, NonNullable<FaceRecord['parsing']>>;
}

interface ReplayStream {
  info: StreamInfo;
  people: Person[];
  frames: Buffer[];
  index: number;
  timer?: NodeJS.Timeout;
}

/** A drawn-scene Engine for tests. */
export class ReplayEngine extends EventEmitter implements Engine {
  readonly model: ModelInfo;
  private readonly streams = new Map<string, ReplayStream>();
  private readonly fps: number;
  private readonly width: number;
  private readonly height: number;

  constructor(options: ReplayEngineOptions = {}) {
    super();
    this.fps = options.fps ?? 10;
    this.width = options.width ?? 640;
    this.height = options.height ?? 360;
    this.model = {
      name: 'replay-fixture',
      device: 'cpu',
      tasks: options.tasks ?? [...TASKS],
      labels: contractLabels(),
    };
  }

  listStreams(): StreamInfo[] {
    return [...this.streams.values()].map((s) => snapshot(s.info));
  }

  getStream(id: string): StreamInfo | undefined {
    const stream = this.streams.get(id);
    return stream && snapshot(stream.info);
  }

  async addStream(request: StreamRequest): Promise<StreamInfo> {
    const scene = sceneOf(request.url);
    for (const task of request.tasks ?? []) {
      if (!this.model.tasks.includes(task)) {
        throw new FxsError(
          ErrorCodes.TASK_UNSUPPORTED,
          `task "${task}" is not supported by ${this.model.name}`,
        );
      }
    }

    const id = this.uniqueId(request.name ?? scene);
    const people = Array.from({ length: SCENES[scene] }, (_, k) => this.person(k, SCENES[scene]));
    const stream: ReplayStream = {
      info: {
        id,
        name: request.name ?? scene,
        url: maskUrl(request.url),
        live: true,
        state: 'connecting',
        width: this.width,
        height: this.height,
        tasks: request.tasks ?? [...this.model.tasks],
        stats: {
          fpsIn: 0,
          fpsOut: 0,
          latencyP50Ms: 0,
          latencyP95Ms: 0,
          framesIn: 0,
          framesOut: 0,
          dropped: 0,
          faces: 0,
        },
      },
      people,
      frames: [],
      index: -1,
    };
    this.streams.set(id, stream);
    this.emit('stream', snapshot(stream.info));

    stream.frames = await Promise.all(
      Array.from({ length: CYCLE }, (_, phase) => this.render(people, phase)),
    );
    if (!this.streams.has(id)) return snapshot(stream.info);

    this.setState(id, 'playing');
    if (this.fps > 0) stream.timer = setInterval(() => this.step(id), 1000 / this.fps);
    return snapshot(stream.info);
  }

  async removeStream(id: string): Promise<boolean> {
    const stream = this.streams.get(id);
    if (!stream) return false;

    clearInterval(stream.timer);
    this.streams.delete(id);
    this.emit('removed', id);
    return true;
  }

  /** Emits the next frame of stream `id`, or of every playing stream. */
  step(id?: string): void {
    const targets = id === undefined ? [...this.streams.keys()] : [id];
    for (const target of targets) {
      const stream = this.streams.get(target);
      if (!stream || stream.frames.length === 0 || stream.info.state !== 'playing') continue;
      this.emitFrame(stream);
    }
  }

  /** Changes a stream's state as a real source would, with an optional error line. */
  setState(id: string, state: StreamState, error?: string): void {
    const stream = this.streams.get(id);
    if (!stream) return;

    stream.info.state = state;
    if (state !== 'playing') Object.assign(stream.info.stats, { fpsIn: 0, fpsOut: 0, faces: 0 });
    if (error === undefined) delete stream.info.error;
    else stream.info.error = maskUrl(error);
    this.emit('stream', snapshot(stream.info));
  }

  /** Stops every timer; the engine is unusable afterwards. */
  close(): void {
    for (const stream of this.streams.values()) clearInterval(stream.timer);
    this.streams.clear();
  }

  /** The pose of person `k` of `stream` at frame `index`. */
  pose(person: Person, index: number): FacePose {
    const t = 2 * Math.PI * ((index % CYCLE) / CYCLE + person.offset);
    return {
      cx: person.x + person.size * 0.12 * Math.sin(t),
      cy: person.y + person.size * 0.05 * Math.sin(2 * t),
      rx: person.size * 0.5,
      ry: person.size * 0.64,
      roll: 9 * Math.sin(t + 0.7),
      yaw: 22 * Math.sin(t),
      pitch: 8 * Math.cos(t),
      mouthOpen: 0.5 + 0.5 * Math.sin(t * 2),
    };
  }

  private emitFrame(stream: ReplayStream): void {
    stream.index += 1;
    const index = stream.index;
    const now = Date.now();
    const record = this.record(stream, index);
    const stats = stream.info.stats;
    stats.framesIn += 1;
    stats.framesOut += 1;
    stats.fpsIn = this.fps;
    stats.fpsOut = this.fps;
    stats.latencyP50Ms = 42 + (index % 5);
    stats.latencyP95Ms = 68 + (index % 7);
    stats.dropped = Math.floor(index / 40);
    stats.faces = record.faces.length;

    const frame: Frame = {
      sourceId: stream.info.id,
      index,
      timestampMs: (index * 1000) / (this.fps || 10),
      width: this.width,
      height: this.height,
      data: stream.frames[index % CYCLE],
      decodedAt: now,
    };
    this.emit('results', record, stream.info.id);
    this.emit('frame', frame, stream.info.id);
  }

  private record(stream: ReplayStream, index: number): FrameRecord {
    const tasks = new Set(stream.info.tasks);
    const faces = stream.people.map((person, k) => this.face(person, k + 1, index, tasks));
    return {
      source: stream.info.id,
      frame: index,
      timestampMs: (index * 1000) / (this.fps || 10),
      width: this.width,
      height: this.height,
      faces,
    };
  }

  private face(person: Person, id: number, index: number, tasks: Set<TaskName>): FaceRecord {
    const pose = this.pose(person, index);
    const box = detectorBox(pose);
    const face: FaceRecord = { id, box, score: 0.9 + 0.01 * id, updated: {} };
    const set = <T extends TaskName>(task: T, value: () => FaceRecord[T]) => {
      if (!tasks.has(task)) return;
      (face as unknown as Record<string, unknown>)[task] = value();
      face.updated![task] = index;
    };
    const look = LOOKS.indexOf(person.look);

    set('landmarks', () =>
      landmarks(pose).map(([x, y]) => [round(x), round(y)] as [number, number]),
    );
    set('headPose', () => ({
      pitch: round(pose.pitch),
      yaw: round(-pose.yaw),
      roll: round(pose.roll),
    }));
    set('parsing', () => {
      const cached = person.parsing.get(index % CYCLE);
      if (cached) return cached;
      const crop = cropBox(box, this.width, this.height);
      const mask = parsingMask(pose, person.look, crop);
      const parsing = {
        box: crop,
        width: INPUT_SIZE,
        height: INPUT_SIZE,
        labels: [...PARSING_LABELS],
        rle: runLength(mask),
        coverage: coverage(mask),
      };
      person.parsing.set(index % CYCLE, parsing);
      return parsing;
    });
    set('age', () => classResult(AGE_LABELS, AGE_LOGITS[look % AGE_LOGITS.length]));
    set('gender', () => classResult(GENDER_LABELS, look === 1 ? [3, 0] : [0, 3]));
    set('race', () => classResult(RACE_LABELS, look === 1 ? [0, 1, 2, 0.5, 0] : [3, 0, 0, 1, 0]));
    set('attributes', () => attributes(person.look, pose));
    set('visibility', () =>
      Array.from({ length: VISIBILITY_POINTS }, (_, k) =>
        round(k % 7 === 3 && Math.abs(pose.yaw) > 15 ? 0.2 : 0.95, 3),
      ),
    );
    if (Object.keys(face.updated!).length === 0) delete face.updated;
    return face;
  }

  private person(k: number, count: number): Person {
    const size = Math.min(this.width / (count + 1.5), this.height * 0.36);
    return {
      look: LOOKS[k % LOOKS.length],
      x: (this.width * (k + 1)) / (count + 1),
      y: this.height * (0.42 + 0.04 * (k % 2)),
      size,
      offset: k * 0.37,
      parsing: new Map(),
    };
  }

  private async render(people: Person[], phase: number): Promise<Buffer> {
    const scene = people.map((person) => ({ pose: this.pose(person, phase), look: person.look }));
    const svg = sceneSvg(this.width, this.height, scene);
    return sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer();
  }

  private uniqueId(name: string): string {
    const base =
      name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || 'stream';
    let id = base;
    for (let n = 2; this.streams.has(id); n++) id = `${base}-${n}`;
    return id;
  }
}

function sceneOf(url: string): string {
  if (!url.startsWith('replay:')) {
    throw new FxsError(
      ErrorCodes.INPUT_NOT_FOUND,
      `cannot open '${maskUrl(url)}': the replay engine plays replay:<scene> URLs only`,
    );
  }
  const scene = url.split(/[/:]/).pop() ?? '';
  if (!(scene in SCENES)) {
    throw new FxsError(
      ErrorCodes.INPUT_NOT_FOUND,
      `cannot open '${maskUrl(url)}': no scene "${scene}"; use ${Object.keys(SCENES).join(', ')}`,
    );
  }
  return scene;
}

function classResult(labels: readonly string[], logits: number[]): ClassResult {
  const exps = logits.map((x) => Math.exp(x));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probs = Object.fromEntries(labels.map((label, i) => [label, round(exps[i] / sum, 4)]));
  const best = logits.indexOf(Math.max(...logits));
  return { label: labels[best], score: probs[labels[best]], probs };
}

function attributes(look: FaceLook, pose: FacePose): FaceRecord['attributes'] {
  const likely = new Set<string>(['No_Beard', 'Young', 'Attractive', 'Arched_Eyebrows']);
  if (look.longHair)
    ['Wavy_Hair', 'Wearing_Lipstick', 'Heavy_Makeup', 'Brown_Hair'].forEach((a) => likely.add(a));
  else ['Male', 'Straight_Hair', 'Black_Hair'].forEach((a) => likely.add(a));
  if (look.glasses) likely.add('Eyeglasses');
  if (pose.mouthOpen > 0.5) likely.add('Smiling').add('Mouth_Slightly_Open');
  return ATTRIBUTE_LABELS.map((name, i) => {
    const prob = likely.has(name) ? 0.72 + ((i * 7) % 25) / 100 : ((i * 13) % 30) / 100;
    return { name, prob: round(prob, 3), present: prob >= 0.5 };
  });
}

function snapshot(info: StreamInfo): StreamInfo {
  return { ...info, tasks: [...info.tasks], stats: { ...info.stats } };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
