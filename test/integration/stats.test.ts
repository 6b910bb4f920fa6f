import { afterFailure } from '../../src/domain/transitions';
import { supervisorSettings } from '../../src/supervisor/settings';
import { FleetGauges } from '../../src/telemetry/gauges';
import { MemorySink, METRICS, Telemetry } from '../../src/telemetry/telemetry';
import { Fleet } from '../helpers/fleet';

describe('GET /v1/stats', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('reports queue, registry and coordination figures that match a known set of tasks', async () => {
    fleet = await Fleet.start({ loops: false });
    const store = fleet.sup.store;
    const now = Date.now();
    // echo~: 3 due, 1 delayed; echo~gpu: 2 due (one will run), 1 dead; plus 1 succeeded (ignored by queues)
    const plain = await fleet.submitBatch([1, 2, 3].map((i) => ({ type: 'echo', payload: i })));
    await fleet.submit({ type: 'echo', payload: 'later', delaySeconds: 600 });
    await fleet.submit({ type: 'echo', payload: 'nobody has fs', requiredCapabilities: ['fs'] });
    const gpu = await fleet.submitBatch(
      [1, 2, 3].map((i) => ({ type: 'echo', payload: i, requiredCapabilities: ['gpu'] })),
    );
    const agent = {
      id: 'fake',
      capabilities: ['gpu'],
      types: ['echo'],
      concurrency: 4,
      hostname: 'h',
      pid: 1,
      version: 't',
    };
    await store.registerAgent(agent, Date.now());
    const claim = async (id: string) => {
      const c = await store.claimTask({ taskId: id, attempt: 0, agentId: 'fake', now: Date.now(), leaseMs: 60_000 });
      if (!c.claimed) throw new Error('claim failed');
      return c.task;
    };
    await claim(gpu[0].id); // running
    const dying = await claim(gpu[1].id);
    await store.failTask({
      taskId: dying.id,
      attempt: 1,
      agentId: 'fake',
      now: Date.now(),
      error: { kind: 'handler', message: 'x' },
      decision: afterFailure({ attempt: 1, maxAttempts: 1 }, Date.now(), { baseMs: 1, maxMs: 1 }),
    });
    const done = await claim(plain[0].id);
    await store.completeTask({ taskId: done.id, attempt: 1, agentId: 'fake', now: Date.now(), result: 1 });
    await store.heartbeat({ agentId: 'fake', now: Date.now(), runningTasks: 1, metrics: null });

    const res = await fleet.request('GET', '/v1/stats');
    expect(res.status).toBe(200);
    const queues = Object.fromEntries(res.body.queues.map((q: { route: string }) => [q.route, q]));
    expect(queues['echo~']).toMatchObject({ queued: 2, delayed: 1, running: 0, dead: 0, routable: true });
    expect(queues['echo~gpu']).toMatchObject({ queued: 1, delayed: 0, running: 1, dead: 1, routable: true });
    expect(queues['echo~fs']).toMatchObject({ queued: 1, routable: false });
    expect(queues['echo~'].oldestQueuedAgeMs).toBeGreaterThanOrEqual(0);
    expect(queues['echo~'].oldestQueuedAgeMs).toBeLessThan(Date.now() - now + 1000);
    expect(res.body.registry).toMatchObject({ agents: 1, live: 1, capacity: 4, used: 1, utilisation: 0.25 });
    expect(res.body.registry.byState.running).toBe(1);
    expect(res.body.coordination).toMatchObject({
      windowSeconds: 60,
      submitted: 8,
      completed: 1,
      failed: 1,
      dead: 1,
      completionRate: 0.5,
      errorRate: 0.5,
    });
    // The fake gpu agent is the only known pool: the generic backlog (echo~) counts toward it too; echo~fs
    // is covered by no pool and counts nowhere.
    expect(res.body.pools).toEqual([
      {
        key: 'echo~gpu',
        capabilities: ['gpu'],
        types: ['echo'],
        declared: false,
        workers: 1,
        slots: 4,
        running: 1,
        freeSlots: 3,
        backlog: 3,
      },
    ]);
    expect((await fleet.request('GET', '/v1/stats?windowSeconds=10')).status).toBe(200);
    expect((await fleet.request('GET', '/v1/stats?windowSeconds=1')).status).toBe(400);
  });
});

describe('pool figures in /v1/stats, /metrics and the Application Insights gauges', () => {
  let fleet: Fleet;
  afterAll(() => fleet?.stop());

  it('counts each route in its tightest known pool, the same in all three', async () => {
    fleet = await Fleet.start({ loops: false });
    const agent = (id: string, capabilities: string[]) => ({
      id,
      capabilities,
      types: ['echo'],
      concurrency: 2,
      hostname: 'h',
      pid: 1,
      version: 't',
    });
    await fleet.sup.store.registerAgent(agent('gpu-1', ['gpu']), Date.now());
    await fleet.sup.store.registerAgent(agent('general-1', []), Date.now());
    await fleet.submitBatch([1, 2, 3].map((i) => ({ type: 'echo', payload: i })));
    await fleet.submit({ type: 'echo', payload: 0, requiredCapabilities: ['gpu'] });
    // Declared, no worker: a pool scaled to zero still takes the routes it covers most tightly.
    await fleet.request('POST', '/v1/pools', { types: ['checksum'], capabilities: ['fs'] });
    await fleet.submit({ type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['fs'] });

    const stats = (await fleet.request('GET', '/v1/stats')).body;
    const figures = stats.pools.map((p: Record<string, unknown>) => [p.key, p.declared, p.backlog, p.freeSlots]);
    expect(figures).toEqual([
      ['checksum~fs', true, 1, 0],
      ['echo~', false, 3, 2],
      ['echo~gpu', false, 1, 2],
    ]);

    const text = await (await fetch(`${fleet.url}/metrics`)).text();
    const gauge = (name: string, pool: string) =>
      Number(new RegExp(`^${name}\\{pool="${pool.replace(/[+~]/g, '\\$&')}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const keys = figures.map(([key]: [string]) => key);
    expect(keys.map((key: string) => gauge('taskfleet_pool_backlog', key))).toEqual([1, 3, 1]);
    expect(keys.map((key: string) => gauge('taskfleet_pool_free_slots', key))).toEqual([0, 2, 2]);

    const sink = new MemorySink();
    await new FleetGauges(
      {
        store: fleet.sup.store,
        clock: { now: () => Date.now() },
        staleAfterMs: supervisorSettings(fleet.config).staleAfterMs,
      },
      new Telemetry([sink]),
    ).report();
    const sent = (name: string) =>
      sink.items.filter((i) => i.name === name).map((i) => [i.properties.pool, i.value] as const);
    expect(sent(METRICS.poolBacklog)).toEqual([
      ['checksum~fs', 1],
      ['echo~', 3],
      ['echo~gpu', 1],
    ]);
    expect(sent(METRICS.poolFreeSlots)).toEqual([
      ['checksum~fs', 0],
      ['echo~', 2],
      ['echo~gpu', 2],
    ]);
  });
});
