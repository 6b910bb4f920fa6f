import path from 'node:path';
import { Fleet, ROOT, waitFor } from '../helpers/fleet';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'handlers.js');

const kinds = async (fleet: Fleet, id: string) => (await fleet.sup.store.listTaskEvents(id)).map((e) => e.kind);

describe('task lifecycle with real worker processes', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'w1', concurrency: 4, args: ['--handlers', FIXTURES] });
    await fleet.spawnWorker({ id: 'w2', concurrency: 4, args: ['--handlers', FIXTURES] });
  });
  afterAll(() => fleet?.stop());

  it('retries a failing task with backoff until it succeeds', async () => {
    const t = await fleet.submit({ type: 'fail', payload: { times: 2 }, maxAttempts: 3 });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('succeeded');
    expect(done?.attempt).toBe(3);
    expect(done?.result).toEqual({ succeededOnAttempt: 3 });
    expect(await kinds(fleet, t.id)).toEqual([
      'submitted',
      'started',
      'failed',
      'retry_scheduled',
      'started',
      'failed',
      'retry_scheduled',
      'started',
      'succeeded',
    ]);
  });

  it('moves a task to dead when its attempts are spent, keeping the last error', async () => {
    const t = await fleet.submit({ type: 'fail', payload: { times: 9, message: 'boom' }, maxAttempts: 2 });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('dead');
    expect(done?.attempt).toBe(2);
    expect(done?.error).toMatchObject({ kind: 'handler', message: 'boom' });
    const ev = await kinds(fleet, t.id);
    expect(ev.filter((k) => k === 'started')).toHaveLength(2);
    expect(ev[ev.length - 1]).toBe('dead');
  });

  it('aborts a handler that exceeds its timeout and counts it as a failed attempt', async () => {
    const t = await fleet.submit({ type: 'sleep', payload: { ms: 20_000 }, timeoutSeconds: 0.3, maxAttempts: 2 });
    const [done] = await fleet.waitTerminal([t.id], 20_000);
    expect(done?.status).toBe('dead');
    expect(done?.attempt).toBe(2);
    expect(done?.error?.kind).toBe('timeout');
    expect(done!.finishedAt! - done!.createdAt).toBeLessThan(10_000);
  });

  it('sends invalid input straight to dead without retrying', async () => {
    const t = await fleet.submit({ type: 'sleep', payload: { ms: 'soon' }, maxAttempts: 5 });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('dead');
    expect(done?.attempt).toBe(1);
    expect(done?.error?.kind).toBe('invalid_input');
  });

  it('cancels a queued task at once and a running one through its AbortSignal', async () => {
    const delayed = await fleet.submit({ type: 'echo', payload: 1, delaySeconds: 30 });
    const c1 = await fleet.request('POST', `/v1/tasks/${delayed.id}/cancel`);
    expect(c1.status).toBe(202);
    expect(c1.body.outcome).toBe('cancelled');
    expect((await fleet.sup.store.getTask(delayed.id))?.status).toBe('cancelled');

    const long = await fleet.submit({ type: 'sleep', payload: { ms: 60_000 } });
    await waitFor(
      async () => (await fleet.sup.store.getTask(long.id))?.status === 'running',
      10_000,
      'the task to start',
    );
    const c2 = await fleet.request('POST', `/v1/tasks/${long.id}/cancel`);
    expect(c2.status).toBe(202);
    expect(c2.body.outcome).toBe('requested');
    const [done] = await fleet.waitTerminal([long.id], 10_000);
    expect(done?.status).toBe('cancelled');
    expect(done?.result).toBeNull();
    expect(await kinds(fleet, long.id)).toEqual(['submitted', 'started', 'cancel_requested', 'cancelled']);
  });

  it('holds a delayed task until its time', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 'later', delaySeconds: 1 });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('succeeded');
    expect(done!.startedAt! - done!.createdAt).toBeGreaterThanOrEqual(1000);
  });

  it('expires a task whose deadline passes before any capable worker starts it', async () => {
    const deadline = new Date(Date.now() + 700).toISOString();
    const t = await fleet.submit({ type: 'echo', payload: 1, requiredCapabilities: ['nobody-has-this'], deadline });
    const [done] = await fleet.waitTerminal([t.id], 10_000);
    expect(done?.status).toBe('expired');
    expect(await kinds(fleet, t.id)).toEqual(['submitted', 'expired']);
  });

  it('keeps an unroutable task queued until a capable worker registers', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 'q', requiredCapabilities: ['quantum'] });
    expect(t.routable).toBe(false);
    expect((await fleet.request('GET', `/v1/tasks/${t.id}`)).body).toMatchObject({ status: 'queued', routable: false });
    await fleet.spawnWorker({ id: 'quantum-1', capabilities: ['quantum'] });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('succeeded');
    expect(done?.agentId).toBe('quantum-1');
  });

  it('rejects a zombie result: a stalled worker that completes after its lease was taken over', async () => {
    // The first attempt blocks its worker's event loop for 4 s (no renewals); the 1.5 s lease expires, the
    // reaper requeues the task and the other worker runs attempt 2. Then the zombie returns its result.
    const t = await fleet.submit({ type: 'stall', payload: { ms: 4000 } });
    const [done] = await fleet.waitTerminal([t.id], 20_000);
    expect(done?.status).toBe('succeeded');
    expect(done?.attempt).toBe(2);
    expect((done?.result as { attempt: number }).attempt).toBe(2);
    await waitFor(async () => (await kinds(fleet, t.id)).includes('result_rejected'), 10_000, 'the zombie result');
    const events = await fleet.sup.store.listTaskEvents(t.id);
    const rejected = events.filter((e) => e.kind === 'result_rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.attempt).toBe(1);
    expect(events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
    // Taken back by the lease reaper or by the heartbeat enforcer, whichever acted first.
    expect(events.some((e) => /^lease_(expired|reclaimed)$/.test(e.kind) && e.attempt === 1)).toBe(true);
    // The stored result is still attempt 2's.
    expect(((await fleet.sup.store.getTask(t.id))?.result as { attempt: number }).attempt).toBe(2);
  }, 30_000);
});
