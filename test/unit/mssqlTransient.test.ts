/**
 * Transient-fault handling of the mssql adapter: which driver errors count as transient, which may be
 * retried for which operations, the backoff, and the SqlClient retrying each attempt on a request of its own
 * (a connection the pool hands out afresh). Errors are built in the shapes mssql 12 and tedious 19 produce.
 */
import net from 'node:net';
import { loadConfig } from '../../src/config/config';
import { ConflictError, UnavailableError } from '../../src/domain/errors';
import { SqlClient } from '../../src/store/mssql/client';
import { openPool } from '../../src/store/mssql/open';
import { classifySqlError, isRetryable, SqlStoreError, TRANSIENT_ERROR_NUMBERS } from '../../src/store/mssql/errors';
import { withTransientRetry, type RetryPolicy } from '../../src/store/mssql/retry';
import { param, statement } from '../../src/store/mssql/statement';

/** mssql's RequestError for a server error: number on the error, the earlier ones in precedingErrors. */
function serverError(number: number, preceding: number[] = []): Error {
  const err = Object.assign(new Error(`server error ${number}`), {
    name: 'RequestError',
    code: 'EREQUEST',
    number,
    precedingErrors: preceding.map((n) => Object.assign(new Error(`e${n}`), { name: 'RequestError', number: n })),
  });
  return err;
}

/** A socket failure during a request: mssql wraps tedious' ConnectionError (ESOCKET) in a RequestError. */
function droppedDuringRequest(): Error {
  const info = Object.assign(new Error('read ECONNRESET'), { name: 'ConnectionError', code: 'ESOCKET' });
  return Object.assign(new Error('read ECONNRESET'), {
    name: 'RequestError',
    code: 'EREQUEST',
    originalError: { info },
  });
}

/**
 * A request on a silent connection: tedious times it out, sends a cancel that is never acknowledged, and after
 * its cancel timeout destroys the connection and fails the request with a ConnectionError, which mssql wraps.
 */
const silentConnection = () =>
  Object.assign(new Error('Failed to cancel request in 5000ms'), {
    name: 'RequestError',
    code: 'ETIMEOUT',
    originalError: Object.assign(new Error('Failed to cancel request in 5000ms'), {
      name: 'ConnectionError',
      code: 'ETIMEOUT',
    }),
  });

const requestTimeout = () =>
  Object.assign(new Error('Timeout: Request failed to complete in 30000ms'), {
    name: 'RequestError',
    code: 'ETIMEOUT',
  });
const connectFailed = (code: string) => Object.assign(new Error(`connect ${code}`), { name: 'ConnectionError', code });
const loginFailed = (message: string, isTransient?: boolean) =>
  Object.assign(new Error(message), {
    name: 'ConnectionError',
    code: 'ELOGIN',
    originalError: Object.assign(new Error(message), { code: 'ELOGIN', isTransient }),
  });

