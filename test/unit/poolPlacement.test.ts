/**
 * PoolPlacement (src/supervisor/poolPlacement.ts) against a real Redis: the pools' load is read from their
 * BullMQ queues under a prefix of this file's own; the agent directory is a double (live agents and declared
 * pools), and the clock is driven by hand so the view's age and the recount's spacing are exact.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import type { AgentRecord } from '../../src/domain/agent';
import type { Route } from '../../src/domain/capabilities';
import type { DeclaredPool } from '../../src/domain/pool';
import { QUEUE_PRIORITY } from '../../src/domain/task';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { PoolPlacement } from '../../src/supervisor/poolPlacement';
import { REDIS_URL } from '../helpers/fleet';

const REFRESH_MS = 100;
/** poolPlacement.ts's least time between two reads of the load for placements. */
const RECOUNT_MS = 5;
const GENERIC: Route = { type: 'echo', capabilities: [] };
const GPU_ONLY: Route = { type: 'echo', capabilities: ['gpu'] };
/** The pools of the agents below: general (no capability) is the tightest for a generic task. */
const GENERAL = 'echo+sleep~';
const GPU = 'echo+sleep~gpu';

function agent(id: string, capabilities: string[], concurrency: number): AgentRecord {
  return {
    id,
    capabilities,
    types: ['echo', 'sleep'],
    concurrency,
    state: 'running',
    hostname: 'h',
    pid: 1,
    version: 'v',
    startedAt: 0,
    lastHeartbeatAt: 0,
    runningTasks: 0,
    metrics: null,
    stateSource: 'agent',
    stateReason: 'registered',
    recycleRequestedAt: null,
    desiredConcurrency: null,
    disabledTypes: [],
    transport: 'redis',
    metadata: null,
  };
}

function declared(types: string[], capabilities: string[]): DeclaredPool {
  return {
    key: `${types.join('+')}~${capabilities.join('+')}`,
    types,
    capabilities,
    note: null,
    declaredBy: 'test',
    declaredAt: 0,
  };
}

