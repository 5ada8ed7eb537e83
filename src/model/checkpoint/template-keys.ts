import { z } from 'zod';

import { ErrorCodes, FxsError } from '../../common/errors.js';
import type { ModelProto } from '../onnx-schema.js';

/** metadata_props key of the key list a weight-free template carries (tools/export_onnx.py). */
export const TEMPLATE_METADATA_KEY = 'facexstream.template';

/**
 * One state-dict key a template expects from a checkpoint. `initializer`: a float32
 * initializer of that name whose data the import fills; `constant`: an integer buffer the
 * graph keeps (fixed by the architecture); `unused`: read by no output. Keys that are not
 * `initializer` are only checked for presence and shape.
 */
export interface TemplateKey {
  key: string;
  shape: number[];
  use: 'initializer' | 'constant' | 'unused';
}

const templateSchema = z.object({
  schema: z.literal(1),
  keys: z
    .array(
      z.object({
        key: z.string().min(1),
        shape: z.array(z.number().int().nonnegative()),
        use: z.enum(['initializer', 'constant', 'unused']),
      }),
    )
    .min(1),
});

/**
 * Returns the state-dict keys a template expects, in checkpoint order.
 *
 * @param source the template's file name, for error messages
 * @throws FxsError FXS_ERR_MODEL_INVALID when the model is not a facexstream template
 */
export function readTemplateKeys(model: ModelProto, source: string): TemplateKey[] {
  const entry = model.metadataProps?.find((p) => p.key === TEMPLATE_METADATA_KEY);
  if (!entry?.value) throw notTemplate(source, 'it has no key list');

  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.value);
  } catch {
    throw notTemplate(source, 'its key list is not JSON');
  }

  const result = templateSchema.safeParse(parsed);
  if (!result.success) throw notTemplate(source, 'its key list is malformed');
  return result.data.keys;
}

function notTemplate(source: string, why: string): FxsError {
  return new FxsError(
    ErrorCodes.MODEL_INVALID,
    `'${source}' is not a facexstream model template (${why}); pass a template written by ` +
      'tools/export_onnx.py --template, such as models/templates/facexformer-swin-b.onnx',
  );
}
