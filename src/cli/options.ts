/** Parsers for CLI option values: each rejects bad input with a one-line FxsError. */
import { ErrorCodes, FxsError } from '../common/errors.js';

/** A positive number option such as `--fps 5`. */
export function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new FxsError(ErrorCodes.CONFIG_INVALID, `${flag} '${value}' is not a positive number`);
    }
    return n;
  };
}

/** A whole-number option such as `--threads 2`. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      throw new FxsError(ErrorCodes.CONFIG_INVALID, `${flag} '${value}' is not a whole number >= 1`);
    }
    return n;
  };
}

/** A comma-separated list such as `--tasks landmarks,age`. */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `--interval age=30,attributes=10` into a task-to-frames map (checked by the scheduler). */
export function intervalList(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of commaList(value)) {
    const [task, frames] = item.split('=');
    const n = Number(frames);
    if (!task || !Number.isInteger(n) || n < 1) {
      throw new FxsError(
        ErrorCodes.CONFIG_INVALID,
        `--interval '${item}' is not task=frames (e.g. age=30)`,
      );
    }
    out[task] = n;
  }
  return out;
}
