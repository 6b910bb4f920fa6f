/**
 * Pools declared by configuration (TASKFLEET_POOLS) against a real supervisor (SQLite file + Redis under a private
 * prefix, loops off): declared at start by `config`, routable with no worker; a supervisor started with a shorter
 * list removes the config pools no longer listed and leaves the pools an admin declared alone.
 */
import pino from 'pino';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { fileInspector, fleetFor } from '../helpers/fleet';

const redis = fileInspector();

describe('TASKFLEET_POOLS: pools declared by configuration', () => {
  const fleet = fleetFor(redis, { each: true, env: { TASKFLEET_POOLS: 'checksum+echo~fs,echo~gpu' } });

  it('declares every listed pool at start, by config, so that its tasks are routable with no worker', async () => {
    const pools = (await fleet().request('GET', '/v1/pools')).body.pools;
    expect(pools).toEqual([
      expect.objectContaining({ key: 'checksum+echo~fs', declared: true, declaredBy: 'config', workers: 0 }),
      expect.objectContaining({ key: 'echo~gpu', declared: true, declaredBy: 'config', workers: 0 }),
    ]);
    expect(pools[0].note).toMatch(/TASKFLEET_POOLS/);
    const task = await fleet().submit({ type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['fs'] });
    expect(task.routable).toBe(true);
    const other = await fleet().submit({ type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['gpu'] });
    expect(other.routable).toBe(false);
  });

  it('removes the config pools no longer listed when supervisors start with a new list, and no admin pool', async () => {
    expect((await fleet().request('POST', '/v1/pools', { types: ['echo'], capabilities: ['cuda'] })).status).toBe(201);
    // Declared by an API key that happens to be named "config": still an admin's declaration.
    await fleet().sup.store.declarePool({
      key: 'fail~',
      capabilities: [],
      types: ['fail'],
      note: null,
      declaredBy: 'config',
      declaredAt: Date.now(),
    });
    // An admin's declaration of a listed key stays the admin's: config only adds what is missing.
    expect((await fleet().request('POST', '/v1/pools', { types: ['sleep'] })).status).toBe(201);
    const config = { ...fleet().config, pools: ['echo~gpu', 'sleep~'] };
    const start = () =>
      buildSupervisor(config, {
        store: fleet().sup.store,
        log: pino({ level: 'silent' }),
        loops: false,
        listen: { port: 0 },
      });
    // Two at once, as in a rolling deployment: neither fails.
    const restarted: Supervisor[] = await Promise.all([start(), start()]);
    try {
      const pools = await fleet().sup.store.listDeclaredPools();
      expect(pools.map((p) => [p.key, p.declaredBy])).toEqual([
        ['echo~cuda', 'bootstrap admin'],
        ['echo~gpu', 'config'],
        ['fail~', 'config'],
        ['sleep~', 'bootstrap admin'],
      ]);
      const res = await fetch(`${restarted[0]!.url}/v1/pools`, {
        headers: { authorization: `Bearer ${fleet().adminKey}` },
      });
      const keys = ((await res.json()) as { pools: Array<{ key: string }> }).pools.map((p) => p.key);
      expect(keys).toEqual(['echo~cuda', 'echo~gpu', 'fail~', 'sleep~']);
    } finally {
      await Promise.all(restarted.map((s) => s.stop()));
    }
    // Stopped, then started again with no list at all: the last config pool goes, the admin's stay.
    const bare = await buildSupervisor(
      { ...config, pools: [] },
      { store: fleet().sup.store, log: pino({ level: 'silent' }), loops: false, listen: { port: 0 } },
    );
    await bare.stop();
    expect((await fleet().sup.store.listDeclaredPools()).map((p) => p.key)).toEqual(['echo~cuda', 'fail~', 'sleep~']);
  });
});
