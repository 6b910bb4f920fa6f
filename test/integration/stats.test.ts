import { afterFailure } from '../../src/domain/transitions';
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
    expect((await fleet.request('GET', '/v1/stats?windowSeconds=10')).status).toBe(200);
    expect((await fleet.request('GET', '/v1/stats?windowSeconds=1')).status).toBe(400);
  });
});
