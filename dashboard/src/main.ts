/**
 * The facexstream dashboard: a grid of live streams with overlays and face cards, fed by
 * one WebSocket (docs/protocol.md).
 *
 * The access token arrives once in the page URL (`?token=`); it is kept in sessionStorage
 * for reconnects and reloads, and taken out of the address bar so it is not shared with a
 * screenshot or a copied link.
 */
import type { TaskName } from '../../src/model/contract.js';
import type { ModelInfo, StreamInfo } from '../../src/stream/engine.js';
import type { ServerMessage } from '../../src/stream/protocol.js';
import { LiveConnection, type ConnectionState } from './connection.js';
import { el } from './format.js';
import type { OverlaySet } from './overlays.js';
import { StreamTile } from './stream-tile.js';
import './style.css';

const TOKEN_KEY = 'facexstream.token';
const OVERLAYS_KEY = 'facexstream.overlays';

/** Overlay switches, each shown only when the model has the task it needs. */
const SWITCHES: Array<{ key: keyof OverlaySet; label: string; task?: TaskName }> = [
  { key: 'boxes', label: 'Boxes' },
  { key: 'landmarks', label: 'Landmarks', task: 'landmarks' },
  { key: 'pose', label: 'Head pose', task: 'headPose' },
  { key: 'parsing', label: 'Parsing', task: 'parsing' },
];

const grid = document.getElementById('grid')!;
const empty = document.getElementById('empty')!;
const banner = document.getElementById('banner')!;
const modelBox = document.getElementById('model')!;
const toggles = document.getElementById('toggles')!;
const pill = document.getElementById('connection')!;

const tiles = new Map<string, StreamTile>();
const overlays = loadOverlays();
let model: ModelInfo | undefined;
let countdown: number | undefined;

const context = { model: () => model, overlays: () => overlays };
const connection = new LiveConnection(takeToken(), { message: onMessage, state: onState });
connection.start();

function onMessage(message: ServerMessage): void {
  switch (message.type) {
    case 'hello':
      model = message.model;
      renderModel();
      syncStreams(message.streams);
      subscribe();
      return;
    case 'results':
      tiles.get(message.stream)?.onResults(message);
      return;
    case 'frame':
      tiles.get(message.stream)?.onFrame(message);
      return;
    case 'stats':
      for (const info of message.streams) upsert(info);
      return;
    case 'stream':
      upsert(message.stream);
      return;
    case 'removed':
      tiles.get(message.stream)?.destroy();
      tiles.delete(message.stream);
      showEmpty();
      return;
    case 'error':
      console.warn(`facexstream: ${message.code}: ${message.message}`);
      return;
    default:
      return;
  }
}

/** Asks for every stream, previews on, and the parsing mask only while it is drawn. */
function subscribe(): void {
  if (!model) return;
  const tasks = model.tasks.filter((task) => task !== 'parsing' || overlays.parsing);
  connection.send({ type: 'subscribe', tasks, previews: true });
}

function syncStreams(streams: StreamInfo[]): void {
  const ids = new Set(streams.map((s) => s.id));
  for (const [id, tile] of tiles) {
    if (ids.has(id)) continue;
    tile.destroy();
    tiles.delete(id);
  }
  for (const info of streams) upsert(info);
  showEmpty();
}

function upsert(info: StreamInfo): void {
  const tile = tiles.get(info.id);
  if (tile) return tile.update(info);

  const created = new StreamTile(info, context);
  tiles.set(info.id, created);
  grid.append(created.root);
  showEmpty();
}

function showEmpty(): void {
  empty.hidden = tiles.size > 0 || model === undefined;
}

function onState(state: ConnectionState): void {
  window.clearInterval(countdown);
  pill.dataset.state = state.kind;
  for (const tile of tiles.values()) tile.setOffline(state.kind !== 'live');

  const label = pill.querySelector('.label')!;
  if (state.kind === 'live') {
    label.textContent = 'Live';
    banner.hidden = true;
    return;
  }
  if (state.kind === 'connecting') {
    label.textContent = 'Connecting…';
    return;
  }

  const tick = () => {
    const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    if (state.kind === 'unauthorized') {
      label.textContent = 'Access denied';
      banner.textContent =
        'The server wants an access token. Open the dashboard link that facexstream printed ' +
        `(it ends in ?token=…). Retrying in ${seconds} s.`;
    } else {
      label.textContent = `Offline · retry in ${seconds} s`;
      banner.textContent =
        `Connection to the server lost; reconnecting in ${seconds} s ` +
        `(attempt ${state.attempt}). The last frames stay on screen.`;
    }
  };
  tick();
  banner.hidden = false;
  banner.dataset.kind = state.kind;
  countdown = window.setInterval(tick, 1000);
}

function renderModel(): void {
  if (!model) return;
  modelBox.replaceChildren(
    el('span', { class: 'model-name' }, model.name),
    el('span', { class: 'device' }, model.device),
  );

  const supported = new Set(model.tasks);
  toggles.replaceChildren(
    ...SWITCHES.filter((s) => !s.task || supported.has(s.task)).map((s) => {
      const input = el('input', { type: 'checkbox', 'data-overlay': s.key });
      input.checked = overlays[s.key];
      input.addEventListener('change', () => {
        overlays[s.key] = input.checked;
        localStorage.setItem(OVERLAYS_KEY, JSON.stringify(overlays));
        if (s.key === 'parsing') subscribe();
        for (const tile of tiles.values()) tile.redraw();
      });
      return el('label', { class: 'toggle' }, input, el('span', {}, s.label));
    }),
  );
}

function loadOverlays(): OverlaySet {
  const defaults: OverlaySet = { boxes: true, landmarks: true, pose: true, parsing: true };
  try {
    const saved = JSON.parse(localStorage.getItem(OVERLAYS_KEY) ?? '{}') as Partial<OverlaySet>;
    return { ...defaults, ...saved };
  } catch {
    return defaults;
  }
}

/** Reads the token from the URL (then hides it) or from this tab's storage. */
function takeToken(): string | undefined {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}
