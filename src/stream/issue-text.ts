/**
 * Turns zod validation issues into the short phrases our errors use: a dotted key path with
 * array indexes (`cameras[1].url`) and a lower-case reason (`required`, `unknown key "fsp"`).
 */
import type { z } from 'zod';

/** Parse option for `safeParse`: says "required" for missing values instead of a type error. */
export const REQUIRED_ERROR_MAP = {
  error: (issue: { code: string; input?: unknown }) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined,
};

/** `['cameras', 1, 'url']` becomes `cameras[1].url`; an empty path becomes `(root)`. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text === '' ? '(root)' : text;
}

/** The reason of one issue, lower-case and without zod's "Invalid input:" preamble. */
export function issueReason(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  if (issue.code === 'invalid_value' && issue.values.length > 0) {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }

  const message = issue.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/**
 * The issue's path, pointing at an unknown key itself rather than at the object holding it,
 * so a caller can find the key's line in a source file.
 */
export function issuePath(issue: z.core.$ZodIssue): PropertyKey[] {
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    return [...issue.path, issue.keys[0]];
  }
  return [...issue.path];
}

/** One line naming the first issue: `tasks[0]: expected one of "parsing", ...`. */
export function describeFirstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  return `${formatIssuePath(issue.path)}: ${issueReason(issue)}`;
}
