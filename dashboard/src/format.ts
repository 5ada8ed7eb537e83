/** Small display helpers shared by the dashboard's views. */

/** Distinct colours readable on dark video; a track keeps its colour for life. */
const TRACK_COLORS = [
  '#4fd1c5',
  '#f6ad55',
  '#b794f4',
  '#68d391',
  '#f687b3',
  '#63b3ed',
  '#fc8181',
  '#faf089',
  '#9ae6b4',
  '#fbb6ce',
];

/** The colour of track `id`. */
export function trackColor(id: number): string {
  return TRACK_COLORS[Math.abs(id) % TRACK_COLORS.length];
}

/** 0.734 → "73%". */
export function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

/** "Wearing_Earrings" → "Wearing earrings"; "5_o_Clock_Shadow" → "5 o'clock shadow". */
export function humanLabel(label: string): string {
  const text = label.replace(/_o_/g, " o'").replace(/_/g, ' ').toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A number with one decimal below 100, none above. */
export function short(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

/** Builds an element: `el('div', { class: 'x' }, 'text', child)`. Text is never parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Array<Node | string | undefined | false>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}
