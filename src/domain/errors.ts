/**
 * The one error map. Every failure that reaches an API caller is one of these, and each class says how the API
 * answers it (`problem()`); `supervisor/problem.ts` only writes that answer as application/problem+json, so
 * nothing else decides an HTTP status.
 */

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. `tasks[3].requiredCapabilities[1]`. */
  field: string;
  message: string;
}

/** The refusals the supervisor counts and shows in its stats (`SecurityCounters`). */
export type CountedRefusal = 'unauthorized' | 'forbidden' | 'rateLimited';

/** An RFC 9457 answer: `type` and `title` are derived from `code`. */
export interface Problem {
  status: number;
  code: string;
  /** What the caller reads. A 5xx answer never carries the error's own text, which may hold SQL or driver text. */
  detail: string;
  /** Members beside type, title, status and detail, in this order. */
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
  counts?: CountedRefusal;
}

/** What every 5xx answer says unless its class says more: never the error's own text. */
export const INTERNAL_DETAIL = 'an internal error occurred; it has been logged';

export class TaskfleetError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** How the API answers this error; subclasses add their fields, headers and counter. */
  problem(): Problem {
    return { status: this.status, code: this.code, detail: this.status >= 500 ? INTERNAL_DETAIL : this.message };
  }
}

/** Input failed validation; nothing was written. */
export class ValidationError extends TaskfleetError {
  constructor(
    readonly issues: FieldIssue[],
    message = `invalid request: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
  ) {
    super(message, 400, 'validation_failed');
  }

  override problem(): Problem {
    return { ...super.problem(), extra: { errors: this.issues } };
  }
}

/** A payload or body is over its configured limit; nothing was written. */
export class PayloadTooLargeError extends TaskfleetError {
  constructor(
    readonly field: string,
    readonly limitBytes: number,
  ) {
    super(`${field} is larger than the limit of ${limitBytes} bytes`, 413, 'payload_too_large');
  }

  override problem(): Problem {
    return { ...super.problem(), extra: { errors: [{ field: this.field, message: this.message }] } };
  }
}

export class NotFoundError extends TaskfleetError {
  constructor(what: string) {
    super(`${what} not found`, 404, 'not_found');
  }
}

/** The request conflicts with stored state (an idempotency key reused with another body, a bad transition). */
export class ConflictError extends TaskfleetError {
  constructor(message: string) {
    super(message, 409, 'conflict');
  }
}

/** A dependency (SQL, Redis) is unreachable; the operation did not take effect. */
export class UnavailableError extends TaskfleetError {
  constructor(message: string, options?: { cause?: unknown }, code = 'unavailable') {
    super(message, 503, code, options);
  }

  override problem(): Problem {
    return { ...super.problem(), detail: 'a dependency (SQL or Redis) is unavailable; try again later' };
  }
}

/** Seconds a caller is told to wait (Retry-After) when the store is out of space: freeing space takes a person. */
export const STORE_FULL_RETRY_AFTER_SECONDS = 30;

/**
 * The store is out of space (SQLite's SQLITE_FULL, Azure SQL's 1105 or 40544): the write was not applied. An
 * UnavailableError, so whatever retries those retries this too; it clears once space is freed.
 */
export class StoreFullError extends UnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'store_full');
  }

  override problem(): Problem {
    return {
      ...super.problem(),
      detail:
        'the store is out of space: nothing was written. Free space on the database disk (or raise the ' +
        'database size limit), then try again',
      headers: { 'Retry-After': String(STORE_FULL_RETRY_AFTER_SECONDS) },
    };
  }
}

/** Whether an error (or what it wraps) says the store is out of space; tested by shape, errors cross realms. */
export function isStoreFull(err: unknown): boolean {
  return err instanceof StoreFullError || (err as { name?: unknown } | null)?.name === 'StoreFullError';
}

/** Configuration is invalid; the process must not start. */
export class ConfigError extends TaskfleetError {
  constructor(message: string) {
    super(message, 500, 'config_invalid');
  }
}
