/**
 * Smoothing of one tracked face's results over time, so that overlays do not shake and
 * labels do not flicker:
 * - landmarks and head pose: One-Euro filters (Casiez et al., CHI 2012), low-pass filters
 *   whose cutoff rises with speed. A still face gets heavy smoothing, a moving one little
 *   lag, which a fixed moving average or EMA cannot give at once. Time-based, so uneven
 *   frame spacing (fps caps, drops, tasks on intervals) is handled.
 * - age, gender, race: an exponential moving average of the probabilities per update, and a
 *   label that changes only when another label leads the held one by a margin for several
 *   updates in a row (hysteresis).
 * - attributes: the same average, with `present` switching only outside a band around 0.5.
 * - visibility: the same average. Parsing masks are passed through.
 */
import { ErrorCodes, FxsError } from '../common/errors.js';
import type { AttributeResult, ClassResult, HeadPose } from './record.js';
import type { Box } from './types.js';

/** Options of a One-Euro filter. */
export interface OneEuroOptions {
  /** Cutoff frequency when still, in hertz; lower smooths more. */
  minCutoffHz: number;
  /** Cutoff increase per unit of speed; higher lags less when moving. */
  beta: number;
  /** Cutoff of the speed estimate, in hertz. */
  derivativeCutoffHz: number;
}

/** Options of the probability average and label hysteresis of age, gender and race. */
export interface LabelOptions {
  /** Weight of a new update in the probability average, in (0, 1]; 1 = no averaging. */
  alpha: number;
  /** How far (in probability) a challenger must lead the held label to count. */
  margin: number;
  /** Consecutive leading updates before the label switches to the challenger. */
  confirmUpdates: number;
}

/** Options of the attribute average and the `present` hysteresis. */
export interface AttributeOptions {
  /** Weight of a new update in the probability average, in (0, 1]. */
  alpha: number;
  /** `present` turns on above 0.5 + band and off below 0.5 - band. */
  band: number;
}

/** Per-part smoothing options; `false` turns a part's smoothing off. */
export interface SmoothingOptions {
  /**
   * Landmarks; speed is measured in face sizes per second (the box's larger side), so one
   * setting suits near and far faces. Default { minCutoffHz: 1, beta: 8, derivativeCutoffHz: 1 }.
   */
  landmarks?: Partial<OneEuroOptions> | false;
  /**
   * Head pose; speed in degrees per second.
   * Default { minCutoffHz: 1, beta: 0.05, derivativeCutoffHz: 1 }.
   */
  headPose?: Partial<OneEuroOptions> | false;
  /** Age, gender and race. Default { alpha: 0.4, margin: 0.1, confirmUpdates: 2 }. */
  labels?: Partial<LabelOptions> | false;
  /** Attributes. Default { alpha: 0.4, band: 0.1 }. */
  attributes?: Partial<AttributeOptions> | false;
  /** Visibility. Default { alpha: 0.5 }. */
  visibility?: { alpha?: number } | false;
}

/** Default smoothing of every part. */
export const DEFAULT_SMOOTHING: Readonly<{
  landmarks: Readonly<OneEuroOptions>;
  headPose: Readonly<OneEuroOptions>;
  labels: Readonly<LabelOptions>;
  attributes: Readonly<AttributeOptions>;
  visibility: Readonly<{ alpha: number }>;
}> = Object.freeze({
  landmarks: Object.freeze({ minCutoffHz: 1, beta: 8, derivativeCutoffHz: 1 }),
  headPose: Object.freeze({ minCutoffHz: 1, beta: 0.05, derivativeCutoffHz: 1 }),
  labels: Object.freeze({ alpha: 0.4, margin: 0.1, confirmUpdates: 2 }),
  attributes: Object.freeze({ alpha: 0.4, band: 0.1 }),
  visibility: Object.freeze({ alpha: 0.5 }),
});

type ClassTask = 'age' | 'gender' | 'race';

/**
 * The smoothing state of one track. Each method takes the task's newest raw result and
 * returns a new smoothed result, never one of its inputs. State is fixed in size per track.
 */
export class FaceSmoother {
  private readonly landmarkFilter: OneEuro | undefined;
  private readonly poseFilter: OneEuro | undefined;
  private readonly labelOptions: LabelOptions | undefined;
  private readonly labelState = new Map<ClassTask, LabelState>();
  private readonly attributeFilter: AttributeSmoother | undefined;
  private readonly visibilityFilter: Ema | undefined;

  /** @throws FxsError FXS_ERR_CONFIG_INVALID when an option is out of range. */
  constructor(options: SmoothingOptions = {}) {
    const o = resolveOptions(options);
    this.landmarkFilter = o.landmarks ? new OneEuro(o.landmarks) : undefined;
    this.poseFilter = o.headPose ? new OneEuro(o.headPose) : undefined;
    this.labelOptions = o.labels || undefined;
    this.attributeFilter = o.attributes ? new AttributeSmoother(o.attributes) : undefined;
    this.visibilityFilter = o.visibility ? new Ema(o.visibility.alpha) : undefined;
  }

