/**
 * The one error map. Every failure that reaches an API caller is one of these; `supervisor/problem.ts`
 * turns them into application/problem+json, and nothing else decides an HTTP status.
 */

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. `tasks[3].requiredCapabilities[1]`. */
  field: string;
  message: string;
}

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
}

/** Input failed validation; nothing was written. */
export class ValidationError extends TaskfleetError {
  constructor(
    readonly issues: FieldIssue[],
    message = `invalid request: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
  ) {
    super(message, 400, 'validation_failed');
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
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 503, 'unavailable', options);
  }
}

/** Configuration is invalid; the process must not start. */
export class ConfigError extends TaskfleetError {
  constructor(message: string) {
    super(message, 500, 'config_invalid');
  }
}
