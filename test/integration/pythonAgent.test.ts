/**
 * The Python agent (examples/python/agent.py) as a real `python3` process against a real supervisor over HTTP,
 * with only an agent key: it registers, runs tasks, reports progress, logs and failures, stops a cancelled
 * task, and drains on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { ISO } from '../helpers/http';
import { PythonAgents, createAgentKey, waitForLog, type PythonAgent } from '../helpers/pythonAgent';

const redis = fileInspector();

describe('the Python agent', () => {
  let fleet: Fleet | undefined;
  let key: string;
  let agent: PythonAgent;
  const f = () => fleet!;
  const agents = new PythonAgents({ logDir: () => f().dir });
  const events = async (id: string) => (await f().sup.store.listTaskEvents(id)).map((e) => e.kind);

  beforeAll(async () => {
    fleet = await Fleet.start();
    key = await createAgentKey(f().config.sqlitePath, 'py-');
    agent = await agents.spawn(f().url, key, { id: 'py-main', capabilities: ['gpu'], concurrency: 3 });
  });
  afterAll(async () => {
    await agents.killAll();
    await stopAndVerifyClean(fleet, redis);
  });

  it('registers with what it offers, and runs echo tasks', async () => {
    const seen = await f().request('GET', '/v1/agents/py-main');
    expect(seen.body).toMatchObject({
      id: 'py-main',
      state: 'running',
      capabilities: ['gpu'],
      types: ['echo', 'fail', 'sleep'],
      concurrency: 3,
      pid: agent.child.pid,
    });
    const submitted = await f().submitBatch(
      [1, 2, 3, 4, 5].map((i) => ({ type: 'echo', payload: { i }, requiredCapabilities: i % 2 ? ['gpu'] : [] })),
    );
    const done = await f().waitTerminal(submitted.map((t) => t.id));
    expect(done.map((t) => [t.status, t.result, t.agentId, t.attempt])).toEqual(
      [1, 2, 3, 4, 5].map((i) => ['succeeded', { i }, 'py-main', 1]),
    );
  });

  it('reports progress and log lines, visible through the API', async () => {
    const t = await f().submit({ type: 'sleep', payload: { ms: 400 } });
    await f().waitTerminal([t.id]);
    const view = await f().request('GET', `/v1/tasks/${t.id}`);
    expect(view.body).toMatchObject({
      status: 'succeeded',
      result: { sleptMs: 400 },
      progress: 100,
      progressAt: expect.stringMatching(ISO),
    });
    const logs = await f().request('GET', `/v1/tasks/${t.id}/logs`);
    expect(logs.body).toMatchObject({ taskId: t.id, attempt: 1 });
    expect(logs.body.lines).toEqual([
      { at: expect.stringMatching(ISO), level: 'info', message: 'sleeping', fields: { ms: 400 } },
      { at: expect.stringMatching(ISO), level: 'info', message: 'slept' },
    ]);
  });

  it('retries a failure until the attempts run out, then the task is dead', async () => {
    const t = await f().submit({ type: 'fail', payload: { message: 'flaky' }, maxAttempts: 2 });
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({ status: 'dead', attempt: 2, error: expect.objectContaining({ message: 'flaky' }) });
    expect(await events(t.id)).toEqual(expect.arrayContaining(['retry_scheduled', 'dead']));
    expect((await events(t.id)).filter((k) => k === 'started')).toHaveLength(2);
  });

  it('sends a Permanent failure dead at once, whatever attempts remain', async () => {
    const t = await f().submit({ type: 'fail', payload: { permanent: true, message: 'bad input' }, maxAttempts: 5 });
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({
      status: 'dead',
      attempt: 1,
      error: expect.objectContaining({ message: 'bad input' }),
    });
    expect(await events(t.id)).not.toContain('retry_scheduled');
  });

  it('renews the lease of a task that outlives it, and fails a task past its timeout', async () => {
    const long = await f().submit({ type: 'sleep', payload: { ms: 2500 } }); // the lease is 1.5 s (FAST)
    const late = await f().submit({ type: 'sleep', payload: { ms: 60_000 }, timeoutSeconds: 1, maxAttempts: 1 });
    const [done, timedOut] = await f().waitTerminal([long.id, late.id]);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 1, agentId: 'py-main' });
    expect(await events(long.id)).not.toContain('lease_expired');
    expect(timedOut).toMatchObject({
      status: 'dead',
      error: expect.objectContaining({ message: 'timed out after 1 s' }),
    });
  });

  it('drops the result of an attempt whose lease was lost while it stalled, and runs the task again', async () => {
    const stalled = await agents.spawn(f().url, key, { id: 'py-stall', capabilities: ['stall'], concurrency: 1 });
    const t = await f().submit({ type: 'sleep', payload: { ms: 1000 }, requiredCapabilities: ['stall'] });
    await waitFor(async () => (await f().sup.store.getTask(t.id))?.progress != null, 10_000, 'the sleep to run');
    stalled.child.kill('SIGSTOP');
    await waitFor(
      async () => (await events(t.id)).some((k) => k === 'lease_expired' || k === 'lease_reclaimed'),
      10_000,
      'the lease to be taken back',
    );
    stalled.child.kill('SIGCONT');
    await waitForLog(stalled, 'the lease is lost');
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2, agentId: 'py-stall' });
    expect((await events(t.id)).filter((k) => k === 'succeeded')).toHaveLength(1);
  });

  it('obeys an admin drain: finishes what runs, claims nothing more, stops and exits 0', async () => {
    const drained = await agents.spawn(f().url, key, { id: 'py-admin', capabilities: ['admin-drain'] });
    const running = await f().submit({ type: 'sleep', payload: { ms: 500 }, requiredCapabilities: ['admin-drain'] });
    await waitFor(async () => (await f().sup.store.getTask(running.id))?.progress != null, 10_000, 'the sleep to run');
    expect((await f().request('POST', '/v1/agents/py-admin/drain', { reason: 'test' })).status).toBe(200);
    const late = await f().submit({ type: 'echo', payload: 'after the drain', requiredCapabilities: ['admin-drain'] });
    expect(await drained.exited).toBe(0);
    expect((await f().sup.store.getTask(running.id))?.status).toBe('succeeded');
    expect((await f().sup.store.getTask(late.id))?.status).toBe('queued');
    expect((await f().sup.store.getAgent('py-admin'))?.state).toBe('stopped');
  });

  it('stops a running task when it is cancelled, and the task ends cancelled', async () => {
    const t = await f().submit({ type: 'sleep', payload: { ms: 60_000 } });
    await waitFor(async () => (await f().sup.store.getTask(t.id))?.progress != null, 10_000, 'the sleep to run');
    const cancel = await f().request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(cancel.status).toBe(202);
    const [done] = await f().waitTerminal([t.id], 20_000);
    expect(done).toMatchObject({ status: 'cancelled', attempt: 1 });
    expect(await events(t.id)).not.toContain('succeeded');
  });

  it('exits 2 when its key may not act as its id', async () => {
    const other = await agents.spawn(f().url, key, { id: 'gpu-1', waitRegistered: false });
    expect(await other.exited).toBe(2);
    expect(readFileSync(other.logFile, 'utf8')).toMatch(/registration refused: 403/);
    expect(await f().sup.store.getAgent('gpu-1')).toBeNull();
  });

  it('drains on SIGTERM: running tasks finish or are handed back, nothing new is claimed, exit 0', async () => {
    const drainer = await agents.spawn(f().url, key, {
      id: 'py-drain',
      capabilities: ['drain'],
      concurrency: 2,
      args: ['--drain-seconds', '1'],
    });
    const short = await f().submit({ type: 'sleep', payload: { ms: 300 }, requiredCapabilities: ['drain'] });
    const long = await f().submit({ type: 'sleep', payload: { ms: 60_000 }, requiredCapabilities: ['drain'] });
    await waitFor(async () => (await f().sup.store.getTask(long.id))?.progress != null, 10_000, 'the long task to run');
    drainer.child.kill('SIGTERM');
    await waitForLog(drainer, 'draining:');
    const late = await f().submit({ type: 'echo', payload: 'after the drain', requiredCapabilities: ['drain'] });
    expect(await drainer.exited).toBe(0);

    expect((await f().sup.store.getTask(short.id))?.status).toBe('succeeded');
    const released = await f().sup.store.getTask(long.id);
    expect(released).toMatchObject({ status: 'queued', attempt: 1 });
    expect(await events(long.id)).toContain('released');
    expect((await f().sup.store.getTask(late.id))?.status).toBe('queued');
    expect((await f().sup.store.getAgent('py-drain'))?.state).toBe('stopped');

    // What it handed back runs on the next agent.
    await agents.spawn(f().url, key, { id: 'py-next', capabilities: ['drain'] });
    await f().request('POST', `/v1/tasks/${long.id}/cancel`);
    const [echoed] = await f().waitTerminal([late.id]);
    expect(echoed).toMatchObject({ status: 'succeeded', agentId: 'py-next' });
  });
});

describe('the Python agent under the API rate limit', () => {
  let fleet: Fleet | undefined;
  const agents = new PythonAgents({ logDir: () => fleet!.dir });
  afterAll(async () => {
    await agents.killAll();
    await stopAndVerifyClean(fleet, redis);
  });

  it('waits out 429 answers and sends every result', async () => {
    const f = (fleet = await Fleet.start({
      // Leases and heartbeats at their usual pace relative to Retry-After (1 s), not FAST's.
      env: {
        TASKFLEET_RATE_LIMIT_PER_SECOND: '30',
        TASKFLEET_RATE_LIMIT_BURST: '10',
        TASKFLEET_LEASE_DURATION_MS: '15000',
        TASKFLEET_HEARTBEAT_INTERVAL_MS: '1000',
      },
    }));
    const key = await createAgentKey(f.config.sqlitePath, 'py-');
    const agent = await agents.spawn(f.url, key, { id: 'py-limited', concurrency: 8 });
    const tasks = await f.submitBatch(Array.from({ length: 40 }, (_, i) => ({ type: 'echo', payload: { i } })));
    const done = await f.waitTerminal(tasks.map((t) => t.id));
    // Attempt 1 each: a refused write was sent again, not dropped (that would have cost a lease expiry and a retry).
    expect(done.map((t) => [t.status, t.result, t.attempt])).toEqual(done.map((_, i) => ['succeeded', { i }, 1]));
    expect(readFileSync(agent.logFile, 'utf8')).toMatch(/busy \(429 urn:taskfleet:problem:rate_limited/);
    for (const t of done) {
      const kinds = (await f.sup.store.listTaskEvents(t.id)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'succeeded')).toHaveLength(1);
    }
  });
});