describe('PoolPlacement', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const queues: Queue[] = [];
  let prefix: string;
  let live: AgentRecord[];
  let declarations: DeclaredPool[];
  let now: number;
  let placement: PoolPlacement;

  beforeEach(() => {
    prefix = `tftest-placement-${randomBytes(4).toString('hex')}`;
    live = [agent('general', [], 2), agent('gpu', ['gpu'], 2)];
    declarations = [];
    now = 1_000_000;
    placement = new PoolPlacement({
      directory: { live: async () => live, declared: async () => declarations },
      redis,
      prefix,
      clock: { now: () => now },
      refreshMs: REFRESH_MS,
      log: pino({ level: 'silent' }),
    });
  });

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await deleteKeysUnder(REDIS_URL, prefix);
  });

  afterAll(() => redis.quit());

  function queue(name: string): Queue {
    const q = new Queue(name, { connection: redis, prefix });
    queues.push(q);
    return q;
  }

  /** Jobs in a pool's queue as the dispatcher leaves them: prioritised, or plain waiting. */
  async function waitingJobs(pool: string, n: number, prioritised = true): Promise<void> {
    const q = queue(pool);
    for (let i = 0; i < n; i++) {
      await q.add('echo~', { taskId: `t${i}`, attempt: 0 }, prioritised ? { priority: QUEUE_PRIORITY.normal } : {});
    }
  }

  /** A job a worker has fetched: in the queue's active list. */
  async function activeJob(pool: string): Promise<void> {
    await redis.rpush(`${prefix}:${pool}:active`, randomBytes(4).toString('hex'));
  }

  describe('choosing a pool', () => {
    it('places on the tightest covering pool with a free slot', async () => {
      await placement.prepare([GENERIC]);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
      // A gpu task has one pool to go to; the generic one did not use up the gpu pool's slots.
      expect(placement.place(GPU_ONLY, true)).toBe(GPU);
      expect(placement.queuesFor(GENERIC)).toEqual([GENERAL, GPU]);
    });

    it('places on the next covering pool when the tightest has its slots taken in Redis', async () => {
      await activeJob(GENERAL);
      await waitingJobs(GENERAL, 1);
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC).map((p) => [p.key, p.free])).toEqual([
        [GENERAL, 0],
        [GPU, 2],
      ]);
      expect(placement.place(GENERIC, true)).toBe(GPU);
    });

    it('counts plain waiting jobs as well as prioritised ones', async () => {
      await waitingJobs(GENERAL, 2, false);
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC)[0]).toMatchObject({ key: GENERAL, waiting: 2, free: 0 });
      expect(placement.place(GENERIC, true)).toBe(GPU);
    });

    it('places on the tightest covering pool when none has a free slot', async () => {
      await waitingJobs(GENERAL, 3);
      await activeJob(GPU);
      await activeJob(GPU);
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC).map((p) => p.free)).toEqual([0, 0]);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
    });

    it('takes no slot for a task placed uncounted (a delayed one), which goes to the tightest pool', async () => {
      live = [agent('general', [], 1), agent('gpu', ['gpu'], 2)];
      await placement.prepare([GENERIC]);
      expect(placement.place(GENERIC, false)).toBe(GENERAL);
      expect(placement.place(GENERIC, false)).toBe(GENERAL);
      expect(placement.order(GENERIC)[0]!.free).toBe(1);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
      // The general pool is now full by this placement's count: due tasks go on, a delayed one still does not.
      expect(placement.place(GENERIC, true)).toBe(GPU);
      expect(placement.place(GENERIC, false)).toBe(GENERAL);
      expect(placement.order(GENERIC).map((p) => p.free)).toEqual([0, 1]);
    });
  });

  describe('routes without a live pool', () => {
    it('parks a route no known pool covers in its route queue', async () => {
      const uncovered: Route = { type: 'echo', capabilities: ['fs', 'zz'] };
      await placement.prepare([uncovered]);
      expect(placement.place(uncovered, true)).toBe('echo~fs+zz');
      expect(placement.place(uncovered, false)).toBe('echo~fs+zz');
      expect(placement.queuesFor(uncovered)).toEqual(['echo~fs+zz']);
      // A type no pool handles parks too, whatever the capabilities.
      expect(placement.place({ type: 'resize', capabilities: [] }, true)).toBe('resize~');
    });

    it('parks everything before the first view of the pools', () => {
      expect(placement.view).toBeNull();
      expect(placement.place(GENERIC, true)).toBe('echo~');
      expect(placement.queuesFor(GENERIC)).toEqual(['echo~']);
    });

    it('knows a declared pool with no live worker: places its tasks there and checks its queue', async () => {
      declarations = [declared(['checksum', 'echo'], ['fs'])];
      const files: Route = { type: 'checksum', capabilities: ['fs'] };
      await placement.prepare([files]);
      expect(placement.order(files)).toEqual([
        expect.objectContaining({ key: 'checksum+echo~fs', workers: 0, slots: 0, free: 0 }),
      ]);
      expect(placement.place(files, true)).toBe('checksum+echo~fs');
      expect(placement.queuesFor(files)).toEqual(['checksum+echo~fs']);
      // A generic echo task still prefers a live pool with room, the declared one being wider.
      expect(placement.queuesFor(GENERIC)).toEqual([GENERAL, 'checksum+echo~fs', GPU]);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
    });

    it('counts a declared pool once when its workers are live too', async () => {
      declarations = [declared(['echo', 'sleep'], ['gpu'])];
      await placement.prepare();
      expect(placement.view!.pools.filter((p) => p.key === GPU)).toEqual([
        expect.objectContaining({ workers: 1, slots: 2 }),
      ]);
    });
  });

  describe('counting between refreshes', () => {
    it("counts its own placements against a pool's free slots until the next read", async () => {
      await placement.prepare([GENERIC]);
      expect([1, 2, 3, 4, 5].map(() => placement.place(GENERIC, true))).toEqual([GENERAL, GENERAL, GPU, GPU, GENERAL]);
      expect(placement.order(GENERIC).map((p) => p.free)).toEqual([-1, 0]);
    });

    it('recounts a contended route before placing: the slots its own count filled are free again in Redis', async () => {
      await placement.prepare([GENERIC]);
      placement.place(GENERIC, true);
      placement.place(GENERIC, true);
      // These placements were never sent, so Redis holds nothing; but within RECOUNT_MS of the last read the
      // count stands...
      await placement.prepare([GENERIC]);
      expect(placement.place(GENERIC, true)).toBe(GPU);
      // ...and after it, preparing a route whose tightest pool looks full reads the load again.
      now += RECOUNT_MS;
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC).map((p) => p.free)).toEqual([2, 2]);
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
    });

    it('recounts only for a route with a choice of pools', async () => {
      await placement.prepare([GPU_ONLY]);
      placement.place(GPU_ONLY, true);
      placement.place(GPU_ONLY, true);
      now += RECOUNT_MS;
      // The gpu pool is the only one for a gpu task: its own count stands.
      await placement.prepare([GPU_ONLY]);
      expect(placement.order(GPU_ONLY)[0]!.free).toBe(0);
      // A generic route does have a choice, but its tightest pool (general) is not full.
      await placement.prepare([GENERIC]);
      expect(placement.order(GPU_ONLY)[0]!.free).toBe(0);
      // Once it is, the recount reads every pool's queue.
      placement.place(GENERIC, true);
      placement.place(GENERIC, true);
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC).map((p) => p.free)).toEqual([2, 2]);
    });

    it('sees in the recount the jobs that did reach Redis', async () => {
      await placement.prepare([GENERIC]);
      placement.place(GENERIC, true);
      placement.place(GENERIC, true);
      await waitingJobs(GENERAL, 2);
      now += RECOUNT_MS;
      await placement.prepare([GENERIC]);
      expect(placement.order(GENERIC)[0]).toMatchObject({ key: GENERAL, waiting: 2, free: 0 });
      expect(placement.place(GENERIC, true)).toBe(GPU);
    });
  });

  describe('pools that appear', () => {
    it('reports nothing on the first view, then a pool that became known between two refreshes, once', async () => {
      await placement.refresh();
      expect(placement.takeAppeared()).toEqual([]);
      live = [...live, agent('files', ['fs'], 4)];
      await placement.refresh();
      // A second worker of a known pool is no new pool.
      live = [...live, agent('general-2', [], 2)];
      declarations = [declared(['checksum'], ['fs'])];
      await placement.refresh();
      expect(placement.takeAppeared()).toEqual([
        { types: ['echo', 'sleep'], capabilities: ['fs'] },
        { types: ['checksum'], capabilities: ['fs'] },
      ]);
      expect(placement.takeAppeared()).toEqual([]);
      await placement.refresh();
      expect(placement.takeAppeared()).toEqual([]);
    });

    it('reports a pool that went away and came back', async () => {
      await placement.refresh();
      live = [agent('general', [], 2)];
      await placement.refresh();
      expect(placement.takeAppeared()).toEqual([]);
      live = [agent('general', [], 2), agent('gpu', ['gpu'], 2)];
      await placement.refresh();
      expect(placement.takeAppeared()).toEqual([{ types: ['echo', 'sleep'], capabilities: ['gpu'] }]);
    });

    it('reports a pool that vanished (its last worker left or moved to another pool), once', async () => {
      await placement.refresh();
      expect(placement.takeVanished()).toEqual([]);
      live = [agent('general', [], 2)];
      await placement.refresh();
      expect(placement.takeVanished()).toEqual([{ types: ['echo', 'sleep'], capabilities: ['gpu'] }]);
      expect(placement.takeVanished()).toEqual([]);
      // An admin disabled `sleep` on the last worker of the general pool: it moves to the pool of `echo` alone.
      live = [{ ...agent('general', [], 2), types: ['echo'], disabledTypes: ['sleep'] }];
      await placement.refresh();
      expect(placement.takeVanished()).toEqual([{ types: ['echo', 'sleep'], capabilities: [] }]);
      expect(placement.takeAppeared()).toEqual([{ types: ['echo'], capabilities: [] }]);
    });
  });

  describe('the age of the view', () => {
    it('reads a view older than four refresh intervals again before placing', async () => {
      await placement.prepare([GENERIC]);
      const first = placement.view!.at;
      live = [agent('gpu', ['gpu'], 2)];
      now += 4 * REFRESH_MS + 1;
      await placement.prepare([GENERIC]);
      expect(placement.view!.at).toBe(now);
      expect(first).toBeLessThan(now);
      expect(placement.place(GENERIC, true)).toBe(GPU);
    });

    it('places on the view it has while a younger stale view is read again', async () => {
      await placement.prepare([GENERIC]);
      live = [agent('gpu', ['gpu'], 2)];
      now += 4 * REFRESH_MS;
      await placement.prepare([GENERIC]);
      // The read started in the background; this placement used the view it had.
      expect(placement.place(GENERIC, true)).toBe(GENERAL);
      await placement.refresh();
      expect(placement.place(GENERIC, true)).toBe(GPU);
    });
  });
});
