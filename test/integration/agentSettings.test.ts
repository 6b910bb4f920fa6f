/**
 * Agents changed at run time (PATCH /v1/agents/:id) with real worker processes (from the built CLI in dist/)
 * against a real supervisor with its loops on: a running worker applies the settings at its next heartbeat,
 * without a restart. Overlap is read from the store's record of each run (start and finish), never from timing.
 */
import { poolKey } from '../../src/domain/pool';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { maxOverlap } from '../helpers/overlap';

const redis = fileInspector();

const sleeps = (n: number, ms: number) => Array.from({ length: n }, () => ({ type: 'sleep', payload: { ms } }));

describe('agent settings reach running workers', () => {
  let fleet: Fleet | undefined;
  const f = () => fleet!;
  afterEach(async () => {
    const current = fleet;
    fleet = undefined;
    await stopAndVerifyClean(current, redis);
  });

  const ids = async (tasks: Array<Record<string, unknown>>): Promise<string[]> =>
    (await f().submitBatch(tasks)).map((t: { id: string }) => t.id);
  /** Waits until placement knows the pool: a task submitted before may be parked until the reconciler's next pass. */
  const known = (capabilities: string[], types: string[]) =>
    waitFor(
      async () => (await f().sup.placement.refresh()).pools.some((p) => p.key === poolKey({ capabilities, types })),
      10_000,
      `placement to know the pool of ${types.join('+')}~${capabilities.join('+')}`,
    );
  const applied = (id: string, concurrency: number) =>
    waitFor(
      async () => (await f().sup.store.getAgent(id))?.concurrency === concurrency,
      10_000,
      `agent ${id} to apply concurrency ${concurrency}`,
    );

  it('a PATCH of concurrency reaches a running worker: down to one task at a time, then several again', async () => {
    fleet = await Fleet.start();
    await f().spawnWorker({ id: 'cc-1', concurrency: 4 });

    const down = await f().request('PATCH', '/v1/agents/cc-1', { concurrency: 1 });
    expect(down.body).toMatchObject({ desiredConcurrency: 1 });
    // The registry shows the concurrency the worker reports having applied.
    await applied('cc-1', 1);
    const one = await f().waitTerminal(await ids(sleeps(6, 100)));
    expect(one.map((t) => [t.status, t.agentId])).toEqual(Array(6).fill(['succeeded', 'cc-1']));
    expect(maxOverlap(one)).toBe(1);

    await f().request('PATCH', '/v1/agents/cc-1', { concurrency: null });
    await applied('cc-1', 4);
    const several = await ids(sleeps(4, 3_000));
    await waitFor(
      async () =>
        (await Promise.all(several.map((id) => f().sup.store.getTask(id)))).every((t) => t?.status === 'running'),
      10_000,
      'four tasks running at once',
    );
    await f().waitTerminal(several);
    const events = await f().sup.store.listAgentEvents('cc-1');
    expect(events.map((e) => e.reason).slice(-2)).toEqual([
      'settings by bootstrap admin: concurrency as registered → 1',
      'settings by bootstrap admin: concurrency 1 → as registered',
    ]);
  }, 90_000);

  it('a disabled type stops reaching the worker, its queued tasks move to another at once, and it runs them again once re-enabled', async () => {
    // No spill and a long reconciler grace: only the move of the settings can send the tasks elsewhere in time.
    fleet = await Fleet.start({
      env: { TASKFLEET_SPILL_AFTER_MS: '60000', TASKFLEET_RECONCILE_INTERVAL_MS: '60000' },
    });
    await f().spawnWorker({ id: 'ds-a', concurrency: 1 });
    await known([], ['echo', 'fail', 'judge', 'sleep']);
    // One long task occupies ds-a; three more wait in its pool's queue, the only pool there is.
    const [long] = await ids(sleeps(1, 2_000));
    await waitFor(async () => (await f().sup.store.getTask(long!))?.status === 'running', 10_000, 'the long task');
    const waiting = await ids(sleeps(3, 50));
    await f().spawnWorker({ id: 'ds-b', capabilities: ['x'], concurrency: 4 });
    await known(['x'], ['echo', 'fail', 'judge', 'sleep']);

    const res = await f().request('PATCH', '/v1/agents/ds-a', { disabledTypes: ['sleep'] });
    expect(res.body).toMatchObject({ disabledTypes: ['sleep'], types: ['echo', 'fail', 'judge'] });
    const moved = await f().waitTerminal(waiting, 15_000);
    expect(moved.map((t) => [t.status, t.agentId])).toEqual(Array(3).fill(['succeeded', 'ds-b']));
    const [first] = await f().waitTerminal([long!]);
    expect(first).toMatchObject({ status: 'succeeded', agentId: 'ds-a' });

    // Tasks of the disabled type submitted now go to ds-b, the only pool that serves it.
    const elsewhere = await f().waitTerminal(await ids(sleeps(3, 50)), 15_000);
    expect(elsewhere.map((t) => [t.status, t.agentId])).toEqual(Array(3).fill(['succeeded', 'ds-b']));

    // With ds-b suspended, ds-a runs echo from the queue of its new pool (echo+fail~), and nothing of sleep.
    expect((await f().request('POST', '/v1/agents/ds-b/suspend')).status).toBe(200);
    await known([], ['echo', 'fail', 'judge']);
    const echo = async () => f().waitTerminal(await ids([{ type: 'echo', payload: {} }]), 15_000);
    expect((await echo()).map((t) => [t.status, t.agentId])).toEqual([['succeeded', 'ds-a']]);
    const parked = await ids(sleeps(1, 50));
    // No live worker serves sleep now (the directory reads the agents again within a quarter second).
    await waitFor(
      async () => (await f().request('GET', `/v1/tasks/${parked[0]}`)).body.routable === false,
      5_000,
      'the sleep task to show unroutable',
    );
    expect(await f().sup.store.getTask(parked[0]!)).toMatchObject({ status: 'queued' });

    // Re-enabled: the sleep task that waited, and new ones, run on ds-a.
    await f().request('PATCH', '/v1/agents/ds-a', { disabledTypes: [] });
    const back = await f().waitTerminal([...parked, ...(await ids(sleeps(2, 50)))], 15_000);
    expect(back.map((t) => [t.status, t.agentId])).toEqual(Array(3).fill(['succeeded', 'ds-a']));
  }, 90_000);
});
