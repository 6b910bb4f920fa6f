/** `GET /v1/routes` over real HTTP against a real supervisor (loops off): every route, its figures, paging. */
import { fileInspector, fleetFor } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('GET /v1/routes', () => {
  const fleet = fleetFor(redis);

  beforeAll(async () => {
    await fleet().sup.store.registerAgent(
      { id: 'r-1', capabilities: ['fs'], types: ['echo'], concurrency: 2, hostname: 'h', pid: 1, version: 'v' },
      Date.now(),
    );
    await fleet().submit({ type: 'echo' });
    await fleet().submit({ type: 'echo' });
    await fleet().submit({ type: 'echo', requiredCapabilities: ['gpu'] });
    await fleet().submit({ type: 'echo', requiredCapabilities: ['fs'], delaySeconds: 60 });
  });

  it('lists every route by key with its queue figures, whether it is routable and the pool it goes to first', async () => {
    const res = await fleet().request('GET', '/v1/routes');
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeUndefined();
    expect(res.body.routes).toEqual([
      {
        route: 'echo~',
        type: 'echo',
        capabilities: [],
        queued: 2,
        delayed: 0,
        running: 0,
        dead: 0,
        oldestQueuedAgeMs: expect.any(Number),
        routable: true,
        state: 'active',
        paused: false,
        pausedAt: null,
        pausedBy: null,
        settings: { rateLimit: null, concurrencyCap: null },
        circuit: null,
        pool: 'echo~fs',
      },
      expect.objectContaining({ route: 'echo~fs', queued: 0, delayed: 1, routable: true, pool: 'echo~fs' }),
      expect.objectContaining({ route: 'echo~gpu', queued: 1, routable: false, pool: null }),
    ]);
  });

  it('pages by route key and filters by type', async () => {
    const first = await fleet().request('GET', '/v1/routes?limit=2');
    expect(first.body.routes.map((r: { route: string }) => r.route)).toEqual(['echo~', 'echo~fs']);
    expect(first.body.nextCursor).toBe('echo~fs');
    const next = await fleet().request('GET', `/v1/routes?limit=2&cursor=${encodeURIComponent('echo~fs')}`);
    expect(next.body).toEqual({ routes: [expect.objectContaining({ route: 'echo~gpu' })] });
    expect((await fleet().request('GET', '/v1/routes?type=checksum')).body.routes).toEqual([]);
    expectProblem(await fleet().request('GET', '/v1/routes?limit=0'), 400, { code: 'validation_failed' });
  });
});
