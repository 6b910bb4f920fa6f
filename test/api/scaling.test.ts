import { Fleet } from '../helpers/fleet';

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