  /**
   * @param points landmarks in frame pixels.
   * @param box the face box the points belong to; its size sets the speed scale.
   * @param timestampMs the frame time the points were computed at.
   */
  landmarks(
    points: ReadonlyArray<readonly [number, number]>,
    box: Box,
    timestampMs: number,
  ): Array<[number, number]> {
    const flat = points.flatMap(([x, y]) => [x, y]);
    const scale = Math.max(1, box.width, box.height);
    const out = this.landmarkFilter ? this.landmarkFilter.filter(flat, timestampMs, scale) : flat;
    return points.map((_, i) => [out[2 * i], out[2 * i + 1]]);
  }

  /** @param pose head pose in degrees; angles are unwrapped so ±180° crossings stay smooth. */
  headPose(pose: HeadPose, timestampMs: number): HeadPose {
    if (!this.poseFilter) return { ...pose };

    const raw = [pose.pitch, pose.yaw, pose.roll];
    const previous = this.poseFilter.last();
    const unwrapped = previous
      ? raw.map((a, i) => previous[i] + wrapDegrees(a - previous[i]))
      : raw;
    const [pitch, yaw, roll] = this.poseFilter.filter(unwrapped, timestampMs, 1).map(wrapDegrees);
    return { pitch, yaw, roll };
  }

  /**
   * Averages the probabilities and holds the label until another one leads it by `margin`
   * for `confirmUpdates` updates in a row. The result's `probs` are the averaged ones and
   * `score` is the held label's averaged probability, which may briefly not be the largest.
   */
  classify(task: ClassTask, result: ClassResult): ClassResult {
    if (!this.labelOptions) return { ...result, probs: { ...result.probs } };

    const labels = Object.keys(result.probs);
    const raw = labels.map((l) => result.probs[l]);
    let state = this.labelState.get(task);
    if (!state || !sameLabels(state.labels, labels)) {
      state = new LabelState(labels, raw);
      this.labelState.set(task, state);
    } else {
      state.update(raw, this.labelOptions);
    }
    return state.result();
  }

  /** Averages attribute probabilities; `present` follows them with hysteresis around 0.5. */
  attributes(list: readonly AttributeResult[]): AttributeResult[] {
    if (!this.attributeFilter) return list.map((a) => ({ ...a }));
    return this.attributeFilter.filter(list);
  }

  /** Averages landmark visibility probabilities. */
  visibility(probs: readonly number[]): number[] {
    return this.visibilityFilter ? this.visibilityFilter.filter(probs) : [...probs];
  }
}

interface ResolvedOptions {
  landmarks: OneEuroOptions | false;
  headPose: OneEuroOptions | false;
  labels: LabelOptions | false;
  attributes: AttributeOptions | false;
  visibility: { alpha: number } | false;
}

function resolveOptions(options: SmoothingOptions): ResolvedOptions {
  const d = DEFAULT_SMOOTHING;
  const pick = <T extends object>(given: Partial<T> | false | undefined, defaults: T) =>
    given === false ? false : ({ ...defaults, ...given } as T);
  const o: ResolvedOptions = {
    landmarks: pick(options.landmarks, d.landmarks),
    headPose: pick(options.headPose, d.headPose),
    labels: pick(options.labels, d.labels),
    attributes: pick(options.attributes, d.attributes),
    visibility: pick(options.visibility, d.visibility),
  };

  for (const part of ['landmarks', 'headPose'] as const) {
    const f = o[part];
    if (!f) continue;
    const { minCutoffHz, beta, derivativeCutoffHz } = f;
    check(`${part}.minCutoffHz`, minCutoffHz, minCutoffHz > 0, 'a number above 0');
    check(`${part}.beta`, beta, beta >= 0, 'a number >= 0');
    const dOk = derivativeCutoffHz > 0;
    check(`${part}.derivativeCutoffHz`, derivativeCutoffHz, dOk, 'a number above 0');
  }
  for (const part of ['labels', 'attributes', 'visibility'] as const) {
    const alpha = o[part] && o[part].alpha;
    if (alpha === false) continue;
    check(`${part}.alpha`, alpha, alpha > 0 && alpha <= 1, 'a number in (0, 1]');
  }
  if (o.labels) {
    const { margin, confirmUpdates } = o.labels;
    check('labels.margin', margin, margin >= 0 && margin < 1, 'a number in [0, 1)');
    const whole = Number.isInteger(confirmUpdates) && confirmUpdates >= 1;
    check('labels.confirmUpdates', confirmUpdates, whole, 'a whole number >= 1');
  }
  if (o.attributes) {
    const { band } = o.attributes;
    check('attributes.band', band, band >= 0 && band < 0.5, 'a number in [0, 0.5)');
  }
  return o;
}

