/**
 * `GET /v1/routes?series=N` over real HTTP against a real supervisor (loops off, its route-minute roll-up driven by
 * hand): each route's finished and failed tasks per minute, for the console's charts. The history is written
 * through the store with past times, as workers would have written it then.
 */
import pino from 'pino';
import { systemClock } from '../../src/domain/clock';
import { MINUTE_MS } from '../../src/store/routeMinutesPort';
import { RouteMinuteRollup } from '../../src/supervisor/routeSeries';
import { newTask } from '../contract/fixtures';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('GET /v1/routes?series=N', () => {
  const fleet = fleetFor(redis);
  /** The start of a minute that is always rolled up by a pass run now (it ended more than SETTLE_MS ago). */
  const past = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * MINUTE_MS;

  /** A task of `type` that ran at `at` and ended as `outcome` (a failure with no attempt left is dead). */
  async function ran(type: string, at: number, outcome: 'succeeded' | 'dead') {
    const store = fleet().sup.store;
    const [inserted] = await store.insertTasks([
      newTask({ type, createdAt: at - 100, notBefore: at - 100, maxAttempts: 1 }),
    ]);
    const task = inserted!.task;
    const claimed = await store.claimTask({ taskId: task.id, attempt: 0, agentId: 'a', now: at - 50, leaseMs: 30_000 });
    if (!claimed.claimed) throw new Error('the claim lost');
    const ref = { taskId: task.id, attempt: 1, agentId: 'a', now: at };
    if (outcome === 'succeeded') await store.completeTask({ ...ref, result: null });
    else
      await store.failTask({
        ...ref,
        error: { message: 'boom', name: 'Error', kind: 'handler' },
        decision: { status: 'dead' },
      });
  }

  beforeAll(async () => {
    await ran('echo', past + 1_000, 'succeeded');
    await ran('echo', past + 2_000, 'succeeded');
    await ran('echo', past + 3_000, 'dead');
    await ran('echo', past - MINUTE_MS + 1_000, 'succeeded');
    await ran('sleep', past + 1_000, 'succeeded');
    await fleet().submit({ type: 'quiet' });
    const rolled = await fleet().sup.routeMinutes.pass();
    expect(rolled.rows).toBe(3);
  });

  it('gives each route of the page its counts per minute, zeros where nothing ended, in one request', async () => {
    const res = await fleet().request('GET', '/v1/routes?series=5');
    expect(res.status).toBe(200);
    const byRoute = new Map(
      (res.body.routes as Array<{ route: string; series: Record<string, unknown> }>).map((r) => [r.route, r.series]),
    );
    const echo = byRoute.get('echo~') as { start: string; stepMs: number } & Record<string, number[]>;
    expect(echo.stepMs).toBe(MINUTE_MS);
    // The window ends with the last complete minute: find the seeded minutes in it by their time.
    const at = (minute: number) => (minute - Date.parse(echo.start)) / MINUTE_MS;
    expect(at(past)).toBeGreaterThanOrEqual(1);
    const expected = (values: Array<[number, number]>) => {
      const a = new Array<number>(5).fill(0);
      for (const [minute, n] of values) a[at(minute)] = n;
      return a;
    };
    expect(echo).toEqual({
      start: echo.start,
      stepMs: MINUTE_MS,
      succeeded: expected([
        [past - MINUTE_MS, 1],
        [past, 2],
      ]),
      failed: expected([[past, 1]]),
      dead: expected([[past, 1]]),
      cancelled: expected([]),
      expired: expected([]),
    });
    expect((byRoute.get('sleep~') as Record<string, number[]>).succeeded).toEqual(expected([[past, 1]]));
    expect((byRoute.get('quiet~') as Record<string, number[]>).succeeded).toEqual(expected([]));
  });

  it('leaves the series out unless asked', async () => {
    const res = await fleet().request('GET', '/v1/routes');
    expect(res.status).toBe(200);
    for (const route of res.body.routes as Array<Record<string, unknown>>) expect(route).not.toHaveProperty('series');
  });

  it('stores a minute once: another supervisor rolling the same minutes up adds nothing', async () => {
    const another = new RouteMinuteRollup(fleet().sup.store, systemClock, pino({ level: 'silent' }));
    const second = await another.pass();
    expect(second.minutes).toBeGreaterThan(0);
    expect(second.rows).toBe(0);
    const res = await fleet().request('GET', '/v1/routes?series=5');
    const echo = (res.body.routes as Array<{ route: string; series: { succeeded: number[] } }>).find(
      (r) => r.route === 'echo~',
    );
    expect(echo?.series.succeeded.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it.each(['0', '181', 'many', '1.5'])('refuses series=%s with a 400 naming the field', async (value) => {
    const res = await fleet().request('GET', `/v1/routes?series=${value}`);
    expectProblem(res, 400, { field: 'series' });
  });
});
