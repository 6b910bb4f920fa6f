/**
 * The agent API and routability over real HTTP, with a real worker process (from the built CLI in dist/)
 * registered against a real supervisor. Background loops are off: nothing here needs them.
 */
import { fileInspector, fleetFor, waitFor, type WorkerProcess } from '../helpers/fleet';
import { ISO, expectProblem } from '../helpers/http';
import { newTask } from '../contract/fixtures';

const redis = fileInspector();

describe('with one worker (api-w1, capabilities [gpu])', () => {
  const fleet = fleetFor(redis);
  let worker: WorkerProcess;

  beforeAll(async () => {
    worker = await fleet().spawnWorker({ id: 'api-w1', capabilities: ['gpu'] });
  });

  it('GET /v1/agents lists it: running, live, its capabilities and the types it can run', async () => {
    const res = await fleet().request('GET', '/v1/agents');
    expect(res.status).toBe(200);
    expect(res.body.agents).toHaveLength(1);
    const a = res.body.agents[0];
    expect(a).toMatchObject({
      id: 'api-w1',
      state: 'running',
      live: true,
      capabilities: ['gpu'],
      concurrency: 4,
      pid: worker.child.pid,
      runningTasks: 0,
    });
    expect(a.types).toEqual(expect.arrayContaining(['echo', 'sleep', 'fail']));
    expect(a.types).not.toContain('checksum'); // needs `fs`, which this worker lacks
    expect(a.lastHeartbeatAt).toMatch(ISO);
    expect(a.startedAt).toMatch(ISO);
    expect(a.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(a.heartbeatAgeMs).toBeLessThanOrEqual(3 * fleet().config.heartbeatIntervalMs);
    expect(typeof a.hostname).toBe('string');
    expect(typeof a.version).toBe('string');

    // The response agrees with the registry in the store.
    const stored = await fleet().sup.store.getAgent('api-w1');
    expect(stored).toMatchObject({
      id: 'api-w1',
      state: 'running',
      capabilities: ['gpu'],
      types: a.types,
      pid: worker.child.pid,
    });
    expect(await fleet().sup.store.listAgents()).toHaveLength(1);
  });

  it('GET /v1/agents/:id returns it, and 404 problem+json for an unknown agent', async () => {
    const res = await fleet().request('GET', '/v1/agents/api-w1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'api-w1',
      state: 'running',
      live: true,
      capabilities: ['gpu'],
      pid: worker.child.pid,
    });
    expect(res.body.types).not.toContain('checksum');

    expectProblem(await fleet().request('GET', '/v1/agents/no-such-agent'), 404, { code: 'not_found' });
    expect(await fleet().sup.store.getAgent('no-such-agent')).toBeNull();
  });

  it('GET /v1/agents/:id/events shows its registration (→ running), and 404 for an unknown agent', async () => {
    const res = await fleet().request('GET', '/v1/agents/api-w1/events');
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([
      { seq: expect.any(Number), at: expect.stringMatching(ISO), to: 'running', reason: 'registered' },
    ]);
    const stored = await fleet().sup.store.listAgentEvents('api-w1');
    expect(stored.map((e) => [e.fromState, e.toState, e.reason])).toEqual([[null, 'running', 'registered']]);

    expectProblem(await fleet().request('GET', '/v1/agents/no-such-agent/events'), 404, { code: 'not_found' });
  });

  it('marks a task routable only when a live agent has its type and covers its capabilities', async () => {
    const gpu = await fleet().request('POST', '/v1/tasks', {
      type: 'echo',
      requiredCapabilities: ['gpu'],
      payload: { run: 'me' },
    });
    expect(gpu.status).toBe(201);
    expect(gpu.body.routable).toBe(true);

    const fs = await fleet().request('POST', '/v1/tasks', { type: 'echo', requiredCapabilities: ['fs'] });
    expect(fs.status).toBe(201);
    expect(fs.body.routable).toBe(false);

    const noHandler = await fleet().request('POST', '/v1/tasks', { type: 'checksum' });
    expect(noHandler.status).toBe(201);
    expect(noHandler.body.routable).toBe(false);

    const plain = await fleet().request('POST', '/v1/tasks', { type: 'echo', payload: 'plain' });
    expect(plain.body.routable).toBe(true);

    // Routability is also reported on reads.
    const fsRead = await fleet().request('GET', `/v1/tasks/${fs.body.id}`);
    expect(fsRead.body).toMatchObject({ status: 'queued', routable: false });

    // The routable tasks really are run by the worker; the unroutable ones stay queued.
    const [gpuDone, plainDone] = await fleet().waitTerminal([gpu.body.id, plain.body.id], 20_000);
    expect(gpuDone).toMatchObject({ status: 'succeeded', result: { run: 'me' }, agentId: 'api-w1', attempt: 1 });
    expect(plainDone).toMatchObject({ status: 'succeeded', result: 'plain', agentId: 'api-w1' });
    expect((await fleet().sup.store.getTask(fs.body.id))?.status).toBe('queued');
    expect((await fleet().sup.store.getTask(noHandler.body.id))?.status).toBe('queued');
    expect(await fleet().storedTaskCount()).toBe(4);
  });
});