function check(key: string, value: unknown, ok: boolean, expected: string): void {
  if (ok) return;
  throw new FxsError(
    ErrorCodes.CONFIG_INVALID,
    `smoothing option ${key} is ${String(value)}; use ${expected}`,
  );
}

/** Maps an angle in degrees into (-180, 180]. */
function wrapDegrees(a: number): number {
  const r = a - 360 * Math.floor((a + 180) / 360);
  return r === -180 ? 180 : r;
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/**
 * A One-Euro filter over a vector of values sharing one time base. Each value is filtered
 * on its own; `scale` divides the speed before it raises the cutoff.
 */
class OneEuro {
  private values: Float64Array | undefined;
  private speeds: Float64Array | undefined;
  private timeMs = 0;

  constructor(private readonly options: OneEuroOptions) {}

  last(): number[] | undefined {
    return this.values && Array.from(this.values);
  }

  filter(raw: readonly number[], timestampMs: number, scale: number): number[] {
    const dt = (timestampMs - this.timeMs) / 1000;
    // A first sample, a change of shape, or time going backwards (restart) starts afresh.
    if (!this.values || !this.speeds || this.values.length !== raw.length || dt <= 0) {
      this.values = Float64Array.from(raw);
      this.speeds = new Float64Array(raw.length);
      this.timeMs = timestampMs;
      return [...raw];
    }

    const { minCutoffHz, beta, derivativeCutoffHz } = this.options;
    const alphaSpeed = smoothingFactor(derivativeCutoffHz, dt);
    for (let i = 0; i < raw.length; i++) {
      const speed = (raw[i] - this.values[i]) / dt;
      this.speeds[i] += alphaSpeed * (speed - this.speeds[i]);
      const cutoff = minCutoffHz + (beta * Math.abs(this.speeds[i])) / scale;
      this.values[i] += smoothingFactor(cutoff, dt) * (raw[i] - this.values[i]);
    }
    this.timeMs = timestampMs;
    return Array.from(this.values);
  }
}

/** Weight of a new sample in a first-order low-pass filter with this cutoff and time step. */
function smoothingFactor(cutoffHz: number, dtSeconds: number): number {
  const tau = 1 / (2 * Math.PI * cutoffHz);
  return 1 / (1 + tau / dtSeconds);
}

/** Exponential moving average of a vector, per update. */
class Ema {
  private values: number[] | undefined;

  constructor(private readonly alpha: number) {}

  filter(raw: readonly number[]): number[] {
    if (!this.values || this.values.length !== raw.length) {
      this.values = [...raw];
    } else {
      const values = this.values;
      raw.forEach((r, i) => (values[i] += this.alpha * (r - values[i])));
    }
    return [...this.values];
  }
}

/** Averaged probabilities of one classification task and the label held for it. */
class LabelState {
  private readonly probs: number[];
  private held: number;
  private challenger = -1;
  private streak = 0;

  constructor(
    readonly labels: readonly string[],
    raw: readonly number[],
  ) {
    this.probs = [...raw];
    this.held = argmax(this.probs);
  }

  update(raw: readonly number[], o: LabelOptions): void {
    raw.forEach((r, i) => (this.probs[i] += o.alpha * (r - this.probs[i])));

    const best = argmax(this.probs);
    const leads = best !== this.held && this.probs[best] - this.probs[this.held] > o.margin;
    if (!leads) {
      this.challenger = -1;
      this.streak = 0;
      return;
    }

    this.streak = best === this.challenger ? this.streak + 1 : 1;
    this.challenger = best;
    if (this.streak >= o.confirmUpdates) {
      this.held = best;
      this.challenger = -1;
      this.streak = 0;
    }
  }

  result(): ClassResult {
    const probs: Record<string, number> = {};
    this.labels.forEach((l, i) => (probs[l] = this.probs[i]));
    return { label: this.labels[this.held], score: this.probs[this.held], probs };
  }
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Averaged attribute probabilities with a `present` flag per attribute that resists flicker. */
class AttributeSmoother {
  private names: string[] = [];
  private probs: number[] = [];
  private present: boolean[] = [];

  constructor(private readonly options: AttributeOptions) {}

  filter(list: readonly AttributeResult[]): AttributeResult[] {
    const names = list.map((a) => a.name);
    if (!sameLabels(this.names, names)) {
      this.names = names;
      this.probs = list.map((a) => a.prob);
      this.present = list.map((a) => a.prob >= 0.5);
    } else {
      const { alpha, band } = this.options;
      list.forEach((a, i) => {
        this.probs[i] += alpha * (a.prob - this.probs[i]);
        if (this.probs[i] > 0.5 + band) this.present[i] = true;
        else if (this.probs[i] < 0.5 - band) this.present[i] = false;
      });
    }
    return this.names.map((name, i) => ({ name, prob: this.probs[i], present: this.present[i] }));
  }
}