describe('classifySqlError', () => {
  it.each([...TRANSIENT_ERROR_NUMBERS])('SQL Server error %i is transient, and nothing was applied', (n) => {
    expect(classifySqlError(serverError(n))).toEqual({ transient: true, outcome: 'not_applied', numbers: [n] });
  });

  it('finds a transient number among the preceding errors (a deadlock reported before a later message)', () => {
    expect(classifySqlError(serverError(3998, [1205]))).toMatchObject({ transient: true, outcome: 'not_applied' });
  });

  it.each([
    [2627, 'a primary key violation'],
    [547, 'a constraint'],
    [208, 'a missing table (schema not deployed)'],
    [229, 'a permission'],
    [8152, 'a truncation'],
  ])('SQL Server error %i (%s) is not transient', (n) => {
    expect(classifySqlError(serverError(n)).transient).toBe(false);
  });

  it('a connection dropped or timed out mid-request is transient, with its outcome unknown', () => {
    expect(classifySqlError(droppedDuringRequest())).toMatchObject({ transient: true, outcome: 'unknown' });
    expect(classifySqlError(requestTimeout())).toMatchObject({ transient: true, outcome: 'unknown' });
    expect(classifySqlError(silentConnection())).toMatchObject({ transient: true, outcome: 'unknown' });
  });

  it('a connection that could not be opened is transient, and nothing was sent', () => {
    for (const code of ['ESOCKET', 'ETIMEOUT', 'ECONNREFUSED']) {
      expect(classifySqlError(connectFailed(code))).toMatchObject({ transient: true, outcome: 'not_applied' });
    }
    const poolTimeout = Object.assign(new Error('Failed to acquire a connection from the pool'), {
      name: 'TimeoutError',
    });
    expect(classifySqlError(poolTimeout)).toMatchObject({ transient: true, outcome: 'not_applied' });
  });

  it('a login failure is transient only when tedious or its text says so', () => {
    expect(classifySqlError(loginFailed("Database 'tf' on server 'x' is not currently available.")).transient).toBe(
      true,
    );
    expect(classifySqlError(loginFailed('Login failed.', true)).transient).toBe(true);
    expect(classifySqlError(loginFailed("Login failed for user 'tf'.")).transient).toBe(false);
  });

  it('looks inside AggregateError and cause chains', () => {
    const aggregate = new AggregateError([new Error('x'), serverError(40613)]);
    expect(classifySqlError(aggregate).transient).toBe(true);
    expect(classifySqlError(new Error('outer', { cause: serverError(40501) })).transient).toBe(true);
    expect(classifySqlError(new Error('plain')).transient).toBe(false);
  });

  it('retries a fault of unknown outcome only for idempotent operations', () => {
    const unknown = classifySqlError(droppedDuringRequest());
    expect(isRetryable(unknown, true)).toBe(true);
    expect(isRetryable(unknown, false)).toBe(false);
    const refused = classifySqlError(serverError(1205));
    expect(isRetryable(refused, false)).toBe(true);
  });
});

describe('withTransientRetry', () => {
  const policy: RetryPolicy = { attempts: 4, baseMs: 100, maxMs: 1_000 };

  function failing(errors: Error[], result = 'ok') {
    let calls = 0;
    const op = jest.fn(async () => {
      const err = errors[calls++];
      if (err) throw err;
      return result;
    });
    return op;
  }

  function run(op: () => Promise<string>, idempotent: boolean, random = () => 0.5) {
    const delays: number[] = [];
    const promise = withTransientRetry('TEST_STATEMENT', op, {
      idempotent,
      policy,
      hooks: { sleep: async (ms) => delays.push(ms), random },
    });
    return { promise, delays };
  }

  it('retries transient faults with exponential backoff and equal jitter, then succeeds', async () => {
    const op = failing([serverError(40613), serverError(1205), connectFailed('ESOCKET')]);
    const { promise, delays } = run(op, false);
    await expect(promise).resolves.toBe('ok');
    expect(op).toHaveBeenCalledTimes(4);
    // base × 2^(n-1), capped at maxMs, then half fixed + random × half (random = 0.5).
    expect(delays).toEqual([75, 150, 300]);
  });

  it('keeps each delay within [half, whole] of its exponential step, capped', async () => {
    const low = run(failing([serverError(40501), serverError(40501), serverError(40501)]), false, () => 0);
    await low.promise;
    expect(low.delays).toEqual([50, 100, 200]);
    const capped = withTransientRetry('S', failing(Array(9).fill(serverError(40501))), {
      idempotent: true,
      policy: { attempts: 10, baseMs: 100, maxMs: 300 },
      hooks: { sleep: async () => undefined, random: () => 1 },
    });
    await expect(capped).resolves.toBe('ok');
  });

  it('gives up after the attempts with UnavailableError (503), keeping the cause', async () => {
    const cause = serverError(40613);
    const { promise } = run(failing(Array(4).fill(cause)), true);
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(503);
    expect((err as Error).message).toMatch(/TEST_STATEMENT: still failing after 4 attempts/);
    expect((err as Error).cause).toBe(cause);
  });

  it('never repeats a non-idempotent operation whose outcome is unknown', async () => {
    const op = failing([droppedDuringRequest()]);
    const { promise } = run(op, false);
    await expect(promise).rejects.toThrow(/outcome unknown, and the operation is not safe to repeat/);
    await expect(promise).rejects.toBeInstanceOf(UnavailableError);
    expect(op).toHaveBeenCalledTimes(1);
  });

  it('repeats an idempotent one', async () => {
    const op = failing([droppedDuringRequest(), requestTimeout()]);
    await expect(run(op, true).promise).resolves.toBe('ok');
    expect(op).toHaveBeenCalledTimes(3);
  });

  it('surfaces anything else at once as SqlStoreError, with the error numbers', async () => {
    const op = failing([serverError(2627)]);
    const err = await run(op, true).promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqlStoreError);
    expect(err).toMatchObject({ statement: 'TEST_STATEMENT', numbers: [2627] });
    expect(op).toHaveBeenCalledTimes(1);
  });

  it('lets the caller map an error first (a unique violation to ConflictError)', async () => {
    const promise = withTransientRetry('S', failing([serverError(2601)]), {
      idempotent: false,
      policy,
      mapError: () => new ConflictError('taken'),
    });
    await expect(promise).rejects.toBeInstanceOf(ConflictError);
  });
});

