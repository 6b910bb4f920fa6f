import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../src/cli/redisBootstrap';
import { routeKey } from '../../src/domain/capabilities';
import { Fleet, REDIS_URL, waitFor } from '../helpers/fleet';
import { countPasses } from '../helpers/passes';

async function exactlyOneResult(fleet: Fleet, ids: string[]): Promise<void> {
  for (const id of ids) {
    const events = await fleet.sup.store.listTaskEvents(id);
    expect(events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
  }
}

describe('a worker killed with SIGKILL', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('loses no task: its tasks finish elsewhere after the lease expires, each with one result', async () => {
    fleet = await Fleet.start();
    const victim = await fleet.spawnWorker({ id: 'victim', concurrency: 4 });
    const tasks = await fleet.submitBatch(Array.from({ length: 4 }, () => ({ type: 'sleep', payload: { ms: 2000 } })));
    const ids: string[] = tasks.map((t: { id: string }) => t.id);
    await waitFor(
      async () =>
        (await Promise.all(ids.map((id) => fleet.sup.store.getTask(id)))).every((t) => t?.status === 'running'),
      10_000,
      'the victim to start all four tasks',
    );
    const survivor = fleet.spawnWorker({ id: 'survivor', concurrency: 4 });
    victim.child.kill('SIGKILL');
    await survivor;
    const done = await fleet.waitTerminal(ids, 30_000);
    for (const t of done) {
      expect(t.status).toBe('succeeded');
      expect(t.agentId).toBe('survivor');
      expect(t.attempt).toBe(2);
      const kinds = (await fleet.sup.store.listTaskEvents(t.id)).map((e) => e.kind);
      // Whichever comes first takes the task back: the lease reaper (lease expired) or the heartbeat
      // enforcer suspending the silent agent (lease reclaimed).
      expect(kinds).toEqual([
        'submitted',
        'started',
        expect.stringMatching(/^lease_(expired|reclaimed)$/),
        'retry_scheduled',
        'started',
        'succeeded',
      ]);
    }
    await exactlyOneResult(fleet, ids);
  }, 60_000);
});

describe('a dispatch batch', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('is left alone while its job waits, and each of its tasks is re-sent once the job is lost', async () => {
    fleet = await Fleet.start();
    const reconciler = countPasses(fleet.sup.reconciler, 'reconcile');
    const route = routeKey('echo', []);
    const redis = new Redis(REDIS_URL);
    const queue = new Queue(route, { connection: redis, prefix: fleet.config.redisPrefix });
    try {
      // The supervisor's first pass on a Redis without its sentinel re-sends every queued task (a full pass): on
      // a loaded machine it can come after the submission below, and would send the batch's tasks a second time.
      const sentinel = `${fleet.config.redisPrefix}:reconciler:sentinel`;
      await waitFor(async () => (await redis.exists(sentinel)) === 1, 30_000, 'the first (full) reconciler pass');
      const ids: string[] = (
        await fleet.submitBatch(Array.from({ length: 6 }, (_, i) => ({ type: 'echo', payload: i })))
      ).map((t: { id: string }) => t.id);
      const prioritized = `${fleet.config.redisPrefix}:${route}:prioritized`;
      const [batch] = await redis.zrange(prioritized, 0, -1);
      expect(batch).toMatch(new RegExp(`^${ids[0]}-0~`));
      // Three reconciler passes that checked every task of the batch (past its grace period): each found
      // the tasks present through the batch's job and re-sent none of them.
      const passes = await reconciler.next(
        3,
        'three reconciler passes over the batch',
        (pass) => pass.mode === 'stale' && pass.checked >= ids.length,
      );
      expect(passes.map((pass) => pass.sent)).toEqual([0, 0, 0]);
      expect(await redis.zrange(prioritized, 0, -1)).toEqual([batch]);
      // Lost without a claim: every task of it is re-sent, and a worker then runs each once.
      await queue.remove(batch!);
      await waitFor(async () => (await redis.zcard(prioritized)) > 0, 10_000, 'the re-sent jobs');
      await fleet.spawnWorker({ id: 'after-loss', concurrency: 4 });
      const done = await fleet.waitTerminal(ids, 30_000);
      expect(done.every((t) => t.status === 'succeeded' && t.attempt === 1)).toBe(true);
      await exactlyOneResult(fleet, ids);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  }, 60_000);
});

describe('Redis faults (a private redis-server)', () => {
  let redis: PrivateRedis;
  let fleet: Fleet;
  beforeEach(async () => {
    redis = await startPrivateRedis();
  });
  afterEach(async () => {
    await fleet?.stop();
    await redis?.stop();
  });

  const startFleet = async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_REDIS_URL: redis.url } });
    await fleet.spawnWorker({ id: 'r1', concurrency: 8 });
    await fleet.spawnWorker({ id: 'r2', concurrency: 8 });
  };
  const submitMany = async (n: number) =>
    (
      await fleet.submitBatch(Array.from({ length: n }, (_, i) => ({ type: 'sleep', payload: { ms: 20 + (i % 5) } })))
    ).map((t: { id: string }) => t.id);
  const succeededCount = async (ids: string[]) =>
    (await Promise.all(ids.map((id) => fleet.sup.store.getTask(id)))).filter((t) => t?.status === 'succeeded').length;

  it('recovers from FLUSHALL in the middle of a run: every task completes exactly once', async () => {
    await startFleet();
    const ids = await submitMany(400);
    await waitFor(async () => (await succeededCount(ids)) >= 40, 20_000, 'some progress');
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    const more = await submitMany(100);
    const done = await fleet.waitTerminal([...ids, ...more], 60_000);
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    await exactlyOneResult(fleet, [...ids, ...more]);
  }, 90_000);

  it('recovers from a Redis restart: workers resume consuming and submissions during the outage are kept', async () => {
    await startFleet();
    const ids = await submitMany(300);
    await waitFor(async () => (await succeededCount(ids)) >= 30, 20_000, 'some progress');
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    // Accepted means durable: with Redis down the API still stores the task (and says so).
    const during = await fleet.submit({ type: 'echo', payload: 'during the outage' });
    expect(during.status).toBe('queued');
    // Redis stays down until the supervisor has seen the outage (its readiness check finds Redis unreachable).
    await waitFor(
      async () => (await fleet.request('GET', '/readyz')).body?.redis === 'unreachable',
      10_000,
      'the supervisor to see Redis down',
    );
    redis = await startPrivateRedis(port);
    const after = await submitMany(50);
    const all = [...ids, during.id, ...after];
    const done = await fleet.waitTerminal(all, 60_000);
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    await exactlyOneResult(fleet, all);
    // Both workers are still consuming after the reconnect.
    const burst = await submitMany(60);
    const burstDone = await fleet.waitTerminal(burst, 30_000);
    expect(new Set(burstDone.map((t) => t.agentId))).toEqual(new Set(['r1', 'r2']));
  }, 120_000);
});

describe('a restarted supervisor', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('loses nothing: tasks accepted before the stop complete after the restart', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 's1', concurrency: 4 });
    const ids: string[] = (
      await fleet.submitBatch(Array.from({ length: 50 }, () => ({ type: 'sleep', payload: { ms: 50 } })))
    ).map((t: { id: string }) => t.id);
    await fleet.sup.stop();
    await fleet.startSupervisor();
    const done = await fleet.waitTerminal(ids, 30_000);
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    await exactlyOneResult(fleet, ids);
  }, 60_000);
});
