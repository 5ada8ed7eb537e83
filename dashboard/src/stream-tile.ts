/**
 * One stream on the dashboard: header with state, the live preview with overlays, a stats
 * strip, the parsing legend and the cards of its faces.
 *
 * Results and preview JPEGs arrive separately (results first). Overlays are drawn from the
 * results of the displayed frame when they are still held, else from the latest results, so
 * boxes sit on the faces they belong to even when previews are sparser than results.
 */
import { PARSING_COLORS, PARSING_LABELS, type TaskName } from '../../src/model/contract.js';
import type { FrameRecord } from '../../src/pipeline/record.js';
import type { ModelInfo, StreamInfo, StreamState } from '../../src/stream/engine.js';
import type { FrameMessage, ResultsMessage } from '../../src/stream/protocol.js';
import { faceCard } from './face-card.js';
import { el, humanLabel, short } from './format.js';
import { drawOverlays, type OverlaySet } from './overlays.js';

/** Results kept per stream to match preview frames, by frame index. */
const HELD_RESULTS = 90;

/** Cards are rebuilt at most this often, in milliseconds, so they stay readable. */
const CARD_INTERVAL_MS = 400;

const STATE_TEXT: Record<StreamState, string> = {
  connecting: 'Connecting…',
  playing: '',
  reconnecting: 'Reconnecting…',
  ended: 'Stream ended',
  failed: 'Stream failed',
  stopped: 'Stopped',
};

/** What a tile needs from the page. */
export interface TileContext {
  model(): ModelInfo | undefined;
  overlays(): OverlaySet;
}

/** The view of one stream. */
export class StreamTile {
  readonly root: HTMLElement;
  private info: StreamInfo;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly parts: Record<
    'name' | 'state' | 'url' | 'stats' | 'message' | 'legend' | 'faces',
    HTMLElement
  >;

  private readonly held = new Map<number, ResultsMessage>();
  private latest: ResultsMessage | undefined;
  private image: ImageBitmap | undefined;
  private imageFrame = -1;
  private size = { width: 0, height: 0 };
  private decoding = false;
  private pending: FrameMessage | undefined;
  private drawQueued = false;
  private cardsAt = 0;
  private cardsTimer: number | undefined;

  constructor(
    info: StreamInfo,
    private readonly context: TileContext,
  ) {
    this.info = info;
    this.canvas = el('canvas', { 'aria-label': `Live view of ${info.name}` });
    this.ctx = this.canvas.getContext('2d')!;
    this.parts = {
      name: el('h2', {}),
      state: el('span', { class: 'state' }),
      url: el('span', { class: 'url' }),
      stats: el('div', { class: 'stats' }),
      message: el('div', { class: 'view-message' }),
      legend: el('div', { class: 'legend' }),
      faces: el('div', { class: 'faces' }),
    };
    this.root = el(
      'section',
      { class: 'tile', 'data-stream': info.id },
      el('header', { class: 'tile-head' }, this.parts.state, this.parts.name, this.parts.url),
      el('div', { class: 'view' }, this.canvas, this.parts.message),
      this.parts.stats,
      this.parts.legend,
      this.parts.faces,
    );
    this.update(info);
    this.renderCards();
    this.scheduleDraw();
  }

  /** Applies a new StreamInfo (state change or stats). */
  update(info: StreamInfo): void {
    // A source that reconnects may count frames from 0 again: forget the old numbering.
    if (info.state !== 'playing' && info.state !== this.info.state) {
      this.held.clear();
      this.imageFrame = -1;
    }
    this.info = info;
    if (info.width && info.height && this.size.width === 0)
      this.size = { width: info.width, height: info.height };

    this.parts.name.textContent = info.name;
    this.parts.url.textContent = info.url;
    this.parts.url.title = info.url;
    this.parts.state.textContent = info.state;
    this.root.dataset.state = info.state;

    const waiting =
      info.state === 'playing' && !this.image && !this.latest ? 'Waiting for the first frame…' : '';
    const text = STATE_TEXT[info.state] || waiting;
    this.parts.message.textContent =
      info.error && info.state !== 'playing' ? `${text} ${info.error}` : text;
    this.parts.message.hidden = this.parts.message.textContent === '';
    this.renderStats();
  }

  /** Holds new results and redraws. */
  onResults(message: ResultsMessage): void {
    this.latest = message;
    this.held.set(message.frame, message);
    if (this.held.size > HELD_RESULTS) this.held.delete(this.held.keys().next().value!);
    if (this.size.width === 0) this.size = { width: message.width, height: message.height };
    if (!this.parts.message.hidden && this.info.state === 'playing') this.update(this.info);

    // Without previews the results alone move the overlays.
    if (!this.image || message.frame - this.imageFrame > HELD_RESULTS) this.scheduleDraw();
    this.scheduleCards();
  }

