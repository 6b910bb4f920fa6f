/**
 * What a caller may submit, validated before anything is written. Unknown fields are rejected, so a typo
 * (`priorty`) is an error rather than a silently ignored option.
 */
import { z } from 'zod';
import { MAX_CAPABILITIES, TOKEN_PATTERN, TOKEN_RULE } from './capabilities';
import { PRIORITIES } from './task';

const token = z.string().regex(TOKEN_PATTERN, TOKEN_RULE);

/**
 * How deeply a payload (or a result) may nest arrays and objects: `{"a":[1]}` is 2 levels deep. Real payloads
 * stay well under 20. The code that reads JSON back (zod's validation, `JSON.stringify` when a task is
 * answered, the idempotency hash) recurses once per level and overflows the stack after a few thousand
 * levels, and SQL Server's JSON functions refuse more than 128; 64 leaves room under both for the envelope a
 * payload travels in.
 */
export const MAX_JSON_DEPTH = 64;

export const JSON_DEPTH_RULE = `nested deeper than ${MAX_JSON_DEPTH} levels (the maximum depth)`;

/**
 * The path to the first array or object nested deeper than `maxDepth` levels in `value`, or null. Walks with
 * an explicit stack, never recursion, so that any depth is measured safely before recursive code meets it.
 */
export function tooDeepAt(value: unknown, maxDepth: number): (string | number)[] | null {
  return deeperThan(value, maxDepth) ? pathTooDeep(value, maxDepth) : null;
}

/** Whether `value` nests deeper than `maxDepth`, in a pass that keeps no paths (almost every body passes). */
function deeperThan(value: unknown, maxDepth: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return true;
    // Index and key loops rather than entries: this runs over whole request bodies (up to 32 MiB).
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key of Object.keys(v)) {
        const child: unknown = (v as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

function pathTooDeep(value: unknown, maxDepth: number): (string | number)[] | null {
  interface Node {
    value: unknown;
    depth: number;
    key: string | number | null;
    parent: Node | null;
  }
  const stack: Node[] = [{ value, depth: 0, key: null, parent: null }];
  for (let node = stack.pop(); node; node = stack.pop()) {
    if (node.value === null || typeof node.value !== 'object') continue;
    const depth = node.depth + 1;
    if (depth > maxDepth) {
      const path: (string | number)[] = [];
      for (let n: Node | null = node; n && n.key !== null; n = n.parent) path.unshift(n.key);
      return path;
    }
    const v = node.value;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth, key: i, parent: node });
      }
    } else {
      for (const key of Object.keys(v)) {
        const child: unknown = (v as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth, key, parent: node });
      }
    }
  }
  return null;
}

/** Any JSON value at most MAX_JSON_DEPTH deep, measured before zod's own (recursive) JSON check runs. */
const boundedJson = z
  .unknown()
  .check(z.refine((v) => tooDeepAt(v, MAX_JSON_DEPTH) === null, { message: JSON_DEPTH_RULE, abort: true }))
  .pipe(z.json());

/** Capabilities are trimmed and lowercased before the token check, then sorted and deduplicated. */
const capability = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(token);

export const taskSubmissionSchema = z.strictObject({
  type: token,
  payload: boundedJson.optional(),
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
  /** Where the task's terminal events are posted, signed with the submitting key's secret (README "Webhooks"). */
  callbackUrl: z.string().max(2048, 'at most 2048 characters').optional(),
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
