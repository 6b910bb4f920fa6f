/**
 * Pools over real HTTP against a real supervisor (SQLite file + Redis under a private prefix, loops off):
 * declare, list, remove; validation; admin only; audit; routable through a declared pool scaled to zero; a
 * learned pool from a registered agent and from a real worker process.
 */
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor, waitFor } from '../helpers/fleet';
import { expectForbidden, expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('declared pools: POST, GET, DELETE /v1/pools', () => {
  const fleet = fleetFor(redis, { each: true });

  it('declares a pool (201, then 200 for the same signature), lists it, and removes it (204, then 404)', async () => {
    const body = { capabilities: ['FS'], types: ['echo', 'checksum', 'echo'], note: 'worker-files' };
    const created = await fleet().request('POST', '/v1/pools', body);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/pools/checksum%2Becho~fs');
    expect(created.body).toMatchObject({
      key: 'checksum+echo~fs',
      capabilities: ['fs'],
      types: ['checksum', 'echo'],
      declared: true,
      declaredBy: 'bootstrap admin',
      note: 'worker-files',
      workers: 0,
      slots: 0,
      freeSlots: 0,
      backlog: 0,
    });
    const again = await fleet().request('POST', '/v1/pools', { capabilities: ['fs'], types: ['checksum', 'echo'] });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ key: 'checksum+echo~fs', note: 'worker-files' });

    const list = await fleet().request('GET', '/v1/pools');
    expect(list.status).toBe(200);
    expect(list.body.pools.map((p: { key: string }) => p.key)).toEqual(['checksum+echo~fs']);

    expect((await fleet().request('DELETE', '/v1/pools/checksum+echo~fs')).status).toBe(204);
    expectProblem(await fleet().request('DELETE', '/v1/pools/checksum+echo~fs'), 404, { code: 'not_found' });
    expect((await fleet().request('GET', '/v1/pools')).body.pools).toEqual([]);
    expect(await fleet().sup.store.listDeclaredPools()).toEqual([]);
  });

  it.each([
    [{ capabilities: ['fs'] }, 'types'],
    [{ capabilities: ['fs'], types: [] }, 'types'],
    [{ capabilities: ['bad cap'], types: ['echo'] }, 'capabilities[0]'],
    [{ types: ['echo', 'No Good'] }, 'types[1]'],
    [{ types: ['echo'], note: 'n'.repeat(501) }, 'note'],
    [{ types: ['echo'], extra: 1 }, 'extra'],
    [{ types: 'echo' }, 'types'],
  ])('refuses %j with a 400 naming %s, storing nothing', async (body, field) => {
    expectProblem(await fleet().request('POST', '/v1/pools', body), 400, { code: 'validation_failed', field });
    expect(await fleet().sup.store.listDeclaredPools()).toEqual([]);
  });

  it('refuses a malformed key on DELETE with a 400 naming key', async () => {
    expectProblem(await fleet().request('DELETE', '/v1/pools/echo'), 400, { field: 'key' });
  });

  it('audits a declaration and a removal, not a repeated declaration', async () => {
    const keys: Keys = await makeKeys(fleet());
    const auth = { key: keys.admin.key };
    await fleet().request('POST', '/v1/pools', { types: ['echo'], capabilities: ['gpu'] }, {}, auth);
    await fleet().request('POST', '/v1/pools', { types: ['echo'], capabilities: ['gpu'] }, {}, auth);
    await fleet().request('DELETE', '/v1/pools/echo~gpu', undefined, {}, auth);
    const entries = (await fleet().sup.store.listAudit({ limit: 10 })).filter((e) => e.action.startsWith('pool.'));
    expect(entries.map((e) => [e.action, e.target, e.actor, e.actorName])).toEqual([
      ['pool.remove', 'pool:echo~gpu', keys.admin.id, 'ops'],
      ['pool.declare', 'pool:echo~gpu', keys.admin.id, 'ops'],
    ]);
    expect(entries[1]?.detail).toEqual({ capabilities: ['gpu'], types: ['echo'], note: null });
  });

  it('lets readers list pools but only admins declare or remove them (403, nothing changed)', async () => {
    const keys = await makeKeys(fleet());
    await fleet().request('POST', '/v1/pools', { types: ['echo'] });
    for (const key of [keys.reader.key, keys.submitter.key]) {
      expect((await fleet().request('GET', '/v1/pools', undefined, {}, { key })).status).toBe(200);
      expectForbidden(await fleet().request('POST', '/v1/pools', { types: ['sleep'] }, {}, { key }), ['admin']);
      expectForbidden(await fleet().request('DELETE', '/v1/pools/echo~', undefined, {}, { key }), ['admin']);
    }
    expect((await fleet().sup.store.listDeclaredPools()).map((p) => p.key)).toEqual(['echo~']);
  });
});

