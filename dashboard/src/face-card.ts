/**
 * The card of one tracked face: age bin, gender and race with confidence bars, head pose,
 * present attributes and landmark visibility. Rows appear only for tasks the model has and
 * the face carries.
 */
import type { TaskName } from '../../src/model/contract.js';
import type { ClassResult, FaceRecord } from '../../src/pipeline/record.js';
import { el, humanLabel, percent, trackColor } from './format.js';

/** Most attribute chips shown; the rest are counted. */
const MAX_ATTRIBUTES = 8;

/** Visibility probability above which a landmark counts as visible. */
const VISIBLE = 0.5;

/** Builds the card of `face`. */
export function faceCard(face: FaceRecord, tasks: ReadonlySet<TaskName>): HTMLElement {
  const card = el(
    'article',
    { class: 'face', 'data-track': String(face.id) },
    el(
      'header',
      {},
      el('span', { class: 'swatch', 'aria-hidden': 'true' }),
      el('strong', {}, `#${face.id}`),
      el('span', { class: 'muted', title: 'Detector confidence' }, percent(face.score)),
    ),
  );
  card.style.setProperty('--track', trackColor(face.id));

  if (tasks.has('age') && face.age) {
    card.append(
      row('Age', el('span', { class: 'value age' }, face.age.label), percent(face.age.score)),
    );
  }
  if (tasks.has('gender') && face.gender) card.append(bars('Gender', face.gender, 1));
  if (tasks.has('race') && face.race) card.append(bars('Race', face.race, 2));
  if (tasks.has('headPose') && face.headPose) {
    const { yaw, pitch, roll } = face.headPose;
    const angle = (name: string, value: number) =>
      el('span', { class: 'angle' }, el('span', { class: 'muted' }, name), deg(value));
    card.append(
      row(
        'Pose',
        el(
          'span',
          { class: 'pose' },
          angle('yaw', yaw),
          angle('pitch', pitch),
          angle('roll', roll),
        ),
      ),
    );
  }
  if (tasks.has('visibility') && face.visibility) card.append(visibility(face.visibility));
  if (tasks.has('attributes') && face.attributes) card.append(attributes(face));
  return card;
}

function row(label: string, value: Node, extra?: string): HTMLElement {
  return el(
    'div',
    { class: 'row' },
    el('span', { class: 'label' }, label),
    value,
    extra && el('span', { class: 'muted' }, extra),
  );
}

/** The top `count` classes of `result` as labelled bars. */
function bars(label: string, result: ClassResult, count: number): HTMLElement {
  const top = Object.entries(result.probs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count);
  const list = el('div', { class: 'bars' });
  for (const [name, p] of top) {
    const fill = el('span', { class: 'fill' });
    fill.style.width = percent(p);
    list.append(
      el(
        'div',
        { class: 'bar-row' },
        el('span', { class: 'bar-label' }, humanLabel(name)),
        el('span', { class: 'bar' }, fill),
        el('span', { class: 'muted num' }, percent(p)),
      ),
    );
  }
  return el('div', { class: 'row stacked' }, el('span', { class: 'label' }, label), list);
}

function visibility(probs: number[]): HTMLElement {
  const visible = probs.filter((p) => p >= VISIBLE).length;
  const fill = el('span', { class: 'fill' });
  fill.style.width = percent(visible / Math.max(1, probs.length));
  return row(
    'Visible',
    el('span', { class: 'bar wide', title: 'Landmarks predicted visible' }, fill),
    `${visible}/${probs.length}`,
  );
}

function attributes(face: FaceRecord): HTMLElement {
  const present = (face.attributes ?? []).filter((a) => a.present).sort((a, b) => b.prob - a.prob);
  const chips = el('div', { class: 'chips' });
  for (const attribute of present.slice(0, MAX_ATTRIBUTES)) {
    chips.append(
      el('span', { class: 'chip', title: percent(attribute.prob) }, humanLabel(attribute.name)),
    );
  }
  if (present.length > MAX_ATTRIBUTES)
    chips.append(el('span', { class: 'chip more' }, `+${present.length - MAX_ATTRIBUTES}`));
  if (present.length === 0) chips.append(el('span', { class: 'muted' }, 'none'));
  return el('div', { class: 'row stacked' }, el('span', { class: 'label' }, 'Attributes'), chips);
}

function deg(value: number): string {
  return `${Math.round(value)}°`;
}
