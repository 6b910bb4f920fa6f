/**
 * The rule a handler's result meets before it is stored, shared by every way a result arrives (a worker process
 * now, the HTTP agent protocol later): it must be JSON as it is, at most MAX_JSON_DEPTH deep, and at most the
 * configured number of bytes once serialised. A result that fails is a permanent failure of the attempt:
 * running the handler again returns the same kind of value.
 *
 * What JSON cannot hold as it is, and what is chosen for each:
 * - `undefined` as the whole result is `null` (the handler returned nothing); an object property that is
 *   `undefined` is left out, as JSON.stringify does (an absent key reads back as `undefined`).
 * - refused, because JSON.stringify would throw or change the value without a word: BigInt (throws), a cycle
 *   (throws), a function or a symbol (dropped, or `null` in an array), NaN and ±Infinity (`null`), `undefined`
 *   in an array (`null`), Map and Set (`{}`).
 * - a value with `toJSON` (a Date, a Buffer) is taken as what its `toJSON` returns, as JSON.stringify does.
 */
import { MAX_JSON_DEPTH } from './submission';

export const RESULT_ERROR_KINDS = {
  unserialisable: 'unserialisable_result',
  tooLarge: 'result_too_large',
} as const;

export type SerialisedResult =
  | { ok: true; value: unknown; json: string; bytes: number }
  | { ok: false; kind: (typeof RESULT_ERROR_KINDS)[keyof typeof RESULT_ERROR_KINDS]; message: string };

/** `$.items[3].name`: where in the result a problem is. */
function pathText(path: readonly (string | number)[]): string {
  let out = '$';
  for (const seg of path)
    out +=
      typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  return out;
}

/** Why JSON cannot hold `value` as it is (null when it can, its children aside). */
function problemOf(value: unknown, inArray: boolean): string | null {
  switch (typeof value) {
    case 'bigint':
      return 'is a BigInt, which JSON cannot hold (return it as a string or a number)';
    case 'function':
      return 'is a function, which JSON cannot hold';
    case 'symbol':
      return 'is a symbol, which JSON cannot hold';
    case 'number':
      return Number.isFinite(value) ? null : `is ${String(value)}, which JSON cannot hold (it would become null)`;
    case 'undefined':
      return inArray ? 'is undefined inside an array (JSON would turn it into null)' : null;
    case 'object':
      if (value instanceof Map) return 'is a Map (JSON would store it as {}; return an object or an array)';
      if (value instanceof Set) return 'is a Set (JSON would store it as {}; return an array)';
      return null;
    default:
      return null;
  }
}

interface Frame {
  /** The value as JSON sees it (after its toJSON). */
  value: object;
  key: string | number | null;
  parent: Frame | null;
  depth: number;
}

function pathOf(frame: Frame | null, last?: string | number): (string | number)[] {
  const path: (string | number)[] = last === undefined ? [] : [last];
  for (let f = frame; f && f.key !== null; f = f.parent) path.unshift(f.key);
  return path;
}

function asJson(value: unknown, key: string | number): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON(key: string): unknown }).toJSON(String(key));
  }
  return value;
}

/**
 * Whether `root` is plainly JSON: scalars JSON keeps, arrays and objects without toJSON, Map or Set, at most
 * `maxDepth` deep (a cycle is too deep). One pass that keeps no paths and allocates nothing per value, for the
 * common case; anything else goes through the walk below, which says where and why.
 */
