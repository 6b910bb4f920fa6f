/**
 * The rebalancer (src/supervisor/rebalancer.ts) and the upgrade path from per-route queues, driven by hand on a
 * real supervisor without loops. Agents are registered straight in the store where only Redis is looked at (a
 * long heartbeat interval keeps them live without heartbeats); a worker process runs the task where one must
 * really run. test/integration/placement.test.ts covers the same behaviour end to end with loops on.
 */
import { Queue } from 'bullmq';
import { routeKey } from '../../src/domain/capabilities';
import { poolKey } from '../../src/domain/pool';
import { QUEUE_PRIORITY, dispatchRefs, jobId, type DispatchMessage } from '../../src/domain/task';
import { builtinHandlers } from '../../workers/handlers';
import { keysUnder, waitFor, fleetPerTest, type Fleet } from '../helpers/fleet';

/** What a worker registers: every built-in handler its capabilities allow (as a worker process does). */
const typesFor = (capabilities: readonly string[]) =>
  builtinHandlers({ checksumRoot: null })
    .filter((h) => (h.capabilities ?? []).every((c) => capabilities.includes(c)))
    .map((h) => h.type)
    .sort();
const poolOf = (capabilities: string[]) => poolKey({ capabilities, types: typesFor(capabilities) });
const GENERAL = poolOf([]);
const GPU = poolOf(['gpu']);
const ZZ = poolOf(['zz']);

/** Store-registered agents send no heartbeats: they stay live for three of these intervals. */
const QUIET = { TASKFLEET_HEARTBEAT_INTERVAL_MS: '20000', TASKFLEET_LEASE_DURATION_MS: '60000' };