describe('after the only worker dies', () => {
  const fleet = fleetFor(redis);

  it('reports the agent as not live and its tasks as unroutable', async () => {
    const f = fleet();
    const w = await f.spawnWorker({ id: 'api-w2', capabilities: ['gpu'] });
    const before = await f.request('POST', '/v1/tasks', {
      type: 'sleep',
      requiredCapabilities: ['gpu'],
      payload: { ms: 1 },
    });
    expect(before.body.routable).toBe(true);

    w.child.kill('SIGKILL');
    await w.exited;
    await waitFor(
      async () => {
        const res = await f.request('GET', '/v1/agents/api-w2');
        return res.status === 200 && res.body.live === false;
      },
      10_000,
      'api-w2 to stop being live',
    );

    const after = await f.request('POST', '/v1/tasks', { type: 'sleep', requiredCapabilities: ['gpu'] });
    expect(after.status).toBe(201);
    expect(after.body.routable).toBe(false);
    expect((await f.request('GET', `/v1/tasks/${after.body.id}`)).body.routable).toBe(false);
  });
});

describe('GET /v1/agents: filters, paging, and agents gone a while', () => {
  const fleet = fleetFor(redis);

  beforeAll(async () => {
    const store = fleet().sup.store;
    const now = Date.now();
    const long = now - 3_600_000;
    for (const [id, caps, at] of [
      ['p-1', ['gpu'], now],
      ['p-2', ['fs'], now],
      ['p-3', ['fs', 'gpu'], now],
      ['p-4', ['gpu'], long],
      ['p-5', ['gpu'], now],
    ] as const) {
      await store.registerAgent(
        { id, capabilities: [...caps], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 'v' },
        at,
      );
    }
    // p-4 stopped an hour ago (scaled in), p-5 just now.
    await store.setAgentState({ agentId: 'p-4', to: 'stopped', reason: 'drained', now: long });
    await store.setAgentState({ agentId: 'p-5', to: 'stopped', reason: 'drained', now });
  });

  const ids = async (query: string) => {
    const res = await fleet().request('GET', `/v1/agents${query}`);
    expect(res.status).toBe(200);
    return { ids: (res.body.agents as Array<{ id: string }>).map((a) => a.id), next: res.body.nextCursor };
  };

  it('leaves out agents stopped long ago unless asked, filters by state and capability', async () => {
    expect((await ids('')).ids).toEqual(['p-1', 'p-2', 'p-3', 'p-5']);
    expect((await ids('?include=stopped')).ids).toEqual(['p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
    expect((await ids('?capability=gpu')).ids).toEqual(['p-1', 'p-3', 'p-5']);
    expect((await ids('?state=stopped&include=stopped')).ids).toEqual(['p-4', 'p-5']);
  });

  it('pages with a cursor, without overlap or gap', async () => {
    const first = await ids('?limit=2&include=stopped');
    expect(first).toEqual({ ids: ['p-1', 'p-2'], next: 'p-2' });
    const second = await ids(`?limit=2&include=stopped&cursor=${first.next}`);
    expect(second).toEqual({ ids: ['p-3', 'p-4'], next: 'p-4' });
    const last = await ids(`?limit=2&include=stopped&cursor=${second.next}`);
    expect(last).toEqual({ ids: ['p-5'], next: undefined });
  });

  it('answers 400 naming the field for a bad filter', async () => {
    const res = await fleet().request('GET', '/v1/agents?state=sleeping&limit=0');
    expectProblem(res, 400, { code: 'validation_failed' });
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['limit', 'state']);
  });
});

describe('GET /v1/agents/:id/metrics: the metrics history', () => {
  const fleet = fleetFor(redis, { env: { TASKFLEET_AGENT_METRICS_INTERVAL_MS: '1000' } });

  it('has a sample per interval of each agent that has not stopped, written once however many passes', async () => {
    const store = fleet().sup.store;
    const reg = (id: string) =>
      store.registerAgent(
        { id, capabilities: [], types: ['echo'], concurrency: 3, hostname: 'h', pid: 1, version: 'v' },
        Date.now(),
      );
    await reg('m-live');
    await reg('m-gone');
    await store.heartbeat({
      agentId: 'm-live',
      now: Date.now(),
      runningTasks: 2,
      metrics: { cpuPercent: 7.5, rssBytes: 1234, heapUsedBytes: 1 },
    });
    await store.setAgentState({ agentId: 'm-gone', to: 'stopped', reason: 'drained', now: Date.now() });
    const history = fleet().sup.agentMetrics;
    await history.sample();
    // A second supervisor's pass in the same interval stores nothing more.
    expect((await history.sample()).stored).toBe(0);
    const res = await fleet().request('GET', '/v1/agents/m-live/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ agentId: 'm-live', intervalMs: 1000 });
    expect(res.body.samples).toEqual([
      {
        at: expect.stringMatching(ISO),
        runningTasks: 2,
        concurrency: 3,
        cpuPercent: 7.5,
        rssBytes: 1234,
        heartbeatAgeMs: expect.any(Number),
      },
    ]);
    expect(Date.parse(res.body.samples[0].at) % 1000).toBe(0);
    expect((await fleet().request('GET', '/v1/agents/m-gone/metrics')).body.samples).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await fleet().request('GET', `/v1/agents/m-live/metrics?since=${future}`)).body.samples).toEqual([]);
  });

  it('answers 404 for an unknown agent and 400 for a bad since', async () => {
    expectProblem(await fleet().request('GET', '/v1/agents/nobody/metrics'), 404, { code: 'not_found' });
    expectProblem(await fleet().request('GET', '/v1/agents/m-live/metrics?since=yesterday'), 400, {
      code: 'validation_failed',
    });
  });
});

