import { Fleet, waitFor } from '../helpers/fleet';
import { countPasses } from '../helpers/passes';

const stateOf = async (fleet: Fleet, id: string) => (await fleet.sup.store.getAgent(id))?.state;
const states = async (fleet: Fleet, id: string) => (await fleet.sup.store.listAgentEvents(id)).map((e) => e.toState);
const lastHeartbeat = async (fleet: Fleet, id: string) => (await fleet.sup.store.getAgent(id))?.lastHeartbeatAt ?? 0;

/**
 * Waits for `n` heartbeats of an agent recorded after `since` (after now by default). A heartbeat is when a
 * worker learns its state from the store, and passing ones prove the worker is alive and had time to act.
 */
async function heartbeats(fleet: Fleet, id: string, n: number, since?: number): Promise<void> {
  let last = since ?? (await lastHeartbeat(fleet, id));
  for (let i = 1; i <= n; i++) {
    await waitFor(
      async () => {
        const at = await lastHeartbeat(fleet, id);
        if (at <= last) return false;
        last = at;
        return true;
      },
      5_000,
      `heartbeat ${i} of ${n} from ${id}`,
    );
  }
}

/**
 * Heartbeat enforcement against real worker processes, silenced with SIGSTOP (a worker that stalls without
 * dying). Heartbeats every 200 ms: warning after 0.6 s, suspended after 1 s, frozen after 2 s.
 */
describe('heartbeat enforcement', () => {
  let fleet: Fleet;
  afterEach(async () => {
    for (const w of fleet?.workers ?? []) if (w.child.exitCode === null) w.child.kill('SIGCONT');
    await fleet?.stop();
  });

  it('warns, suspends (reclaiming leases at once) and freezes a silent worker; frozen stays out until unfrozen', async () => {
    // A long lease: the tasks can only move on because the suspension takes the leases back.
    fleet = await Fleet.start({ env: { TASKFLEET_LEASE_DURATION_MS: '60000' } });
    const enforcer = countPasses(fleet.sup.enforcer, 'enforceHeartbeats');
    const silent = await fleet.spawnWorker({ id: 'silent', concurrency: 2 });
    const tasks: string[] = (await fleet.submitBatch([1, 2].map(() => ({ type: 'sleep', payload: { ms: 4000 } })))).map(
      (t: { id: string }) => t.id,
    );
    await waitFor(
      async () =>
        (await Promise.all(tasks.map((id) => fleet.sup.store.getTask(id)))).every((t) => t?.agentId === 'silent'),
      10_000,
      'both tasks running on the silent worker',
    );
    // Stopped before the other worker starts, however long that takes: its tasks cannot finish first.
    silent.child.kill('SIGSTOP');
    const healthy = await fleet.spawnWorker({ id: 'healthy', concurrency: 2 });

    await waitFor(async () => (await stateOf(fleet, 'silent')) === 'frozen', 10_000, 'the silent worker to be frozen');
    expect(await states(fleet, 'silent')).toEqual(['running', 'warning', 'suspended', 'frozen']);
    const done = await fleet.waitTerminal(tasks, 15_000);
    for (const t of done) {
      expect(t).toMatchObject({ status: 'succeeded', agentId: 'healthy', attempt: 2 });
      const kinds = (await fleet.sup.store.listTaskEvents(t.id)).map((e) => e.kind);
      expect(kinds).toEqual(['submitted', 'started', 'lease_reclaimed', 'retry_scheduled', 'started', 'succeeded']);
    }

    // It comes back (heartbeats again) but stays frozen and takes no work.
    silent.child.kill('SIGCONT');
    const before = (await fleet.sup.store.getAgent('silent'))!.lastHeartbeatAt;
    await waitFor(
      async () => (await fleet.sup.store.getAgent('silent'))!.lastHeartbeatAt > before,
      5_000,
      'a heartbeat',
    );
    healthy.child.kill('SIGTERM');
    await healthy.exited;
    const waiting = await fleet.submit({ type: 'echo', payload: 'for the unfrozen worker' });
    // Three heartbeats (each tells the worker it is frozen; a running one would take the task at once), then
    // two enforcer passes that saw it heartbeating and still did not let it back.
    await heartbeats(fleet, 'silent', 3);
    await enforcer.next(2, 'two enforcer passes');
    expect(await stateOf(fleet, 'silent')).toBe('frozen');
    expect((await fleet.sup.store.getTask(waiting.id))?.status).toBe('queued');

    const res = await fleet.request('POST', '/v1/agents/silent/unfreeze');
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('running');
    const [t] = await fleet.waitTerminal([waiting.id], 10_000);
    expect(t).toMatchObject({ status: 'succeeded', agentId: 'silent' });
  }, 60_000);

  it('lets a suspended worker that heartbeats again recover to running by itself', async () => {
    fleet = await Fleet.start();
    const w = await fleet.spawnWorker({ id: 'flaky' });
    w.child.kill('SIGSTOP');
    await waitFor(async () => (await stateOf(fleet, 'flaky')) === 'suspended', 10_000, 'suspension', 10);
    w.child.kill('SIGCONT');
    await waitFor(async () => (await stateOf(fleet, 'flaky')) === 'running', 5_000, 'recovery');
    expect(await states(fleet, 'flaky')).toEqual(['running', 'warning', 'suspended', 'running']);
    const t = await fleet.submit({ type: 'echo', payload: 1 });
    expect((await fleet.waitTerminal([t.id]))[0]?.agentId).toBe('flaky');
  }, 30_000);
});

