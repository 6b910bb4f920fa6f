/**
 * Dispatch to pools (issue 14), with real worker processes: a worker's Redis connections stay constant whatever
 * routes arrive; generic work goes to the general pool while it has room and spills to a wider pool when it has
 * none; a declared pool scaled to zero keeps its tasks routable and counted for its scaler; a pool that appears
 * takes the tasks that waited for it.
 */
import { Redis } from 'ioredis';
import { parseClientList, routeTasks, workerConnections } from '../../scripts/bench/shape';
import { portsOfProcess } from '../../scripts/bench/shapeFleet';
import type { TaskRecord } from '../../src/domain/task';
import { Fleet, REDIS_URL, waitFor } from '../helpers/fleet';

const GENERAL = { id: 'general', capabilities: [] as string[], concurrency: 2 };
const GPU = { id: 'gpu', capabilities: ['gpu'], concurrency: 2 };

describe('dispatch to pools', () => {
  let fleet: Fleet;
  let redis: Redis;
  beforeEach(() => {
    redis = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    redis.disconnect();
    await fleet?.stop();
  });

  async function connectionsOf(id: string): Promise<number> {
    const worker = fleet.workers.find((w) => w.id === id)!;
    const ports = portsOfProcess(worker.child.pid!);
    const clients = parseClientList((await redis.client('LIST')) as string);
    return workerConnections(clients, id, fleet.config.redisPrefix, ports.size > 0 ? ports : undefined).total;
  }

  /** Waits until the supervisor's view of the pools has both (it is read in the background, from cached agents). */
  async function bothPoolsKnown(): Promise<void> {
    const generic = { type: 'echo', capabilities: [] };
    await waitFor(() => fleet.sup.placement.order(generic).length === 2, 10_000, 'the supervisor to know both pools');
  }

  it('keeps a worker at three Redis connections while tasks arrive over 192 routes', async () => {
    fleet = await Fleet.start();
    const capabilities = ['a', 'b', 'c', 'd', 'e', 'f'];
    await fleet.spawnWorker({ id: 'wide', capabilities, concurrency: 8 });
    // BullMQ opens the consumer's blocking connection just after the worker registers.
    await waitFor(async () => (await connectionsOf('wide')) === 3, 10_000, 'the worker to open its connections');
    const payloads: Record<string, unknown> = { echo: { hi: 1 }, sleep: { ms: 1 }, fail: { times: 0 } };
    const tasks = routeTasks(['echo', 'sleep', 'fail'], capabilities, (type) => payloads[type]);
    expect(tasks).toHaveLength(192);
    const ids = (await fleet.submitBatch(tasks)).map((t: { id: string }) => t.id);
    const done = await fleet.waitTerminal(ids, 60_000);
    expect(done.every((t) => t.status === 'succeeded' && t.agentId === 'wide')).toBe(true);
    expect(await connectionsOf('wide')).toBe(3);
  }, 90_000);

  it('runs generic tasks on the general pool while it has a free slot', async () => {
    fleet = await Fleet.start();
    await Promise.all([fleet.spawnWorker(GENERAL), fleet.spawnWorker(GPU)]);
    await bothPoolsKnown();
    const ran: TaskRecord[] = [];
    for (let i = 0; i < 8; i++) {
      const task = await fleet.submit({ type: 'echo', payload: { i } });
      ran.push(...(await fleet.waitTerminal([task.id])));
    }
    expect(ran.map((t) => [t.status, t.agentId])).toEqual(ran.map(() => ['succeeded', 'general']));
  }, 60_000);

  it('spills generic tasks to the wider pool while the general pool is full', async () => {
    fleet = await Fleet.start();
    await Promise.all([fleet.spawnWorker(GENERAL), fleet.spawnWorker(GPU)]);
    await bothPoolsKnown();
    // Two long tasks fill the general pool's two slots (they go there first: it is the tightest).
    const long = await fleet.submitBatch([0, 1].map(() => ({ type: 'sleep', payload: { ms: 5_000 } })));
    const longIds = long.map((t: { id: string }) => t.id);
    await waitFor(
      async () =>
        (await Promise.all(longIds.map((id) => fleet.sup.store.getTask(id)))).every((t) => t?.status === 'running'),
      10_000,
      'the long tasks to start',
    );
    const held = await Promise.all(longIds.map(async (id) => (await fleet.sup.store.getTask(id))!));
    expect(held.map((t) => t.agentId)).toEqual(['general', 'general']);
    const short = await fleet.submitBatch([0, 1, 2].map((i) => ({ type: 'echo', payload: { i } })));
    const done = await fleet.waitTerminal(
      short.map((t: { id: string }) => t.id),
      30_000,
    );
    // They ran on the GPU pool, and before the general pool had a slot again.
    const generalFreeAt = Math.min(...(await fleet.waitTerminal(longIds, 30_000)).map((t) => t.finishedAt!));
    for (const t of done) {
      expect([t.status, t.agentId]).toEqual(['succeeded', 'gpu']);
      expect(t.finishedAt!).toBeLessThan(generalFreeAt);
    }
  }, 60_000);

  it('keeps the tasks of a declared pool without workers routable, counted for its scaler, until it appears', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker(GENERAL);
    const files = { type: 'echo', payload: { f: 1 }, requiredCapabilities: ['fs'] };
    const before = await fleet.submit(files);
    expect((await fleet.request('GET', `/v1/tasks/${before.id}`)).body.routable).toBe(false);

    const declared = await fleet.request('POST', '/v1/pools', {
      capabilities: ['fs'],
      types: ['checksum', 'echo', 'fail', 'sleep'],
    });
    expect(declared.status).toBe(201);
    const after = await fleet.submit(files);
    for (const id of [before.id, after.id]) {
      const view = await fleet.request('GET', `/v1/tasks/${id}`);
      expect([view.body.status, view.body.routable]).toEqual(['queued', true]);
    }
    const scaling = await fleet.request('GET', '/v1/scaling/pool?capabilities=fs&types=checksum,echo,fail,sleep');
    expect(scaling.body).toMatchObject({ queued: 2, desiredReplicas: 1 });

    await fleet.spawnWorker({ id: 'files', capabilities: ['fs'], concurrency: 2 });
    const done = await fleet.waitTerminal([before.id, after.id], 30_000);
    expect(done.map((t) => [t.status, t.agentId])).toEqual([
      ['succeeded', 'files'],
      ['succeeded', 'files'],
    ]);
  }, 60_000);

  it('gives the tasks no pool covered to the first pool that covers them', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker(GENERAL);
    const waiting = await fleet.submitBatch(
      [0, 1, 2].map((i) => ({ type: 'echo', payload: { i }, requiredCapabilities: ['zz'] })),
    );
    const ids = waiting.map((t: { id: string }) => t.id);
    expect((await fleet.request('GET', `/v1/tasks/${ids[0]}`)).body.routable).toBe(false);
    await fleet.spawnWorker({ id: 'late', capabilities: ['zz'], concurrency: 4 });
    const done = await fleet.waitTerminal(ids, 30_000);
    expect(done.map((t) => [t.status, t.agentId, t.attempt])).toEqual(ids.map(() => ['succeeded', 'late', 1]));
  }, 60_000);
});
