import { Fleet, fileInspector, fleetFor, waitFor } from '../helpers/fleet';

describe('GET /v1/scaling/pool (for KEDA’s metrics-api scaler)', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false });
    // echo~: 3 due; echo~gpu: 2 due + 1 delayed; sleep~gpu+cuda: 4 due; checksum~fs: 1 due
    await fleet.submitBatch([
      ...[1, 2, 3].map(() => ({ type: 'echo', payload: 1 })),
      ...[1, 2].map(() => ({ type: 'echo', payload: 1, requiredCapabilities: ['gpu'] })),
      { type: 'echo', payload: 1, requiredCapabilities: ['gpu'], delaySeconds: 600 },
      ...[1, 2, 3, 4].map(() => ({ type: 'sleep', payload: { ms: 1 }, requiredCapabilities: ['gpu', 'cuda'] })),
      { type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['fs'] },
    ]);
  });
  afterAll(() => fleet?.stop());

  const pool = async (qs: string) => fleet.request('GET', `/v1/scaling/pool?${qs}`);

  // No pool is known here (no agent, no declaration): the pool asked about is the only candidate, so it counts
  // every route it covers.
  it('sums the backlog of every route the pool serves', async () => {
    const gpu = await pool('capabilities=gpu,cuda&types=echo,sleep&perReplica=2');
    expect(gpu.status).toBe(200);
    expect(gpu.body).toMatchObject({
      capabilities: ['cuda', 'gpu'],
      types: ['echo', 'sleep'],
      queued: 9,
      delayed: 1,
      running: 0,
      backlog: 9,
      desiredReplicas: 5,
    });
    expect([...gpu.body.routes].sort()).toEqual(['echo~', 'echo~gpu', 'sleep~cuda+gpu']);
  });

  it('counts only what the pool can run', async () => {
    expect((await pool('types=echo')).body).toMatchObject({ queued: 3, routes: ['echo~'], desiredReplicas: 1 });
    expect((await pool('capabilities=fs&types=checksum')).body).toMatchObject({ queued: 1, routes: ['checksum~fs'] });
    expect((await pool('capabilities=fs&types=sleep')).body).toMatchObject({
      queued: 0,
      backlog: 0,
      desiredReplicas: 0,
    });
  });

  it('rejects a pool without types or with a bad capability', async () => {
    expect((await pool('capabilities=gpu')).status).toBe(400);
    expect((await pool('types=echo&capabilities=BAD%20CAP')).status).toBe(400);
  });

  it('refuses a caller without a key', async () => {
    const res = await fleet.request('GET', '/v1/scaling/pool?types=echo', undefined, { authorization: '' });
    expect(res.status).toBe(401);
  });
});

/**
 * Each route's backlog counts toward one pool: the tightest of the known pools (live learned, declared) and the
 * pool asked about, so a gpu pool's scaler does not add gpu workers for generic work the general pool takes.
 */
describe('GET /v1/scaling/pool counts each route in its tightest pool only', () => {
  const fleet = fleetFor(fileInspector(), { each: true });
  const pool = async (qs: string) => (await fleet().request('GET', `/v1/scaling/pool?${qs}`)).body;
  const register = (id: string, capabilities: string[], concurrency: number) =>
    fleet().sup.store.registerAgent(
      { id, capabilities, types: ['echo', 'sleep'], concurrency, hostname: 'h', pid: 1, version: 't' },
      Date.now(),
    );
  const submitGenericAndGpu = () =>
    fleet().submitBatch([
      ...[1, 2, 3].map(() => ({ type: 'echo', payload: 1 })),
      ...[1, 2].map(() => ({ type: 'echo', payload: 1, requiredCapabilities: ['gpu'] })),
    ]);

  it('gives generic work to the general pool, not the gpu pool, when both are live', async () => {
    await register('general-1', [], 2);
    await register('gpu-1', ['gpu'], 4);
    const tasks = await submitGenericAndGpu();
    // One gpu task runs on gpu-1, as its heartbeat says.
    const gpuTask = tasks.find((t) => t.requiredCapabilities.length > 0)!;
    const now = Date.now();
    const claim = await fleet().sup.store.claimTask({
      taskId: gpuTask.id,
      attempt: gpuTask.attempt,
      agentId: 'gpu-1',
      now,
      leaseMs: 60_000,
    });
    expect(claim.claimed).toBe(true);
    await fleet().sup.store.heartbeat({ agentId: 'gpu-1', now, runningTasks: 1, metrics: null });
    // The supervisor caches the agents briefly; submitting read them before the heartbeat.
    const gpuQuery = 'capabilities=gpu&types=echo,sleep&perReplica=2';
    await waitFor(async () => (await pool(gpuQuery)).running === 1, 10_000, 'the heartbeat to be seen');

    expect(await pool(gpuQuery)).toMatchObject({
      pool: 'echo+sleep~gpu',
      routes: ['echo~gpu'],
      queued: 1,
      running: 1,
      backlog: 2,
      desiredReplicas: 1,
    });
    expect(await pool('types=sleep,echo&perReplica=2')).toMatchObject({
      pool: 'echo+sleep~',
      routes: ['echo~'],
      queued: 3,
      running: 0,
      backlog: 3,
      desiredReplicas: 2,
    });
    const pools = (await fleet().request('GET', '/v1/pools')).body.pools as Array<Record<string, unknown>>;
    expect(pools.map((p) => [p.key, p.backlog, p.routes, p.running, p.freeSlots])).toEqual([
      ['echo+sleep~', 3, ['echo~'], 0, 2],
      ['echo+sleep~gpu', 1, ['echo~gpu'], 1, 3],
    ]);
  });

  it('gives generic work to the gpu pool when it is the only known pool that covers it', async () => {
    await register('gpu-1', ['gpu'], 4);
    await submitGenericAndGpu();
    const gpu = await pool('capabilities=gpu&types=echo,sleep');
    expect(gpu).toMatchObject({ pool: 'echo+sleep~gpu', queued: 5, backlog: 5 });
    expect([...gpu.routes].sort()).toEqual(['echo~', 'echo~gpu']);
  });

  it('lets a pool asked about, neither live nor declared, take the routes it covers more tightly', async () => {
    await register('gpu-1', ['gpu'], 4);
    await submitGenericAndGpu();
    // A general pool scaled to zero and not declared: its scaler still sees the generic backlog and scales it up.
    expect(await pool('types=echo')).toMatchObject({
      pool: 'echo~',
      routes: ['echo~'],
      queued: 3,
      running: 0,
      desiredReplicas: 1,
    });
    // It is not known, so the gpu pool still stands for that backlog in the pool list.
    const pools = (await fleet().request('GET', '/v1/pools')).body.pools as Array<Record<string, unknown>>;
    expect(pools.map((p) => [p.key, p.backlog])).toEqual([['echo+sleep~gpu', 5]]);
  });

  it('counts nothing for a pool that covers no route more tightly than a known pool', async () => {
    await register('general-1', [], 2);
    await submitGenericAndGpu();
    expect(await pool('capabilities=gpu,cuda&types=echo,sleep,checksum')).toMatchObject({
      routes: ['echo~gpu'],
      queued: 2,
    });
    expect(await pool('capabilities=fs&types=echo')).toMatchObject({ routes: [], queued: 0, desiredReplicas: 0 });
  });
});