describe('admin actions on agents', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('drains a worker (running tasks finish, no new work) and resumes it', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'd1', concurrency: 2 });
    const running = await fleet.submit({ type: 'sleep', payload: { ms: 700 } });
    await waitFor(async () => (await fleet.sup.store.getTask(running.id))?.status === 'running', 10_000, 'start');
    const drain = await fleet.request('POST', '/v1/agents/d1/drain');
    expect(drain.status).toBe(200);
    expect(drain.body.state).toBe('draining');
    await heartbeats(fleet, 'd1', 1, Date.now()); // the worker learns it at its next heartbeat
    const queued = await fleet.submit({ type: 'echo', payload: 'held' });
    expect((await fleet.waitTerminal([running.id]))[0]?.status).toBe('succeeded');
    // Both slots free and a task waiting for it, through three more heartbeats: a worker that was not
    // draining would have taken it long before.
    await heartbeats(fleet, 'd1', 3);
    expect((await fleet.sup.store.getTask(queued.id))?.status).toBe('queued');
    expect(await stateOf(fleet, 'd1')).toBe('draining');

    expect((await fleet.request('POST', '/v1/agents/d1/resume')).status).toBe(200);
    expect((await fleet.waitTerminal([queued.id]))[0]?.agentId).toBe('d1');
    const audit = await fleet.sup.store.listAudit({ limit: 10 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['agent.drain', 'agent.resume']));
  }, 30_000);

  it('suspends a worker: its leases are reclaimed at once and it stays suspended while heartbeating', async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_LEASE_DURATION_MS: '60000' } });
    const enforcer = countPasses(fleet.sup.enforcer, 'enforceHeartbeats');
    await fleet.spawnWorker({ id: 's1' });
    const t = await fleet.submit({ type: 'sleep', payload: { ms: 1500 } });
    await waitFor(async () => (await fleet.sup.store.getTask(t.id))?.status === 'running', 10_000, 'start');
    expect((await fleet.request('POST', '/v1/agents/s1/suspend')).body.state).toBe('suspended');
    expect((await fleet.sup.store.getTask(t.id))?.status).toBe('queued');
    await fleet.spawnWorker({ id: 's2' });
    const [done] = await fleet.waitTerminal([t.id], 15_000);
    expect(done).toMatchObject({ status: 'succeeded', agentId: 's2', attempt: 2 });
    // It heartbeats on, and two enforcer passes see it (the enforcer lets an agent it suspended for silence
    // recover): an admin's suspension still holds.
    await heartbeats(fleet, 's1', 3);
    await enforcer.next(2, 'two enforcer passes');
    expect(await stateOf(fleet, 's1')).toBe('suspended');
    // Invalid transitions are refused with the current state named.
    const again = await fleet.request('POST', '/v1/agents/s1/unfreeze');
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/is suspended/);
    expect((await fleet.request('POST', '/v1/agents/nobody/drain')).status).toBe(404);
  }, 30_000);

  it('removes only a stopped agent', async () => {
    fleet = await Fleet.start();
    const w = await fleet.spawnWorker({ id: 'r1' });
    expect((await fleet.request('DELETE', '/v1/agents/r1')).status).toBe(409);
    w.child.kill('SIGTERM');
    await w.exited;
    expect(await stateOf(fleet, 'r1')).toBe('stopped');
    expect((await fleet.request('DELETE', '/v1/agents/r1')).status).toBe(204);
    expect((await fleet.request('GET', '/v1/agents/r1')).status).toBe(404);
    expect(await fleet.sup.store.listAgentEvents('r1')).toEqual([]);
  }, 30_000);

  it('reports per-agent performance', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'p1' });
    const ok = await fleet.submitBatch(Array.from({ length: 4 }, () => ({ type: 'sleep', payload: { ms: 30 } })));
    const bad = await fleet.submit({ type: 'fail', payload: { times: 5 }, maxAttempts: 1 });
    await fleet.waitTerminal([...ok.map((t: { id: string }) => t.id), bad.id]);
    const res = await fleet.request('GET', '/v1/agents/p1/performance?windowSeconds=60');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ windowSeconds: 60, completed: 4, failed: 1, successRate: 0.8, concurrency: 4 });
    expect(res.body.meanRunMs).toBeGreaterThanOrEqual(25);
    expect(res.body.p95RunMs).toBeGreaterThanOrEqual(25);
    expect(res.body.healthScore).toBeGreaterThan(50);
  }, 30_000);
});
