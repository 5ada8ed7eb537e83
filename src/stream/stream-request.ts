/**
 * The runtime schema of a StreamRequest, shared by `POST /api/streams` and the `cameras`
 * list of the config file, so both accept and refuse exactly the same things.
 */
import { z } from 'zod';
import { TASKS } from '../model/contract.js';
import type { StreamRequest } from './engine.js';

/** Validates one stream request; unknown keys are refused so typos do not pass silently. */
export const StreamRequestSchema = z.strictObject({
  url: z.string().trim().min(1, 'must not be empty').max(4096),
  name: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(100)
    .regex(/^[\w .@()+-]+$/u, 'use letters, digits, spaces and . _ - @ ( ) + only')
    .optional(),
  detector: z.enum(['short', 'full']).optional(),
  tasks: z.array(z.enum(TASKS)).min(1, 'name at least one task').optional(),
  intervals: z.partialRecord(z.enum(TASKS), z.int().min(1).max(10_000)).optional(),
  rtspTransport: z.enum(['tcp', 'udp']).optional(),
  fps: z.number().positive().max(240).optional(),
  loop: z.boolean().optional(),
}) satisfies z.ZodType<StreamRequest>;
