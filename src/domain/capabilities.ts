/**
 * Capabilities and routes.
 *
 * A capability is a short lowercase token. A task's required set is normalised (trimmed, lowercased,
 * sorted, deduplicated). A task is routed by its *route*: its type plus its normalised capability set.
 * Each route is one BullMQ queue, so a worker that has the type's handler and covers the set listens on
 * it, and no worker ever receives a task it cannot run (BullMQ workers cannot filter jobs).
 */
import { ValidationError, type FieldIssue } from './errors';

export const TOKEN_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const TOKEN_RULE = 'a token of 1 to 64 characters: a-z, 0-9, ".", "_" or "-", starting with a letter or digit';
export const MAX_CAPABILITIES = 32;

export function isToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** Normalises a capability list; throws a ValidationError naming each bad element under `field`. */
export function normaliseCapabilities(input: readonly string[], field = 'requiredCapabilities'): string[] {
  const issues: FieldIssue[] = [];
  const out = new Set<string>();
  input.forEach((raw, i) => {
    const token = raw.trim().toLowerCase();
    if (!isToken(token)) issues.push({ field: `${field}[${i}]`, message: `"${raw}" is not ${TOKEN_RULE}` });
    else out.add(token);
  });
  if (out.size > MAX_CAPABILITIES) issues.push({ field, message: `at most ${MAX_CAPABILITIES} capabilities` });
  if (issues.length > 0) throw new ValidationError(issues);
  return [...out].sort();
}

/** Parses `a,b , c` from a CLI flag or environment variable. */
export function parseCapabilityList(text: string, field: string): string[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return normaliseCapabilities(parts, field);
}

/** True when `have` is a superset of `need`. */
export function covers(have: ReadonlySet<string> | readonly string[], need: readonly string[]): boolean {
  const set = have instanceof Set ? have : new Set(have as readonly string[]);
  return need.every((c) => set.has(c));
}

export interface Route {
  type: string;
  capabilities: string[];
}

/** The queue name of a route: `<type>~<cap>+<cap>`. Tokens never contain `~` or `+`, so it is unambiguous. */
export function routeKey(type: string, capabilities: readonly string[]): string {
  return `${type}~${capabilities.join('+')}`;
}

export function parseRouteKey(key: string): Route {
  const sep = key.indexOf('~');
  if (sep < 0) throw new Error(`not a route key: ${key}`);
  const rest = key.slice(sep + 1);
  return { type: key.slice(0, sep), capabilities: rest === '' ? [] : rest.split('+') };
}

/** Whether a worker with these handler types and capabilities consumes this route. */
export function workerServesRoute(
  worker: { types: readonly string[]; capabilities: readonly string[] },
  route: Route,
): boolean {
  return worker.types.includes(route.type) && covers(worker.capabilities, route.capabilities);
}
