/**
 * Unknown routes, /healthz and /readyz over real HTTP against a real supervisor (SQLite file + Redis under a
 * private prefix), with background loops off and no workers: every assertion on a response is paired with one on
 * the store (and, for dispatch, on the BullMQ job in Redis), so "nothing stored" is proven, not assumed. Each test
 * starts its own fleet.
 */
import { StoreFullError } from '../../src/domain/errors';
import { expectNothingStored, fleetPerTest } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const { redis, start } = fleetPerTest();

describe('routes and probes', () => {
  it('answers an unknown route with 404 problem+json', async () => {
    const f = await start();
    expectProblem(await f.request('GET', '/v1/nothing-here'), 404, { code: 'not_found' });
    expectProblem(await f.request('DELETE', '/v1/tasks'), 404, { code: 'not_found' });
    expectProblem(await f.request('POST', '/v2/tasks', { type: 'echo' }), 404, { code: 'not_found' });
    await expectNothingStored(f, redis);
  });

  it('reports health and readiness', async () => {
    const f = await start();
    const health = await f.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await f.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', sql: 'ok', redis: 'ok' });
  });

  it('answers 503 with Retry-After while the store is out of space, and reports not ready until it has room', async () => {
    const f = await start();
    // The fleet's store, with its disk full until `freed` (test/integration/diskFull.test.ts fills a real one).
    let freed = false;
    const full = () => new StoreFullError('sqlite: database or disk is full');
    const store = new Proxy(f.sup.store, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver) as unknown;
        if (freed || typeof real !== 'function') return real;
        if (prop === 'insertTasks' || prop === 'ping') return () => Promise.reject(full());
        return real;
      },
    });
    const second = await f.startSecondSupervisor({ store });
    try {
      const auth = { authorization: `Bearer ${f.adminKey}` };
      for (const [path, body] of [
        ['/v1/tasks', { type: 'echo' }],
        ['/v1/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo' }] }],
      ] as const) {
        const res = await second.request('POST', path, body, auth);
        expectProblem(res, 503, { code: 'store_full' });
        expect(res.headers.get('retry-after')).toBe('30');
        expect(res.body.detail).toMatch(/^the store is out of space: nothing was written/);
        expect(JSON.stringify(res.body)).not.toMatch(/sqlite|SQLITE/);
      }
      const notReady = await second.request('GET', '/readyz');
      expectProblem(notReady, 503, { code: 'not_ready' });
      expect(notReady.body).toMatchObject({ sql: 'out_of_space', redis: 'ok' });
      expect(notReady.body.detail).toMatch(/out of space/);
      await expectNothingStored(f, redis);

      freed = true;
      expect((await second.request('GET', '/readyz')).status).toBe(200);
      expect((await second.request('POST', '/v1/tasks', { type: 'echo' }, auth)).status).toBe(201);
    } finally {
      await second.close();
    }
  });
});