describe('a declared pool with no live worker makes its tasks routable', () => {
  const fleet = fleetFor(redis, { each: true });

  const routable = async (id: string) => (await fleet().request('GET', `/v1/tasks/${id}`)).body.routable as boolean;

  it('routable, in the pool backlog and the scaling figure while declared; not routable once removed', async () => {
    const task = await fleet().submit({ type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['fs'] });
    expect(task.routable).toBe(false);

    await fleet().request('POST', '/v1/pools', { capabilities: ['fs'], types: ['checksum', 'echo'] });
    expect(await routable(task.id)).toBe(true);
    const [pool] = (await fleet().request('GET', '/v1/pools')).body.pools;
    expect(pool).toMatchObject({
      key: 'checksum+echo~fs',
      declared: true,
      workers: 0,
      backlog: 1,
      routes: ['checksum~fs'],
    });
    const scaling = await fleet().request('GET', '/v1/scaling/pool?capabilities=fs&types=checksum,echo');
    expect(scaling.body).toMatchObject({
      pool: 'checksum+echo~fs',
      routes: ['checksum~fs'],
      queued: 1,
      running: 0,
      desiredReplicas: 1,
    });
    const stats = await fleet().request('GET', '/v1/stats');
    expect(stats.body.queues).toEqual([expect.objectContaining({ route: 'checksum~fs', routable: true })]);

    await fleet().request('DELETE', '/v1/pools/checksum+echo~fs');
    expect(await routable(task.id)).toBe(false);
    const after = await fleet().request('GET', '/v1/stats');
    expect(after.body.queues).toEqual([expect.objectContaining({ route: 'checksum~fs', routable: false })]);
  });

  it('sees a pool another supervisor declared (straight in the store) once its cache refreshes', async () => {
    const task = await fleet().submit({ type: 'echo', payload: 1, requiredCapabilities: ['gpu'] });
    expect(task.routable).toBe(false);
    await fleet().sup.store.declarePool({
      key: 'echo~gpu',
      capabilities: ['gpu'],
      types: ['echo'],
      note: null,
      declaredBy: 'elsewhere',
      declaredAt: Date.now(),
    });
    await waitFor(() => routable(task.id), 10_000, 'the declaration to be seen');
  });

  // The rule changed from "in every covering pool": a gpu pool that counted generic tasks would be scaled up
  // for work the dispatcher gives the general pool.
  it('counts a task in its tightest covering pool only, and a new declaration takes it over', async () => {
    await fleet().submit({ type: 'echo', payload: 1 });
    const gpu = await fleet().request('POST', '/v1/pools', { capabilities: ['gpu'], types: ['echo', 'sleep'] });
    expect(gpu.body).toMatchObject({ backlog: 1, routes: ['echo~'] });
    const general = await fleet().request('POST', '/v1/pools', { types: ['echo'] });
    expect(general.body).toMatchObject({ key: 'echo~', backlog: 1, routes: ['echo~'] });
    const pools = (await fleet().request('GET', '/v1/pools')).body.pools as Array<Record<string, unknown>>;
    expect(pools.map((p) => [p.key, p.backlog, p.routes])).toEqual([
      ['echo+sleep~gpu', 0, []],
      ['echo~', 1, ['echo~']],
    ]);
  });
});

describe('learned pools', () => {
  const fleet = fleetFor(redis, { each: true });
  const pools = async () => (await fleet().request('GET', '/v1/pools')).body.pools as Array<Record<string, unknown>>;

  it('groups registered live agents by signature, with slots and free slots, merged with a declaration', async () => {
    const register = (id: string, concurrency: number) =>
      fleet().sup.store.registerAgent(
        { id, capabilities: ['gpu'], types: ['echo', 'sleep'], concurrency, hostname: 'h', pid: 1, version: 't' },
        Date.now(),
      );
    await register('gpu-1', 2);
    await register('gpu-2', 3);
    await fleet().request('POST', '/v1/pools', { capabilities: ['gpu'], types: ['sleep', 'echo'], note: 'gpus' });
    await waitFor(async () => (await pools()).some((p) => p.workers === 2), 10_000, 'the learned pool');
    expect(await pools()).toEqual([
      expect.objectContaining({
        key: 'echo+sleep~gpu',
        declared: true,
        note: 'gpus',
        workers: 2,
        agents: ['gpu-1', 'gpu-2'],
        slots: 5,
        running: 0,
        freeSlots: 5,
      }),
    ]);
  });

  it('shows the pool of a real worker process once it registers, undeclared', async () => {
    const worker = await fleet().spawnWorker({ id: 'pool-worker', capabilities: ['fs'], concurrency: 2 });
    const agent = await fleet().sup.store.getAgent(worker.id);
    const key = `${[...agent!.types].sort().join('+')}~fs`;
    await waitFor(async () => (await pools()).some((p) => p.key === key), 10_000, 'the worker pool');
    expect((await pools()).find((p) => p.key === key)).toMatchObject({
      declared: false,
      capabilities: ['fs'],
      workers: 1,
      agents: ['pool-worker'],
      slots: 2,
    });
  });
});
