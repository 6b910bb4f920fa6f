/**
 * The security errors. Each answers with its own header (`WWW-Authenticate`, `Retry-After`) and counts into
 * the SecurityCounters, whoever raised it; `supervisor/problem.ts` writes the answer.
 */
import { TaskfleetError, type Problem } from '../domain/errors';
import type { Role } from '../domain/security';

/**
 * No usable key: missing, malformed, unknown or revoked. One message for every case, so the answer tells
 * a caller nothing about which keys exist.
 */
export class UnauthorizedError extends TaskfleetError {
  constructor() {
    super('a valid API key is required: Authorization: Bearer <key>', 401, 'unauthorized');
  }

  override problem(): Problem {
    return { ...super.problem(), headers: { 'WWW-Authenticate': 'Bearer' }, counts: 'unauthorized' };
  }
}

/** The caller is authenticated but may not do this (its role, or not the owner of the task). */
export class ForbiddenError extends TaskfleetError {
  constructor(
    message: string,
    /** The roles that may do it, when the role is what is missing. */
    readonly requiredRoles?: readonly Role[],
  ) {
    super(message, 403, 'forbidden');
  }

  override problem(): Problem {
    return {
      ...super.problem(),
      ...(this.requiredRoles ? { extra: { requiredRoles: this.requiredRoles } } : {}),
      counts: 'forbidden',
    };
  }
}

/** The key's token bucket is empty. */
export class RateLimitedError extends TaskfleetError {
  constructor(
    /** Whole seconds until a request can succeed again (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(`too many requests for this API key: retry after ${retryAfterSeconds} s`, 429, 'rate_limited');
  }

  override problem(): Problem {
    return {
      ...super.problem(),
      extra: { retryAfterSeconds: this.retryAfterSeconds },
      headers: { 'Retry-After': String(this.retryAfterSeconds) },
      counts: 'rateLimited',
    };
  }
}