describe('GET /v1/agents?include=health: health scores for the page', () => {
  const fleet = fleetFor(redis);

  beforeAll(async () => {
    const store = fleet().sup.store;
    const now = Date.now();
    // Last heard from an hour ago (no heartbeat points, and the enforcer is off), so the scores hold still.
    const long = now - 3_600_000;
    for (const id of ['h-1', 'h-2', 'h-3'])
      await store.registerAgent(
        { id, capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 'v' },
        long,
      );
    await store.setAgentState({ agentId: 'h-3', to: 'suspended', reason: 'by an admin', now: long });
    // h-1 finished two attempts in the window: one succeeded, one failed.
    for (const outcome of ['succeeded', 'failed'] as const) {
      const [inserted] = await store.insertTasks([newTask({ createdAt: now - 2_000, notBefore: now - 2_000 })]);
      const taskId = inserted!.task.id;
      await store.claimTask({ taskId, attempt: 0, agentId: 'h-1', now: now - 1_500, leaseMs: 30_000 });
      const ref = { taskId, attempt: 1, agentId: 'h-1', now: now - 1_000 };
      if (outcome === 'succeeded') await store.completeTask({ ...ref, result: null });
      else
        await store.failTask({
          ...ref,
          error: { message: 'x', name: 'Error', kind: 'handler' },
          decision: { status: 'dead' },
        });
    }
  });

  it('gives each agent the score of its performance page, in one request, and only when asked', async () => {
    const res = await fleet().request('GET', '/v1/agents?include=health');
    expect(res.status).toBe(200);
    const scores = Object.fromEntries(
      (res.body.agents as Array<{ id: string; healthScore: number }>).map((a) => [a.id, a.healthScore]),
    );
    // Heartbeat 0 of 40 (an hour old), success 20 of 40 (one of two), headroom 20 of 20; no runs: full success;
    // a suspended agent takes no work: 0.
    expect(scores).toEqual({ 'h-1': 40, 'h-2': 60, 'h-3': 0 });
    for (const id of ['h-1', 'h-2', 'h-3']) {
      const perf = await fleet().request('GET', `/v1/agents/${id}/performance`);
      expect({ id, score: perf.body.healthScore }).toEqual({ id, score: scores[id] });
    }
    const plain = await fleet().request('GET', '/v1/agents');
    for (const a of plain.body.agents as Array<Record<string, unknown>>) expect(a).not.toHaveProperty('healthScore');
    const both = await fleet().request('GET', '/v1/agents?include=stopped,health');
    expect((both.body.agents as Array<{ healthScore?: number }>).map((a) => a.healthScore)).toEqual([40, 60, 0]);
  });

  it('answers 400 naming the field for an unknown include', async () => {
    const res = await fleet().request('GET', '/v1/agents?include=health,everything');
    expectProblem(res, 400, { code: 'validation_failed', field: 'include[1]' });
  });
});
