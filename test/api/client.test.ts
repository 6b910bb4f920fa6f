/**
 * The typed client (`taskfleet/client`) over real HTTP against a real supervisor (SQLite file + Redis under a
 * private prefix), and a real worker process where a task must finish: every method, and the errors typed as
 * problems carrying the server's fields.
 */
import { TaskfleetClient, TaskfleetProblem, TaskfleetUnreachable, isTerminal } from '../../src/client';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { Fleet, fileInspector, fleetFor, stopAndVerifyClean } from '../helpers/fleet';
import { UUID } from '../helpers/http';

const redis = fileInspector();

async function problemOf(p: Promise<unknown>): Promise<TaskfleetProblem> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TaskfleetProblem);
  return err as TaskfleetProblem;
}

describe('TaskfleetClient against a supervisor', () => {
  const fleet = fleetFor(redis);
  let keys: Keys;
  let admin: TaskfleetClient;

  beforeAll(async () => {
    keys = await makeKeys(fleet());
    admin = new TaskfleetClient({ baseUrl: fleet().url, apiKey: fleet().adminKey });
  });

  it('submits, reads, and replays a submission with the same Idempotency-Key', async () => {
    const task = await admin.submit({ type: 'echo', payload: { n: 1 }, delaySeconds: 60 }, { idempotencyKey: 'k-1' });
    expect(task).toMatchObject({ type: 'echo', status: 'queued', payload: { n: 1 }, priority: 'normal' });
    expect(task.id).toMatch(UUID);
    expect(await admin.get(task.id)).toMatchObject({ id: task.id, status: 'queued' });
    const again = await admin.submit({ type: 'echo', payload: { n: 1 }, delaySeconds: 60 }, { idempotencyKey: 'k-1' });
    expect(again.id).toBe(task.id);
    const events = await admin.eventList(task.id);
    expect(events.map((e) => e.kind)).toEqual(['submitted']);
  });

  it('submits a batch and lists every task across pages, newest first', async () => {
    const tasks = await admin.submitBatch(
      Array.from({ length: 7 }, (_, i) => ({ type: 'pagetest', payload: { i }, delaySeconds: 60 })),
    );
    expect(tasks).toHaveLength(7);
    const page = await admin.listPage({ type: 'pagetest', pageSize: 3 });
    expect(page.tasks).toHaveLength(3);
    expect(page.nextCursor).toEqual(expect.any(String));
    const seen: string[] = [];
    for await (const t of admin.list({ type: 'pagetest', pageSize: 3 })) seen.push(t.id);
    expect(seen).toEqual(tasks.map((t) => t.id).reverse());
  });

  it('cancels a queued task, and answers an ended one (409) with the task rather than an error', async () => {
    const task = await admin.submit({ type: 'echo', delaySeconds: 60 });
    const first = await admin.cancel(task.id);
    expect(first).toMatchObject({ outcome: 'cancelled', task: { id: task.id, status: 'cancelled' } });
    const second = await admin.cancel(task.id);
    expect(second).toMatchObject({ outcome: 'already_terminal', task: { status: 'cancelled' } });
    expect(isTerminal(second.task)).toBe(true);
  });

  it('throws a 400 as a problem naming each field', async () => {
    const bad = { type: 'Not A Token', priority: 'urgent' } as unknown as Parameters<typeof admin.submit>[0];
    const problem = await problemOf(admin.submit(bad));
    expect(problem).toMatchObject({ status: 400, code: 'validation_failed', title: expect.any(String) });
    expect(problem.type).toBe('urn:taskfleet:problem:validation_failed');
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(['priority', 'type']);
  });

  it('throws 401, 403 and 404 as problems; another submitter’s task is a 404', async () => {
    const url = fleet().url;
    expect(await problemOf(new TaskfleetClient({ baseUrl: url }).get('x'))).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    const reader = new TaskfleetClient({ baseUrl: url, apiKey: keys.reader.key });
    expect(await problemOf(reader.submit({ type: 'echo' }))).toMatchObject({ status: 403, code: 'forbidden' });
    const owner = new TaskfleetClient({ baseUrl: url, apiKey: keys.submitter.key });
    const other = new TaskfleetClient({ baseUrl: url, apiKey: keys.submitter2.key });
    const task = await owner.submit({ type: 'echo', delaySeconds: 60 });
    expect(await problemOf(other.get(task.id))).toMatchObject({ status: 404, code: 'not_found' });
    // A queued task is not retryable; another key's task does not exist for this key.
    expect(await problemOf(owner.retry(task.id))).toMatchObject({ status: 409, code: 'not_retryable' });
    expect(await problemOf(other.retry(task.id))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it("reads an agent and changes its settings; a reader's key is refused", async () => {
    const reg = { capabilities: [], types: ['echo', 'sleep'], concurrency: 4, hostname: 'h', pid: 1, version: 'v' };
    await fleet().sup.store.registerAgent({ id: 'client-agent', ...reg }, Date.now());
    expect(await admin.agent('client-agent')).toMatchObject({ desiredConcurrency: null, disabledTypes: [] });
    const changed = await admin.updateAgent('client-agent', { concurrency: 2, disabledTypes: ['sleep'] });
    expect(changed).toMatchObject({ desiredConcurrency: 2, disabledTypes: ['sleep'], types: ['echo'] });
    const reader = new TaskfleetClient({ baseUrl: fleet().url, apiKey: keys.reader.key });
    expect((await problemOf(reader.updateAgent('client-agent', { concurrency: null }))).status).toBe(403);
    expect((await problemOf(admin.updateAgent('no-such-agent', { concurrency: 1 }))).status).toBe(404);
    expect(await admin.agent('client-agent')).toMatchObject({ desiredConcurrency: 2 });
  });

  it('throws TaskfleetUnreachable when nothing listens', async () => {
    const nobody = new TaskfleetClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x' });
    await expect(nobody.get('x')).rejects.toBeInstanceOf(TaskfleetUnreachable);
  });

  it('wait returns the task as it stands when the deadline passes first', async () => {
    const task = await admin.submit({ type: 'echo', delaySeconds: 60 });
    const later = await admin.wait(task.id, { timeoutMs: 300 });
    expect(later).toMatchObject({ id: task.id, status: 'queued' });
  });
});

describe('TaskfleetClient with a worker', () => {
  // Loops on: the placement learns the worker's pool from the supervisor's refresh.
  let fleet: Fleet | undefined;
  beforeAll(async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'client-w1', concurrency: 2 });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('waits until a task ends: the worker runs it and wait returns the succeeded task', async () => {
    const admin = new TaskfleetClient({ baseUrl: fleet!.url, apiKey: fleet!.adminKey });
    const task = await admin.submit({ type: 'echo', payload: { hello: 'world' } });
    const done = await admin.wait(task.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ id: task.id, status: 'succeeded', result: { hello: 'world' } });
  });
});

describe('TaskfleetClient and the rate limit', () => {
  const fleet = fleetFor(redis, { env: { TASKFLEET_RATE_LIMIT_PER_SECOND: '0.01', TASKFLEET_RATE_LIMIT_BURST: '1' } });

  it('throws a 429 as a problem carrying Retry-After', async () => {
    const client = new TaskfleetClient({ baseUrl: fleet().url, apiKey: fleet().adminKey });
    await client.listPage();
    const problem = await problemOf(client.listPage());
    expect(problem).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(problem.retryAfterSeconds).toBeGreaterThan(0);
  });
});
