import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../domain/errors';
import { JSON_DEPTH_RULE, MAX_JSON_DEPTH, tooDeepAt } from '../domain/submission';

/** `['tasks', 3, 'requiredCapabilities', 1]` → `tasks[3].requiredCapabilities[1]`. */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(body)' : out;
}

export function issuesOf(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    // A strict object reports unknown keys as one issue on the object; name each key instead.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: fieldPath([...issue.path, k], prefix), message: 'unknown field' }));
    }
    return [{ field: fieldPath(issue.path, prefix), message: issue.message }];
  });
}

/** Parses with a zod schema or throws a ValidationError naming every failing field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(issuesOf(result.error, prefix));
  return result.data;
}

/**
 * Rejects a submitted body whose fields nest deeper than MAX_JSON_DEPTH, naming the field. Run before anything
 * recursive reads the body (the idempotency hash, zod): a body nested thousands of levels deep would overflow
 * the stack there. The body's own object is one level, so its fields may be MAX_JSON_DEPTH deep.
 */
export function assertShallow(body: unknown, prefix = ''): void {
  const path = tooDeepAt(body, MAX_JSON_DEPTH + 1);
  if (path !== null)
    throw new ValidationError([{ field: fieldPath(path.slice(0, 1), prefix), message: JSON_DEPTH_RULE }]);
}