function plainlyJson(root: unknown, maxDepth: number): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'string' || typeof v === 'boolean' || v === null || Number.isFinite(v)) continue;
      return false;
    }
    if (depth >= maxDepth || v instanceof Map || v instanceof Set) return false;
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === 'string' || typeof child === 'boolean' || child === null) continue;
        if (typeof child === 'number' && Number.isFinite(child)) continue;
        if (child === undefined) return false;
        values.push(child);
        depths.push(depth + 1);
      }
    } else {
      for (const key of Object.keys(v)) {
        const child: unknown = (v as Record<string, unknown>)[key];
        if (typeof child === 'string' || typeof child === 'boolean' || child === null || child === undefined) continue;
        if (typeof child === 'number' && Number.isFinite(child)) continue;
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return true;
}

/**
 * Null when `value` is JSON as it is, otherwise why not. Iterative (an explicit stack), so a result of any
 * depth is walked safely; a cycle is a value met again among its own containers (a value shared by two
 * branches is not one: JSON writes it twice).
 */
function unserialisableReason(value: unknown, maxDepth: number, subject: string): string | null {
  const where = (path: (string | number)[]) => (path.length === 0 ? subject : `${subject} at ${pathText(path)}`);
  const root = asJson(value, '');
  const rootProblem = problemOf(root, false);
  if (rootProblem) return `${where([])} ${rootProblem}`;
  if (root === null || typeof root !== 'object') return null;
  const stack: Frame[] = [{ value: root, key: null, parent: null, depth: 1 }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    for (let a = frame.parent; a; a = a.parent) {
      if (a.value === frame.value) {
        return `${where(pathOf(frame))} refers back to an object that contains it (a circular structure)`;
      }
    }
    if (frame.depth > maxDepth) {
      return `${where(pathOf(frame))} is nested deeper than ${maxDepth} levels (the maximum depth)`;
    }
    const v = frame.value;
    const inArray = Array.isArray(v);
    const keys: readonly (string | number)[] | null = inArray ? null : Object.keys(v);
    const count = inArray ? v.length : keys!.length;
    for (let i = 0; i < count; i++) {
      const key = inArray ? i : keys![i]!;
      const raw: unknown = (v as Record<string | number, unknown>)[key];
      const t = typeof raw;
      if (t === 'string' || t === 'boolean' || raw === null || (t === 'number' && Number.isFinite(raw))) continue;
      const child = asJson(raw, key);
      const problem = problemOf(child, inArray);
      if (problem) return `${where(pathOf(frame, key))} ${problem}`;
      if (child !== null && typeof child === 'object') {
        stack.push({ value: child, key, parent: frame, depth: frame.depth + 1 });
      }
    }
  }
  return null;
}

export interface SerialiseOptions {
  maxDepth?: number;
  /** What the messages call the value. */
  subject?: string;
  /** The setting the byte limit comes from, named in the message. */
  limitName?: string;
}

/**
 * Serialises a handler's result and measures it against `maxBytes` (UTF-8 bytes of its JSON). `value` is what to
 * store (`null` for `undefined`). Never throws: a toJSON that throws makes the value unserialisable too.
 */
export function serialiseResult(result: unknown, maxBytes: number, options: SerialiseOptions = {}): SerialisedResult {
  const { maxDepth = MAX_JSON_DEPTH, subject = 'the result', limitName = 'TASKFLEET_RESULT_MAX_BYTES' } = options;
  const value = result === undefined ? null : result;
  const unserialisable = (why: string): SerialisedResult => ({
    ok: false,
    kind: RESULT_ERROR_KINDS.unserialisable,
    message: `${subject} could not be serialised: ${why}`,
  });
  let json: string;
  try {
    const reason = plainlyJson(value, maxDepth) ? null : unserialisableReason(value, maxDepth, subject);
    if (reason !== null) return unserialisable(reason);
    json = JSON.stringify(value);
  } catch (err) {
    // Past what the walk checks: a toJSON that throws, or a string longer than V8 allows (about 512 MiB).
    return unserialisable(
      err instanceof RangeError ? 'it is larger than the longest string this process can build' : String(err),
    );
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) {
    return {
      ok: false,
      kind: RESULT_ERROR_KINDS.tooLarge,
      message: `${subject} is ${bytes} bytes of JSON, over the limit of ${maxBytes} bytes (${limitName})`,
    };
  }
  return { ok: true, value, json, bytes };
}

/**
 * Longest error message kept with a task, in characters. A handler's error text is stored with the task, in its
 * events and in telemetry; a message built from a whole input or output (a huge stack, a dump) would be stored
 * three times over.
 */
export const MAX_ERROR_MESSAGE_CHARS = 8 * 1024;

/** `message`, cut to MAX_ERROR_MESSAGE_CHARS with a note saying how long it was. */
export function boundedErrorMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE_CHARS) return message;
  return `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (cut from ${message.length} characters)`;
}