describe('SqlClient', () => {
  const STMT = statement('TEST_SELECT', {
    idempotent: true,
    params: { id: param.varchar(64), agentId: param.nvarchar(450), at: param.time, payload: param.json, n: param.int },
    text: 'SELECT id FROM [$(Schema)].[tasks] WHERE id = @id;',
  });
  const WRITE = statement('TEST_WRITE', { idempotent: false, params: {}, text: 'UPDATE [$(Schema)].[t] SET x = 1;' });

  /** A pool whose requests record what they are given and answer from `answers` in turn. */
  function fakePool(answers: Array<Error | unknown[][]>) {
    const requests: Array<{ inputs: Array<[string, unknown, unknown]>; text?: string }> = [];
    const pool = {
      close: jest.fn(async () => undefined),
      request: jest.fn(() => {
        const rec: { inputs: Array<[string, unknown, unknown]>; text?: string } = { inputs: [] };
        requests.push(rec);
        return {
          input(name: string, type: unknown, value: unknown) {
            rec.inputs.push([name, type, value]);
            return this;
          },
          async query(text: string) {
            rec.text = text;
            const answer = answers.shift();
            if (answer instanceof Error) throw answer;
            return { recordsets: answer ?? [] };
          },
        };
      }),
    };
    return { pool, requests };
  }
  const policy = { attempts: 3, baseMs: 0, maxMs: 0 };
  const hooks = { sleep: async () => undefined };

  it('binds typed parameters, times as Dates, and the schema into the text', async () => {
    const { pool, requests } = fakePool([[[{ id: 'a' }]]]);
    const client = new SqlClient(pool as never, 'tf_x', policy, hooks);
    const row = await client.one(STMT, { id: 'a', agentId: 'ü-agent', at: 1_700_000_000_123, payload: '{}', n: null });
    expect(row).toEqual({ id: 'a' });
    expect(requests[0]?.text).toBe('SELECT id FROM [tf_x].[tasks] WHERE id = @id;');
    const inputs = Object.fromEntries((requests[0]?.inputs ?? []).map(([n, t, v]) => [n, { t, v }]));
    expect(inputs.id?.t).toMatchObject({ length: 64 });
    expect(inputs.agentId?.t).toMatchObject({ length: 450 });
    expect(inputs.at?.v).toEqual(new Date(1_700_000_000_123));
    expect(inputs.at?.t).toMatchObject({ scale: 3 });
    expect(inputs.n?.v).toBeNull();
  });

  it('widens a varchar parameter for an over-long value rather than failing the request', async () => {
    const { pool, requests } = fakePool([[[]]]);
    const client = new SqlClient(pool as never, 'tf', policy, hooks);
    await client.all(STMT, { id: 'x'.repeat(100), agentId: 'a', at: 0, payload: 'null', n: 1 });
    expect(requests[0]?.inputs.find(([n]) => n === 'id')?.[1]).toMatchObject({ length: 100 });
  });

  it('runs each retry on a request (and so a pooled connection) of its own', async () => {
    const { pool, requests } = fakePool([droppedDuringRequest(), serverError(40613), [[{ id: 'b' }]]]);
    const client = new SqlClient(pool as never, 'tf', policy, hooks);
    await expect(client.one(STMT, { id: 'b', agentId: 'a', at: 0, payload: '1', n: 1 })).resolves.toEqual({ id: 'b' });
    expect(pool.request).toHaveBeenCalledTimes(3);
    expect(requests.every((r) => r.inputs.length === 5)).toBe(true);
  });

  it('retries a read whose connection went silent on a fresh request, and never a write', async () => {
    const read = fakePool([silentConnection(), [[{ id: 'c' }]]]);
    const reader = new SqlClient(read.pool as never, 'tf', policy, hooks);
    await expect(reader.one(STMT, { id: 'c', agentId: 'a', at: 0, payload: '1', n: 1 })).resolves.toEqual({ id: 'c' });
    expect(read.pool.request).toHaveBeenCalledTimes(2);
    const write = fakePool([silentConnection(), [[]]]);
    const writer = new SqlClient(write.pool as never, 'tf', policy, hooks);
    await expect(writer.run(WRITE, {})).rejects.toThrow(/outcome unknown.*Failed to cancel request/);
    expect(write.pool.request).toHaveBeenCalledTimes(1);
  });

  it('does not retry a write whose connection dropped', async () => {
    const { pool } = fakePool([droppedDuringRequest(), [[]]]);
    const client = new SqlClient(pool as never, 'tf', policy, hooks);
    await expect(client.run(WRITE, {})).rejects.toBeInstanceOf(UnavailableError);
    expect(pool.request).toHaveBeenCalledTimes(1);
  });

  it('refuses a missing parameter, and everything once closed (closing twice is fine)', async () => {
    const { pool } = fakePool([]);
    const client = new SqlClient(pool as never, 'tf', policy, hooks);
    await expect(client.run(STMT, { id: 'a' } as never)).rejects.toThrow(/TEST_SELECT: no value for @agentId/);
    await client.close();
    await client.close();
    expect(pool.close).toHaveBeenCalledTimes(1);
    await expect(client.run(WRITE, {})).rejects.toThrow(/the store is closed/);
  });
});

