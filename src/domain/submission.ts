/**
 * What a caller may submit, validated before anything is written. Unknown fields are rejected, so a typo
 * (`priorty`) is an error rather than a silently ignored option.
 */
import { z } from 'zod';
import { MAX_CAPABILITIES, TOKEN_PATTERN, TOKEN_RULE } from './capabilities';
import { PRIORITIES } from './task';

const token = z.string().regex(TOKEN_PATTERN, TOKEN_RULE);

/** Capabilities are trimmed and lowercased before the token check, then sorted and deduplicated. */
const capability = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(token);

export const taskSubmissionSchema = z.strictObject({
  type: token,
  payload: z.json().optional(),
  requiredCapabilities: z
    .array(capability)
    .optional()
    .transform((caps) => [...new Set(caps ?? [])].sort())
    .pipe(z.array(z.string()).max(MAX_CAPABILITIES, `at most ${MAX_CAPABILITIES} distinct capabilities`)),
  priority: z.enum(PRIORITIES).default('normal'),
  maxAttempts: z.int().min(1).max(100).optional(),
  timeoutSeconds: z.number().positive().max(86_400).optional(),
  delaySeconds: z.number().min(0, 'must not be negative').max(31_536_000).optional(),
  deadline: z.iso.datetime({ offset: true }).optional(),
  /** Payload and result stored encrypted, shown only to the claiming worker and a single read (README). */
  sensitive: z.boolean().optional(),
});

export type TaskSubmission = z.output<typeof taskSubmissionSchema>;

export const MAX_BATCH = 1000;

export const batchSubmissionSchema = z.strictObject({
  tasks: z.array(z.unknown()).min(1, 'at least one task').max(MAX_BATCH, `at most ${MAX_BATCH} tasks`),
});

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** Stable JSON (sorted keys) so the same body always hashes the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}