describe('the rebalancer', () => {
  const { redis, start } = fleetPerTest();

  async function register(
    fleet: Fleet,
    id: string,
    capabilities: string[],
    concurrency: number,
    types = typesFor(capabilities),
  ) {
    await fleet.sup.store.registerAgent(
      { id, capabilities, types, concurrency, hostname: 'h', pid: 1, version: 't' },
      Date.now(),
    );
  }

  /** Waits until the supervisor's placement knows these pools (its agent directory caches the agents briefly). */
  async function known(fleet: Fleet, ...pools: string[]) {
    await waitFor(
      async () => {
        const view = await fleet.sup.placement.refresh();
        return pools.every((key) => view.pools.some((p) => p.key === key));
      },
      10_000,
      `the placement to know ${pools.join(', ')}`,
    );
  }

  /** The task ids whose doorbells wait in a queue (lone jobs and batches alike), sorted. */
  async function doorbells(fleet: Fleet, queue: string): Promise<string[]> {
    const base = `${fleet.config.redisPrefix}:${queue}`;
    const ids = [
      ...(await redis.zrange(`${base}:prioritized`, 0, -1)),
      ...(await redis.lrange(`${base}:wait`, 0, -1)),
      ...(await redis.zrange(`${base}:delayed`, 0, -1)),
    ];
    const tasks: string[] = [];
    for (const id of ids) {
      const data = await redis.hget(`${base}:${id}`, 'data');
      if (data) tasks.push(...dispatchRefs(JSON.parse(data) as DispatchMessage).map((r) => r.taskId));
    }
    return tasks.sort();
  }

  async function submitEcho(fleet: Fleet, n: number, requiredCapabilities: string[] = []): Promise<string[]> {
    const tasks = await fleet.submitBatch(
      Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { i }, requiredCapabilities })),
    );
    return tasks.map((t: { id: string }) => t.id);
  }

  /** Waits until every task has been due for longer than `ms`. */
  async function dueFor(fleet: Fleet, ids: string[], ms: number) {
    const tasks = await Promise.all(ids.map(async (id) => (await fleet.sup.store.getTask(id))!));
    const latest = Math.max(...tasks.map((t) => t.notBefore));
    await waitFor(() => Date.now() > latest + ms, ms + 10_000, `tasks due for ${ms} ms`);
  }

  describe('spilling from a busy pool', () => {
    const SPILL_MS = 300;
    const env = { ...QUIET, TASKFLEET_SPILL_AFTER_MS: String(SPILL_MS) };

    it('moves tasks due longer than the spill time to an open covering pool, no more than its free slots', async () => {
      const fleet = await start(env);
      await register(fleet, 'general', [], 1);
      await known(fleet, GENERAL);
      const ids = await submitEcho(fleet, 4);
      expect(await doorbells(fleet, GENERAL)).toEqual([...ids].sort());

      await register(fleet, 'gpu', ['gpu'], 2);
      await known(fleet, GENERAL, GPU);
      await dueFor(fleet, ids, SPILL_MS);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 2, placed: 0 });
      const moved = await doorbells(fleet, GPU);
      expect(moved).toHaveLength(2);
      expect(ids).toEqual(expect.arrayContaining(moved));
      // The old doorbells stay (a claim is conditional, so whichever is rung second is refused).
      expect(await doorbells(fleet, GENERAL)).toEqual([...ids].sort());

      // The gpu pool's two slots are taken by what waits in its queue now: nothing more moves.
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 0 });
      expect(await doorbells(fleet, GPU)).toEqual(moved);
    });

    it('moves the tasks of a batch job that fills its pool, though the pool holds fewer jobs than slots', async () => {
      const fleet = await start(env);
      await register(fleet, 'general', [], 2);
      await known(fleet, GENERAL);
      const ids = await submitEcho(fleet, 2);
      // Submitted together: one job carries both dispatches.
      expect(await redis.zcard(`${fleet.config.redisPrefix}:${GENERAL}:prioritized`)).toBe(1);

      await register(fleet, 'gpu', ['gpu'], 2);
      await known(fleet, GENERAL, GPU);
      await dueFor(fleet, ids, SPILL_MS);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 2, placed: 0 });
      expect(await doorbells(fleet, GPU)).toEqual([...ids].sort());
    });

    it('moves nothing while no covering pool is open', async () => {
      const fleet = await start(env);
      await register(fleet, 'general', [], 1);
      await register(fleet, 'gpu', ['gpu'], 1);
      // A declared pool without a worker covers the route too: it has no slot to offer.
      await fleet.sup.store.declarePool({
        key: 'echo+fail+sleep~yy+zz',
        capabilities: ['yy', 'zz'],
        types: ['echo', 'fail', 'sleep'],
        note: null,
        declaredBy: 'test',
        declaredAt: Date.now(),
      });
      await known(fleet, GENERAL, GPU, 'echo+fail+sleep~yy+zz');
      const ids = await submitEcho(fleet, 3);
      const general = await doorbells(fleet, GENERAL);
      const gpu = await doorbells(fleet, GPU);
      // One task per free slot, the rest on the tightest pool.
      expect([general.length, gpu.length]).toEqual([2, 1]);

      await dueFor(fleet, ids, SPILL_MS);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 0 });
      expect(await doorbells(fleet, GENERAL)).toEqual(general);
      expect(await doorbells(fleet, GPU)).toEqual(gpu);
      expect(await doorbells(fleet, 'echo+fail+sleep~yy+zz')).toEqual([]);
    });
  });

  it('leaves a task due for less than the spill time where it is', async () => {
    // Long enough that the fresh task cannot reach it between its submission and the pass.
    const spillMs = 2_000;
    const fleet = await start({ ...QUIET, TASKFLEET_SPILL_AFTER_MS: String(spillMs) });
    await register(fleet, 'general', [], 1);
    await known(fleet, GENERAL);
    const old = await submitEcho(fleet, 2);
    await dueFor(fleet, old, spillMs);
    const [fresh] = await submitEcho(fleet, 1);
    await register(fleet, 'gpu', ['gpu'], 8);
    await known(fleet, GENERAL, GPU);

    expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 2, placed: 0 });
    expect(await doorbells(fleet, GPU)).toEqual([...old].sort());
    expect(await doorbells(fleet, GENERAL)).toEqual([...old, fresh!].sort());
  });

  describe('a pool that appears', () => {
    it('takes at the next pass the tasks parked while no pool covered their route', async () => {
      const fleet = await start(QUIET);
      await register(fleet, 'general', [], 4);
      await known(fleet, GENERAL);
      const parked = await submitEcho(fleet, 3, ['zz']);
      const [generic] = await submitEcho(fleet, 1);
      expect(await doorbells(fleet, routeKey('echo', ['zz']))).toEqual([...parked].sort());
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 0 });

      await register(fleet, 'late', ['zz'], 4);
      await known(fleet, GENERAL, ZZ);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 3 });
      // Only the parked tasks: the generic one had a pool already, though the new one covers it too.
      expect(await doorbells(fleet, ZZ)).toEqual([...parked].sort());
      expect(await doorbells(fleet, GENERAL)).toEqual([generic]);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 0 });
      expect(await doorbells(fleet, ZZ)).toEqual([...parked].sort());
    });

    it('gives the parked tasks to a pool an operator declared, which has no worker yet', async () => {
      const fleet = await start(QUIET);
      const parked = await submitEcho(fleet, 2, ['zz']);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 0 });
      await fleet.sup.store.declarePool({
        key: ZZ,
        capabilities: ['zz'],
        types: typesFor(['zz']),
        note: null,
        declaredBy: 'test',
        declaredAt: Date.now(),
      });
      await known(fleet, ZZ);
      expect(await fleet.sup.rebalancer.pass()).toEqual({ spilled: 0, placed: 2 });
      expect(await doorbells(fleet, ZZ)).toEqual([...parked].sort());
    });
  });

  describe('parking queues', () => {
    it("never removes a route's queue that is also a pool's queue", async () => {
      const fleet = await start(QUIET);
      // A pool of echo workers without capabilities: its key is the route key echo~.
      await register(fleet, 'echo-only', [], 2, ['echo']);
      await known(fleet, 'echo~');
      const [generic] = await submitEcho(fleet, 1);
      const parked = await submitEcho(fleet, 1, ['zz']);
      expect(await doorbells(fleet, 'echo~')).toEqual([generic]);
      expect(await doorbells(fleet, 'echo~zz')).toEqual(parked);

      await fleet.sup.store.declarePool({
        key: 'echo+sleep~zz',
        capabilities: ['zz'],
        types: ['echo', 'sleep'],
        note: null,
        declaredBy: 'test',
        declaredAt: Date.now(),
      });
      await known(fleet, 'echo~', 'echo+sleep~zz');
      expect(await fleet.sup.rebalancer.pruneParkingQueues()).toEqual(['echo~zz']);
      const prefix = fleet.config.redisPrefix;
      expect(await keysUnder(redis, `${prefix}:echo~zz`)).toEqual([]);
      expect(await redis.exists(`${prefix}:echo~:meta`)).toBe(1);
      expect(await doorbells(fleet, 'echo~')).toEqual([generic]);
      expect(await fleet.sup.rebalancer.pruneParkingQueues()).toEqual([]);
      expect(await doorbells(fleet, 'echo~')).toEqual([generic]);
    });
  });

  describe('upgrading from per-route queues', () => {
    it('re-sends a doorbell left in an old route queue to the pool, removes the queue, and runs the task once', async () => {
      const fleet = await start({ TASKFLEET_RECONCILE_INTERVAL_MS: '100' });
      // A first pass on this Redis sets the sentinel: later passes are stale passes, not full re-sends.
      expect(await fleet.sup.reconciler.reconcile()).toMatchObject({ mode: 'full', sent: 0 });
      const [id] = await submitEcho(fleet, 1);
      const task = (await fleet.sup.store.getTask(id!))!;

      // The doorbell as the previous version left it: in the route's queue, named by the type.
      const old = new Queue<DispatchMessage>(routeKey('echo', []), {
        connection: fleet.sup.dispatcher.redis,
        prefix: fleet.config.redisPrefix,
      });
      try {
        await old.remove(jobId(task.id, task.attempt));
        await old.add(
          'echo',
          { taskId: task.id, attempt: task.attempt },
          {
            jobId: jobId(task.id, task.attempt),
            priority: QUEUE_PRIORITY.normal,
            removeOnComplete: true,
            removeOnFail: true,
          },
        );
      } finally {
        await old.close();
      }
      expect(await doorbells(fleet, 'echo~')).toEqual([task.id]);

      await fleet.spawnWorker({ id: 'general', concurrency: 2 });
      await known(fleet, GENERAL);
      expect(await doorbells(fleet, GENERAL)).toEqual([]);
      let sent = 0;
      await waitFor(
        async () => {
          const result = await fleet.sup.reconciler.reconcile();
          expect(result.mode).toBe('stale');
          sent += result.sent;
          return sent > 0;
        },
        10_000,
        'the reconciler to re-send the task',
      );
      expect(sent).toBe(1);

      const prefix = fleet.config.redisPrefix;
      expect(await redis.exists(`${prefix}:echo~:meta`)).toBe(1);
      expect(await fleet.sup.rebalancer.pruneParkingQueues()).toEqual(['echo~']);
      // The queue's meta key and the old doorbell's job went with it.
      expect(await keysUnder(redis, `${prefix}:echo~`)).toEqual([]);

      const [done] = await fleet.waitTerminal([task.id], 30_000);
      expect([done!.status, done!.attempt, done!.agentId]).toEqual(['succeeded', 1, 'general']);
      const events = await fleet.sup.store.listTaskEvents(task.id);
      expect(events.map((e) => [e.kind, e.attempt])).toEqual([
        ['submitted', 0],
        ['started', 1],
        ['succeeded', 1],
      ]);
    });
  });
});
