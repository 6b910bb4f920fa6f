/**
 * "The store is out of space": Azure SQL's "database is full" errors (1105, 40544) become StoreFullError, which
 * is not retried and which the API answers 503 with Retry-After and a detail a person can act on.
 */
import { StoreFullError, UnavailableError } from '../../src/domain/errors';
import { storeFullError, STORE_FULL_ERROR_NUMBERS } from '../../src/store/mssql/errors';
import { withTransientRetry } from '../../src/store/mssql/retry';

/** mssql's RequestError for a server error, as mssql 12 builds it. */
function serverError(number: number, message = `server error ${number}`): Error {
  return Object.assign(new Error(message), { name: 'RequestError', code: 'EREQUEST', number });
}

const POLICY = { attempts: 4, baseMs: 1, maxMs: 1 };

describe('mssql: database is full', () => {
  it.each([
    [
      1105,
      "Could not allocate space for object 'taskfleet.tasks' in database 'tf' because the 'PRIMARY' filegroup is full.",
    ],
    [
      40544,
      "The database 'tf' has reached its size quota. Partition or delete data, drop indexes, or consult the documentation.",
    ],
  ])('error %i is StoreFullError, raised at once without retries', async (number, message) => {
    let calls = 0;
    const run = withTransientRetry(
      'INSERT_TASK',
      async () => {
        calls++;
        throw serverError(number, message);
      },
      { idempotent: true, policy: POLICY },
    );
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreFullError);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(`SQL Server error ${number}`);
    expect(calls).toBe(1);
  });

  it('finds the number among the errors mssql wraps (precedingErrors, originalError)', () => {
    const wrapped = Object.assign(new Error('The statement has been terminated.'), {
      name: 'RequestError',
      number: 3621,
      precedingErrors: [serverError(1105)],
    });
    expect(storeFullError('CLAIM_TASK', wrapped)).toBeInstanceOf(StoreFullError);
    expect(storeFullError('CLAIM_TASK', { originalError: { info: serverError(40544) } })).toBeInstanceOf(
      StoreFullError,
    );
  });

  it('leaves every other error alone', () => {
    expect(STORE_FULL_ERROR_NUMBERS).toEqual(new Set([1105, 40544]));
    for (const n of [1205, 40501, 2627, 9002, 547]) expect(storeFullError('X', serverError(n))).toBeNull();
    expect(storeFullError('X', new Error('disk full'))).toBeNull();
  });
});

describe('StoreFullError', () => {
  it('answers 503 with Retry-After and says what to do, never the driver text', () => {
    const problem = new StoreFullError('sqlite: database or disk is full').problem();
    expect(problem.status).toBe(503);
    expect(problem.code).toBe('store_full');
    expect(problem.headers).toEqual({ 'Retry-After': '30' });
    expect(problem.detail).toMatch(/^the store is out of space/);
    expect(problem.detail).toMatch(/free space/i);
    expect(problem.detail).not.toContain('sqlite');
  });
});
