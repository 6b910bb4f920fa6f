/**
 * The one place that reads the driver's errors. Every failure of the mssql adapter leaves it as one of:
 * - UnavailableError (503): a transient fault (Azure SQL's transient error numbers, a deadlock, throttling, a
 *   connection that could not be opened, was reset or timed out) that outlasted the retries, or whose outcome
 *   is unknown for an operation that is not safe to repeat;
 * - StoreFullError (503 with Retry-After): the database is full (1105, 40544); nothing was applied, and no
 *   retry helps until someone frees space or raises the size limit;
 * - ConflictError (409): a unique key violated where the port promises a conflict (API keys);
 * - SqlStoreError (500): anything else (a permission, a missing schema, a constraint): a bug or a
 *   misconfiguration, never retried.
 */

import { StoreFullError } from '../../domain/errors';

/** Azure SQL transient errors (Microsoft's list), throttling, and the deadlock victim. */
export const TRANSIENT_ERROR_NUMBERS: ReadonlySet<number> = new Set([
  615, // unable to find database (during a reconfiguration)
  926, // database cannot be opened: marked suspect (during a reconfiguration)
  1205, // deadlock victim: the transaction was rolled back
  4060, // cannot open the database requested by the login
  4221, // login to a read-secondary failed while it was being recreated
  10928, // resource limit (workers, sessions) reached
  10929, // resource limit: minimum guarantee not available
  40197, // the service hit an error processing the request (failover, upgrade)
  40501, // the service is busy
  40613, // the database is not currently available
  49918, // not enough resources to process the request
  49919, // too many create or update operations in progress
  49920, // too many operations in progress
]);

/** "Database is full": 1105 (no room in a filegroup, the disk or its size cap), 40544 (Azure SQL's size quota). */
export const STORE_FULL_ERROR_NUMBERS: ReadonlySet<number> = new Set([1105, 40544]);

/** The StoreFullError a driver error means, or null when it is not "database is full". */
export function storeFullError(statement: string, err: unknown): StoreFullError | null {
  const numbers = classifySqlError(err).numbers.filter((n) => STORE_FULL_ERROR_NUMBERS.has(n));
  if (numbers.length === 0) return null;
  return new StoreFullError(
    `mssql: ${statement}: the database is full (SQL Server error ${numbers[0]}): ${messageOf(err)}`,
    {
      cause: err,
    },
  );
}

/** Driver and socket codes of a connection that failed, dropped or timed out. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ESOCKET',
  'ETIMEOUT',
  'ECONNCLOSED',
  'ECLOSE',
  'ENOCONN',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Transient login failures tedious reports only by their text (it keeps the number to itself). */
const TRANSIENT_LOGIN_TEXT =
  /not currently available|is busy|resource limit|too many (create|update )?operations|cannot process the request|try again|(?:^|\D)(4060|40197|40501|40613|10928|10929|4221|49918|49919|49920)(?:\D|$)/i;

export interface Classification {
  transient: boolean;
  /**
   * `not_applied`: the server refused or rolled back the request, or it was never sent (no connection): safe to
   * repeat whatever it was. `unknown`: the connection dropped or timed out after the request left; it may have
   * committed: repeat it only when it is idempotent.
   */
  outcome: 'not_applied' | 'unknown';
  /** Every SQL Server error number found on the error and its causes. */
  numbers: number[];
}

interface DriverError {
  name?: unknown;
  code?: unknown;
  number?: unknown;
  isTransient?: unknown;
  originalError?: unknown;
  info?: unknown;
  cause?: unknown;
  precedingErrors?: unknown;
  errors?: unknown;
  message?: unknown;
}

/** The error and every error it wraps (mssql's originalError and precedingErrors, AggregateError, cause). */
function chain(err: unknown, seen = new Set<unknown>()): DriverError[] {
  if (err === null || typeof err !== 'object' || seen.has(err)) return [];
  seen.add(err);
  const e = err as DriverError;
  const preceding: unknown[] = Array.isArray(e.precedingErrors) ? (e.precedingErrors as unknown[]) : [];
  const nested: unknown[] = [e.originalError, e.info, e.cause, ...preceding];
  if (Array.isArray(e.errors)) nested.push(...(e.errors as unknown[]));
  return [e, ...nested.flatMap((n) => chain(n, seen))];
}

export function classifySqlError(err: unknown): Classification {
  const all = chain(err);
  const numbers = all.flatMap((e) => (typeof e.number === 'number' ? [e.number] : []));
  const codes = all.flatMap((e) => (typeof e.code === 'string' ? [e.code] : []));
  const top = all[0];
  // A ConnectionError (or the pool's acquire timeout) at the top: no connection, so nothing was sent.
  const neverSent =
    top?.name === 'ConnectionError' ||
    top?.name === 'TimeoutError' ||
    codes.includes('ELOGIN') ||
    codes.includes('ECONNREFUSED');
  if (numbers.some((n) => TRANSIENT_ERROR_NUMBERS.has(n))) {
    return { transient: true, outcome: 'not_applied', numbers };
  }
  const login = all.find((e) => e.code === 'ELOGIN');
  if (login) {
    const transient =
      all.some((e) => e.isTransient === true) ||
      (typeof login.message === 'string' && TRANSIENT_LOGIN_TEXT.test(login.message));
    return { transient, outcome: 'not_applied', numbers };
  }
  if (top?.name === 'TimeoutError') return { transient: true, outcome: 'not_applied', numbers };
  if (codes.some((c) => TRANSIENT_CODES.has(c))) {
    return { transient: true, outcome: neverSent ? 'not_applied' : 'unknown', numbers };
  }
  return { transient: false, outcome: 'not_applied', numbers };
}

/** Whether a failed operation may run again: a transient fault, and either nothing was applied or a repeat is harmless. */
export function isRetryable(c: Classification, idempotent: boolean): boolean {
  return c.transient && (c.outcome === 'not_applied' || idempotent);
}

/** SQL Server answered with an error that no retry can fix. Never shown to an API caller (a 500 with a fixed text). */
export class SqlStoreError extends Error {
  constructor(
    readonly statement: string,
    readonly numbers: readonly number[],
    options: { cause: unknown },
  ) {
    super(
      `mssql: ${statement} failed${numbers.length > 0 ? ` (SQL Server error ${numbers.join(', ')})` : ''}: ${messageOf(options.cause)}`,
      options,
    );
    this.name = 'SqlStoreError';
  }
}

/** The driver's message, first line only. */
export function messageOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0] ?? m;
}

/** A unique key violation (primary key 2627, unique index 2601). */
export function isUniqueViolation(err: unknown): boolean {
  return classifySqlError(err).numbers.some((n) => n === 2627 || n === 2601);
}
