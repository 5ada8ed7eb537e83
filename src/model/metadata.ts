import { z } from 'zod';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { TASKS, type ModelMetadata } from './contract.js';

/** Runtime schema of the `facexstream` metadata entry (see ModelMetadata in contract.ts). */
const modelMetadataSchema = z.object({
  schema: z.literal(1),
  name: z.string().min(1),
  tasks: z.array(z.enum(TASKS)).min(1),
  labels: z.object({
    attributes: z.array(z.string()),
    age: z.array(z.string()),
    gender: z.array(z.string()),
    race: z.array(z.string()),
    parsing: z.array(z.string()),
  }),
  inputSize: z.number().int().positive(),
  mean: z.array(z.number()).length(3),
  std: z.array(z.number().positive()).length(3),
  cropMargin: z.number().min(0),
  parameters: z.number().int().nonnegative(),
  provenance: z.object({
    source: z.string(),
    license: z.string(),
    notes: z.string().optional(),
    sha256: z.string().optional(),
  }),
});

/**
 * Checks that `value` is valid ModelMetadata and returns it typed.
 *
 * @param value the parsed JSON (or a metadata object about to be written)
 * @param source file name used in the error message
 * @throws FxsError FXS_ERR_MODEL_INVALID naming the first bad field
 */
export function validateModelMetadata(value: unknown, source: string): ModelMetadata {
  const result = modelMetadataSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'metadata';
    throw new FxsError(
      ErrorCodes.MODEL_INVALID,
      `'${source}' has invalid facexstream metadata (${where}: ${issue?.message}); ` +
        're-export or re-import the model with this version of facexstream',
    );
  }

  return result.data as ModelMetadata;
}

/**
 * Parses the JSON text of a `facexstream` metadata entry.
 *
 * @throws FxsError FXS_ERR_MODEL_INVALID when the text is not JSON or not valid metadata
 */
export function parseModelMetadata(json: string, source: string): ModelMetadata {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new FxsError(
      ErrorCodes.MODEL_INVALID,
      `'${source}' has facexstream metadata that is not JSON; re-export or re-import the model`,
      { cause: err },
    );
  }

  return validateModelMetadata(value, source);
}
