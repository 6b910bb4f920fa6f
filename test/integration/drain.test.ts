import { Fleet, waitFor } from '../helpers/fleet';

describe('graceful drain on SIGTERM', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('finishes running tasks, takes no new ones, marks the agent stopped and exits 0', async () => {
    fleet = await Fleet.start();
    const w = await fleet.spawnWorker({ id: 'drainer', concurrency: 2 });
    const tasks = await Promise.all([1, 2].map(() => fleet.submit({ type: 'sleep', payload: { ms: 800 } })));
    await waitFor(
      async () =>
        (await Promise.all(tasks.map((t) => fleet.sup.store.getTask(t.id)))).every((t) => t?.status === 'running'),
      10_000,
      'both tasks to start',
    );
    w.child.kill('SIGTERM');
    const late = await fleet.submit({ type: 'echo', payload: 'after drain' });
    expect(await w.exited).toBe(0);
    const done = await fleet.waitTerminal(tasks.map((t) => t.id));
    expect(done.map((t) => t.status)).toEqual(['succeeded', 'succeeded']);
    expect((await fleet.sup.store.getTask(late.id))?.status).toBe('queued');
    const agent = await fleet.sup.store.getAgent('drainer');
    expect(agent?.state).toBe('stopped');
    const states = (await fleet.sup.store.listAgentEvents('drainer')).map((e) => e.toState);
    expect(states.slice(-2)).toEqual(['draining', 'stopped']);
    // The task submitted during the drain is run by the next worker.
    await fleet.spawnWorker({ id: 'next' });
    const [t] = await fleet.waitTerminal([late.id]);
    expect(t?.agentId).toBe('next');
  }, 30_000);

  it('hands running tasks back to the queue when the drain timeout runs out', async () => {
    fleet = await Fleet.start();
    const w = await fleet.spawnWorker({ id: 'slow', concurrency: 1, env: { TASKFLEET_DRAIN_TIMEOUT_MS: '200' } });
    const t = await fleet.submit({ type: 'sleep', payload: { ms: 1500 }, maxAttempts: 1 });
    await waitFor(async () => (await fleet.sup.store.getTask(t.id))?.status === 'running', 10_000, 'the task to start');
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    const released = await fleet.sup.store.getTask(t.id);
    expect(released?.status).toBe('queued');
    expect((await fleet.sup.store.listTaskEvents(t.id)).map((e) => e.kind)).toContain('released');
    // Released is not a failure: even with maxAttempts 1 the task runs again and succeeds.
    await fleet.spawnWorker({ id: 'takeover' });
    const [done] = await fleet.waitTerminal([t.id]);
    expect(done?.status).toBe('succeeded');
    expect(done?.agentId).toBe('takeover');
  }, 30_000);
});