describe('a server that accepts connections and never answers (a silent TCP listener)', () => {
  let server: net.Server;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails to connect within the connect timeout as a transient 503, each attempt on a new connection', async () => {
    const { port } = server.address() as net.AddressInfo;
    const config = loadConfig({
      TASKFLEET_STORE: 'mssql',
      TASKFLEET_MSSQL_SERVER: '127.0.0.1',
      TASKFLEET_MSSQL_PORT: String(port),
      TASKFLEET_MSSQL_DATABASE: 'db',
      TASKFLEET_MSSQL_USER: 'u',
      TASKFLEET_MSSQL_PASSWORD: 'not-a-real-password',
      TASKFLEET_MSSQL_ENCRYPT: 'false',
      TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS: '1000',
      TASKFLEET_MSSQL_RETRY_ATTEMPTS: '2',
      TASKFLEET_MSSQL_RETRY_BASE_MS: '1',
      TASKFLEET_MSSQL_RETRY_MAX_MS: '2',
    });
    const retried: unknown[] = [];
    const err = await openPool(config, { hooks: { onRetry: (info) => retried.push(info.error) } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(503);
    expect((err as Error).message).toMatch(
      /CONNECT: still failing after 2 attempts: Failed to connect to .* in 1000ms/,
    );
    expect(classifySqlError((err as Error).cause)).toMatchObject({ transient: true, outcome: 'not_applied' });
    expect(retried).toHaveLength(1);
    expect(sockets.length).toBeGreaterThanOrEqual(2); // the retry opened a connection of its own
    expect((err as Error).message).not.toContain('not-a-real-password');
  });
});