  /** Decodes a preview JPEG; frames arriving while one decodes replace each other. */
  onFrame(message: FrameMessage): void {
    if (this.decoding) {
      this.pending = message;
      return;
    }
    this.decoding = true;
    void this.decode(message).finally(() => {
      this.decoding = false;
      const next = this.pending;
      this.pending = undefined;
      if (next) this.onFrame(next);
    });
  }

  /** Redraws with the current overlay switches. */
  redraw(): void {
    this.scheduleDraw();
    this.renderCards();
  }

  /** Dims the tile while the dashboard has no connection. */
  setOffline(offline: boolean): void {
    this.root.classList.toggle('offline', offline);
  }

  /** Frees the decoded image. */
  destroy(): void {
    this.image?.close();
    window.clearTimeout(this.cardsTimer);
    this.root.remove();
  }

  private async decode(message: FrameMessage): Promise<void> {
    const binary = atob(message.jpeg);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
    if (message.frame < this.imageFrame && this.imageFrame - message.frame < HELD_RESULTS) {
      bitmap.close();
      return;
    }
    this.image?.close();
    this.image = bitmap;
    this.imageFrame = message.frame;
    this.size = { width: message.width, height: message.height };
    if (!this.parts.message.hidden && this.info.state === 'playing') this.update(this.info);
    this.scheduleDraw();
  }

  private scheduleDraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    const width = this.size.width || 640;
    const height = this.size.height || 360;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }

    const ctx = this.ctx;
    if (this.image) ctx.drawImage(this.image, 0, 0, width, height);
    else {
      ctx.fillStyle = '#0b0e12';
      ctx.fillRect(0, 0, width, height);
    }

    this.root.classList.toggle('blank', !this.image);
    const results = this.shownResults();
    const drawn = results ? drawOverlays(ctx, results.faces, this.context.overlays(), width) : [];
    this.canvas.dataset.frame = results ? String(results.frame) : '';
    this.canvas.dataset.image = this.image ? String(this.imageFrame) : '';
    this.canvas.dataset.overlays = drawn.join(',');
  }

  private shownResults(): FrameRecord | ResultsMessage | undefined {
    if (this.image) return this.held.get(this.imageFrame) ?? this.latest;
    return this.latest;
  }

  private scheduleCards(): void {
    const wait = this.cardsAt + CARD_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.renderCards();
    if (this.cardsTimer !== undefined) return;
    this.cardsTimer = window.setTimeout(() => {
      this.cardsTimer = undefined;
      this.renderCards();
    }, wait);
  }

  private renderCards(): void {
    this.cardsAt = Date.now();
    const results = this.shownResults();
    const tasks = new Set<TaskName>(this.context.model()?.tasks ?? []);
    const faces = [...(results?.faces ?? [])].sort((a, b) => a.id - b.id);
    this.parts.faces.replaceChildren(...faces.map((face) => faceCard(face, tasks)));
    this.root.dataset.faces = String(faces.length);
    if (faces.length === 0)
      this.parts.faces.append(el('p', { class: 'muted no-faces' }, 'No faces in view'));
    this.renderLegend(results);
  }

  private renderLegend(results: ResultsMessage | FrameRecord | undefined): void {
    const present = new Set<string>();
    if (this.context.overlays().parsing) {
      for (const face of results?.faces ?? []) {
        for (const [name, share] of Object.entries(face.parsing?.coverage ?? {})) {
          if (share > 0 && name !== 'background') present.add(name);
        }
      }
    }
    const chips = PARSING_LABELS.flatMap((name, index) => {
      if (!present.has(name)) return [];
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = `rgb(${PARSING_COLORS[index].join(',')})`;
      return [el('span', { class: 'legend-item' }, swatch, humanLabel(name))];
    });
    this.parts.legend.replaceChildren(...chips);
    this.parts.legend.hidden = chips.length === 0;
  }

  private renderStats(): void {
    const { stats } = this.info;
    const model = this.context.model();
    const item = (label: string, value: string, title?: string) =>
      el(
        'span',
        { class: 'stat', title },
        el('span', { class: 'label' }, label),
        el('b', {}, value),
      );
    const latency =
      stats.latencyP95Ms > 0
        ? `${Math.round(stats.latencyP50Ms)} / ${Math.round(stats.latencyP95Ms)} ms`
        : '–';
    const items = [
      item('In', `${short(stats.fpsIn)} fps`, 'Frames decoded per second'),
      item('Out', `${short(stats.fpsOut)} fps`, 'Frames with results per second'),
      item('Latency', latency, 'p50 / p95, decode to result'),
      item('Dropped', String(stats.dropped), 'Frames skipped to keep up'),
      item('Faces', String(stats.faces)),
    ];
    if (model) items.push(item('Model', `${model.name} · ${model.device}`));
    this.parts.stats.replaceChildren(...items);
  }
}
