/**
 * Unknown routes, /healthz and /readyz over real HTTP against a real supervisor (SQLite file + Redis under a
 * private prefix), with background loops off and no workers: every assertion on a response is paired with one on
 * the store (and, for dispatch, on the BullMQ job in Redis), so "nothing stored" is proven, not assumed. Each test
 * starts its own fleet.
 */
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
});
