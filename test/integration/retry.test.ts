/**
 * Retry on demand and the bulk actions over real HTTP, with a real worker process: a dead task retried through
 * the API runs again and succeeds, its attempt counting on; who may retry what; two retries at once retry once;
 * the bulk retry and cancel answer the counts they wrote, honour the filter and the limit, and dispatch.
 *
 * The `fail` handler fails every attempt up to `times` (by attempt number), so a task with `times` =
 * `maxAttempts` is dead, and succeeds only on an attempt past them: after a retry, which keeps the count.
 */
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { expectForbidden, expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('retry and bulk actions with a real worker', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;
  const f = () => fleet!;
  const as = (key: string) => ({ key });
  const kinds = async (id: string) => (await f().sup.store.listTaskEvents(id)).map((e) => e.kind);
  const status = async (id: string) => (await f().sup.store.getTask(id))?.status;
  /** A task of the first submitter that dies: every attempt fails. */
  const deadTask = async (maxAttempts: number, extra: Record<string, unknown> = {}) => {
    const t = await f().submit(
      { type: 'fail', payload: { times: maxAttempts }, maxAttempts, ...extra },
      {},
      as(keys.submitter.key),
    );
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({ status: 'dead', attempt: maxAttempts });
    return done!;
  };
  /** Queued tasks no worker covers (it has no capabilities): they stay as the test leaves them. */
  const parked = (type: string, n: number, capability = 'parked') =>
    f().submitBatch(
      Array.from({ length: n }, () => ({ type, requiredCapabilities: [capability], payload: { ms: 1 } })),
    );

  beforeAll(async () => {
    fleet = await Fleet.start();
    keys = await makeKeys(fleet);
    await fleet.spawnWorker({ id: 'retry-w1', concurrency: 4 });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('runs a dead task again after a retry, with its attempt counting on, and records who retried it', async () => {
    const dead = await deadTask(2);
    const res = await f().request('POST', `/v1/tasks/${dead.id}/retry`, undefined, {}, as(keys.submitter.key));
    expect(res.status).toBe(200);
    expect(res.body.task).toMatchObject({ id: dead.id, status: 'queued', attempt: 2, maxAttempts: 4 });
    // The last failure's error is cleared from the task (a queued task has none); the events keep it.
    expect(res.body.task).not.toHaveProperty('error');

    const [done] = await f().waitTerminal([dead.id]);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 3, maxAttempts: 4, result: { succeededOnAttempt: 3 } });
    expect(await kinds(dead.id)).toEqual([
      'submitted',
      'started',
      'failed',
      'retry_scheduled',
      'started',
      'failed',
      'dead',
      'retried',
      'started',
      'succeeded',
    ]);
    const retried = (await f().sup.store.listTaskEvents(dead.id)).find((e) => e.kind === 'retried');
    expect(retried).toMatchObject({ attempt: 2, data: { by: 'app-one', from: 'dead', maxAttempts: 4 } });

    const audit = await f().request('GET', '/v1/audit?action=task.retry');
    expect(audit.body.entries).toEqual([
      expect.objectContaining({ action: 'task.retry', target: `task:${dead.id}`, actorName: 'app-one' }),
    ]);
  });

  it('answers 409 not_retryable for a queued, running or succeeded task, and changes nothing', async () => {
    const queued = await f().submit({ type: 'echo', delaySeconds: 60 });
    const running = await f().submit({ type: 'sleep', payload: { ms: 60_000 } });
    const succeeded = await f().submit({ type: 'echo', payload: 1 });
    await waitFor(async () => (await status(running.id)) === 'running', 10_000, 'the sleep task to start');
    await f().waitTerminal([succeeded.id]);
    for (const t of [queued, running, succeeded]) {
      const before = await f().sup.store.getTask(t.id);
      const res = await f().request('POST', `/v1/tasks/${t.id}/retry`);
      expectProblem(res, 409, { code: 'not_retryable' });
      expect(res.body.detail).toBe(
        `task ${t.id} is ${before!.status}; only a dead, cancelled or expired task can be retried`,
      );
      expect(await kinds(t.id)).not.toContain('retried');
    }
    for (const t of [queued, running]) await f().request('POST', `/v1/tasks/${t.id}/cancel`);
    await f().waitTerminal([queued.id, running.id]);
  });

  it("hides another key's task (404) and refuses a reader (403)", async () => {
    const dead = await deadTask(1);
    const other = await f().request('POST', `/v1/tasks/${dead.id}/retry`, undefined, {}, as(keys.submitter2.key));
    expectProblem(other, 404, { code: 'not_found' });
    const reader = await f().request('POST', `/v1/tasks/${dead.id}/retry`, undefined, {}, as(keys.reader.key));
    expectForbidden(reader, ['submitter', 'admin']);
    expect(await status(dead.id)).toBe('dead');
    // An admin reaches any key's task.
    expect((await f().request('POST', `/v1/tasks/${dead.id}/retry`)).status).toBe(200);
    await f().waitTerminal([dead.id]);
  });

  it('retries once when several retries of one task arrive at once', async () => {
    const dead = await deadTask(1);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => f().request('POST', `/v1/tasks/${dead.id}/retry`)),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    for (const r of answers.filter((a) => a.status === 409)) expectProblem(r, 409, { code: 'not_retryable' });
    const [done] = await f().waitTerminal([dead.id]);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2, maxAttempts: 2 });
    expect((await kinds(dead.id)).filter((k) => k === 'retried')).toHaveLength(1);
  });

  it('cancels in bulk with true counts: the filter and the limit honoured, running tasks asked to stop', async () => {
    const echoes = await parked('echo', 5);
    const sleeps = await parked('sleep', 2);
    const running = await f().submit({ type: 'sleep', payload: { ms: 60_000 } });
    await waitFor(async () => (await status(running.id)) === 'running', 10_000, 'the sleep task to start');

    const filter = { type: 'echo', capability: 'parked' };
    const first = await f().request('POST', '/v1/tasks/cancel', { filter, limit: 3 });
    expect(first.body).toEqual({ matched: 3, cancelled: 3, cancelRequested: 0 });
    const rest = await f().request('POST', '/v1/tasks/cancel', { filter });
    expect(rest.body).toEqual({ matched: 2, cancelled: 2, cancelRequested: 0 });
    expect((await f().request('POST', '/v1/tasks/cancel', { filter })).body).toEqual({
      matched: 0,
      cancelled: 0,
      cancelRequested: 0,
    });
    for (const t of echoes) expect(await status(t.id)).toBe('cancelled');
    for (const t of sleeps) expect(await status(t.id)).toBe('queued');

    const stop = await f().request('POST', '/v1/tasks/cancel', { filter: { status: 'running', type: 'sleep' } });
    expect(stop.body).toEqual({ matched: 1, cancelled: 0, cancelRequested: 1 });
    const [stopped] = await f().waitTerminal([running.id], 20_000);
    expect(stopped?.status).toBe('cancelled');

    const audit = await f().request('GET', '/v1/audit?action=task.bulk_cancel');
    expect(audit.body.entries[0]).toMatchObject({
      target: 'tasks',
      detail: {
        filter: { status: 'running', type: 'sleep' },
        limit: 1000,
        matched: 1,
        cancelled: 0,
        cancelRequested: 1,
      },
    });
    await f().request('POST', '/v1/tasks/cancel', { filter: { capability: 'parked' } });
  });

  it('retries in bulk with true counts and dispatches each retried task', async () => {
    const dying = await Promise.all([1, 2, 3].map(() => deadTask(1, { requiredCapabilities: [] })));
    const cutoff = new Date().toISOString();
    const youngDead = await deadTask(1);
    const cancelled = await parked('echo', 2, 'parked-b');
    const other = await parked('sleep', 1, 'parked-b');
    await f().request('POST', '/v1/tasks/cancel', { filter: { capability: 'parked-b' } });

    const first = await f().request('POST', '/v1/tasks/retry', {
      filter: { status: 'dead', type: 'fail', createdBefore: cutoff },
      limit: 2,
    });
    expect(first.body).toEqual({ matched: 2, retried: 2 });
    const second = await f().request('POST', '/v1/tasks/retry', {
      filter: { status: 'dead', type: 'fail', createdBefore: cutoff },
    });
    // The dead tasks of the earlier tests were retried there: only the third is left.
    expect(second.body).toEqual({ matched: 1, retried: 1 });
    const done = await f().waitTerminal(dying.map((t) => t.id));
    for (const t of done) expect(t).toMatchObject({ status: 'succeeded', attempt: 2, maxAttempts: 2 });
    expect(await status(youngDead.id)).toBe('dead');

    // Without a status: every retryable state; the parked tasks go back to queued and stay there.
    const parkedAgain = await f().request('POST', '/v1/tasks/retry', {
      filter: { capability: 'parked-b', type: 'echo' },
    });
    expect(parkedAgain.body).toEqual({ matched: 2, retried: 2 });
    for (const t of cancelled) expect(await status(t.id)).toBe('queued');
    expect(await status(other[0].id)).toBe('cancelled');
    await f().request('POST', '/v1/tasks/cancel', { filter: { capability: 'parked-b' } });
  });

  it('refuses a bad bulk request with a 400 naming the field, and a non-admin with a 403', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/v1/tasks/retry', { filter: { status: 'queued' } }, 'filter.status'],
      ['/v1/tasks/cancel', { filter: { status: 'dead' } }, 'filter.status'],
      ['/v1/tasks/retry', { filter: {}, limit: 10_001 }, 'limit'],
      ['/v1/tasks/cancel', { filter: {}, limit: 0 }, 'limit'],
      ['/v1/tasks/retry', {}, 'filter'],
      ['/v1/tasks/retry', { filter: { createdBefore: 'yesterday' } }, 'filter.createdBefore'],
      ['/v1/tasks/cancel', { filter: { type: 'Not A Token' } }, 'filter.type'],
      ['/v1/tasks/cancel', { filter: {}, everything: true }, 'everything'],
    ];
    for (const [path, body, field] of cases) {
      expectProblem(await f().request('POST', path, body), 400, { code: 'validation_failed', field });
    }
    for (const key of [keys.submitter.key, keys.reader.key]) {
      expectForbidden(await f().request('POST', '/v1/tasks/retry', { filter: {} }, {}, as(key)), ['admin']);
      expectForbidden(await f().request('POST', '/v1/tasks/cancel', { filter: {} }, {}, as(key)), ['admin']);
    }
  });
});
