/**
 * The client's errors. `TaskfleetProblem` is an answer the server gave (RFC 9457 problem+json, or any non-2xx
 * status); `TaskfleetUnreachable` is no answer at all (refused, reset, DNS), so a caller can tell "the server
 * said no" from "nobody answered" and retry only the second.
 */

export interface FieldError {
  field: string;
  message: string;
}

export class TaskfleetProblem extends Error {
  override readonly name = 'TaskfleetProblem';
  /** `urn:taskfleet:problem:<code>`, or `about:blank` when the answer was not problem+json. */
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The last segment of `type`, e.g. `not_found`, `validation_failed`. */
  readonly code: string;
  /** Per-field messages of a 400. */
  readonly errors: FieldError[] | undefined;
  /** Seconds from `Retry-After` (429, 503), or undefined. */
  readonly retryAfterSeconds: number | undefined;
  /** The whole problem object, with any extension members. */
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>, retryAfter: string | null) {
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const type = str(body.type) ?? 'about:blank';
    const detail = str(body.detail) ?? str(body.title) ?? `HTTP ${status}`;
    super(`${status} ${detail}`);
    this.type = type;
    this.title = str(body.title) ?? '';
    this.status = status;
    this.detail = detail;
    this.code = type.startsWith('urn:taskfleet:problem:') ? type.slice('urn:taskfleet:problem:'.length) : 'http_error';
    this.errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : undefined;
    this.retryAfterSeconds = parseRetryAfter(retryAfter);
    this.body = body;
  }
}

export class TaskfleetUnreachable extends Error {
  override readonly name = 'TaskfleetUnreachable';
  constructor(
    readonly baseUrl: string,
    cause: unknown,
  ) {
    super(`no taskfleet supervisor answers at ${baseUrl}`, { cause });
  }
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
