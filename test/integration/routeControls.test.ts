/**
 * Route controls end to end, with real worker processes on a real Redis and SQLite file: the API (validation
 * that changes nothing, 404s, audit, events, the state in every route view and the task view), a paused route
 * that holds its tasks and runs them after resume, a rate limit and a concurrency cap that hold across two
 * workers, and a circuit that opens after failures, half-opens after its cool-down, reopens on a failed probe and
 * closes on a successful one.
 */
import { bucketSize } from '../../src/domain/routeControl';
import { createApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { OPERATOR } from '../helpers/apiKeys';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';
import { maxOverlap } from '../helpers/overlap';

const redis = fileInspector();
/** How far a writer's clock may run ahead of its commit under load: the times in the store are clocks, not commits. */
const SKEW_MS = 100;
let fleet: Fleet | undefined;

afterEach(async () => {
  const f = fleet;
  fleet = undefined;
  await stopAndVerifyClean(f, redis);
});

async function start(env: Record<string, string> = {}): Promise<Fleet> {
  fleet = await Fleet.start({ env: { TASKFLEET_ROUTE_GATE_MS: '100', TASKFLEET_WATCH_POLL_MS: '200', ...env } });
  return fleet;
}

/** Creates the route (a task submitted on it that nothing runs for an hour) and answers its key. */
async function route(f: Fleet, type: string, capabilities: string[]): Promise<string> {
  await f.submit({ type, requiredCapabilities: capabilities, payload: { ms: 0 }, delaySeconds: 3600 });
  return `${type}~${capabilities.join('+')}`;
}

async function started(f: Fleet, ids: string[]) {
  const events = (await Promise.all(ids.map((id) => f.sup.store.listTaskEvents(id)))).flat();
  return events.filter((e) => e.kind === 'started');
}

describe('route controls over HTTP', () => {
  it('answers 404 for a route no task was submitted on, 400 for bad settings, and changes nothing', async () => {
    const f = await start();
    expectProblem(await f.request('GET', '/v1/routes/echo~never'), 404);
    expectProblem(await f.request('POST', '/v1/routes/echo~never/pause'), 404);
    const key = await route(f, 'echo', ['api']);
    for (const body of [{}, { rateLimit: -1 }, { concurrencyCap: 0 }, { concurrencyCap: 1.5 }, { cap: 3 }]) {
      const res = await f.request('PATCH', `/v1/routes/${key}`, body);
      expectProblem(res, 400);
    }
    expectProblem(
      await f.request('PUT', '/v1/circuit-breakers/echo', { failures: 5, window: 3, cooldownMs: 1000 }),
      400,
    );
    expectProblem(
      await f.request('PUT', '/v1/circuit-breakers/Not A Type', { failures: 1, window: 1, cooldownMs: 1000 }),
      400,
    );
    expect(await f.sup.store.listRouteControls()).toEqual([]);
    expect(await f.sup.store.listCircuitBreakers()).toEqual([]);
    expect((await f.sup.store.listAudit({ limit: 50 })).map((a) => a.action)).not.toContain('route.limits');
  });

  it('pauses and resumes, sets limits, records events and the audit log, and shows the state everywhere', async () => {
    const f = await start();
    const key = await route(f, 'echo', ['api']);
    const paused = await f.request('POST', `/v1/routes/${key}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ route: key, state: 'paused', paused: true, settings: { rateLimit: null } });
    const limited = await f.request('PATCH', `/v1/routes/${key}`, { rateLimit: 2.5, concurrencyCap: 4 });
    expect(limited.body).toMatchObject({ state: 'paused', settings: { rateLimit: 2.5, concurrencyCap: 4 } });
    const task = await f.submit({ type: 'echo', requiredCapabilities: ['api'] });
    await f.sup.gate.pass();
    const view = await f.request('GET', `/v1/tasks/${task.id}`);
    expect(view.body).toMatchObject({ status: 'queued', paused: true, routeState: 'paused' });
    const list = await f.request('GET', '/v1/routes');
    expect(list.body.routes.find((r: { route: string }) => r.route === key)).toMatchObject({
      state: 'paused',
      queued: 1,
      settings: { rateLimit: 2.5, concurrencyCap: 4 },
    });
    const stats = await f.request('GET', '/v1/stats');
    expect(stats.body.routes).toMatchObject({ paused: 1, rateLimited: 1, capped: 1 });
    expect(stats.body.queues.find((q: { route: string }) => q.route === key)).toMatchObject({ state: 'paused' });
    const metrics = await f.request('GET', '/metrics');
    expect(metrics.body as string).toContain(`taskfleet_route_state{route="${key}",type="echo",state="paused"} 1`);
    expect(metrics.body as string).toContain('taskfleet_routes_controlled{control="paused"} 1');
    const resumed = await f.request('POST', `/v1/routes/${key}/resume`);
    expect(resumed.body).toMatchObject({ state: 'active', paused: false });
    const events = await f.request('GET', `/v1/routes/${key}/events`);
    expect(events.body.events.map((e: { kind: string }) => e.kind)).toEqual(['resumed', 'limits_changed', 'paused']);
    const actions = (await f.sup.store.listAudit({ limit: 50 })).map((a) => `${a.action} ${a.target}`);
    expect(actions).toEqual(
      expect.arrayContaining([`route.pause route:${key}`, `route.limits route:${key}`, `route.resume route:${key}`]),
    );
  });
});

describe('route controls on a real fleet', () => {
  it('holds a paused route’s tasks while other routes run, and runs them after resume', async () => {
    const f = await start();
    await f.spawnWorker({ id: 'rc-hold', capabilities: ['hold'], concurrency: 4 });
    const key = await route(f, 'echo', ['hold']);
    await f.request('POST', `/v1/routes/${key}/pause`);
    const held = await f.submitBatch(
      Array.from({ length: 5 }, (_, i) => ({ type: 'echo', requiredCapabilities: ['hold'], payload: { i } })),
    );
    // A witness on another route the same worker covers: it runs while the paused tasks, submitted first, wait.
    const witness = await f.submit({ type: 'echo', payload: { witness: true } });
    await f.waitTerminal([witness.id]);
    // Every path that could send their doorbell again has had its turn.
    await f.sup.gate.pass();
    await f.sup.reconciler.reconcile();
    await f.sup.rebalancer.pass();
    await f.sup.gate.pass();
    const ids = held.map((t: { id: string }) => t.id);
    expect(await started(f, ids)).toEqual([]);
    for (const id of ids) expect((await f.request('GET', `/v1/tasks/${id}`)).body).toMatchObject({ paused: true });
    await f.request('POST', `/v1/routes/${key}/resume`);
    const done = await f.waitTerminal(ids, 20_000);
    expect(done.map((t) => t.status)).toEqual(Array(5).fill('succeeded'));
  });

  it('starts no more tasks per second than the rate limit across two workers', async () => {
    const f = await start();
    const rate = 2;
    await f.spawnWorker({ id: 'rc-rate-a', capabilities: ['rate'], concurrency: 2 });
    await f.spawnWorker({ id: 'rc-rate-b', capabilities: ['rate'], concurrency: 2 });
    const key = await route(f, 'sleep', ['rate']);
    await f.request('PATCH', `/v1/routes/${key}`, { rateLimit: rate });
    const tasks = await f.submitBatch(
      Array.from({ length: 8 }, () => ({ type: 'sleep', requiredCapabilities: ['rate'], payload: { ms: 300 } })),
    );
    const ids = tasks.map((t: { id: string }) => t.id);
    const done = await f.waitTerminal(ids, 30_000);
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    expect(new Set(done.map((t) => t.agentId)).size).toBe(2);
    const at = (await started(f, ids)).map((e) => e.at).sort((a, b) => a - b);
    // The bucket: never more starts in a stretch of time than it held at first plus what the rate refilled, give
    // or take the skew between a claim's clock and its commit (a missing limit would start 4 at once).
    for (let i = 0; i < at.length; i++)
      for (let j = i; j < at.length; j++) {
        const allowed = bucketSize(rate) + (rate * (at[j]! - at[i]! + SKEW_MS)) / 1000;
        expect({ starts: j - i + 1, within: at[j]! - at[i]!, ok: j - i + 1 <= allowed }).toMatchObject({ ok: true });
      }
  });

  it('runs no more tasks at once than the concurrency cap across two workers', async () => {
    const f = await start();
    await f.spawnWorker({ id: 'rc-cap-a', capabilities: ['cap'], concurrency: 3 });
    await f.spawnWorker({ id: 'rc-cap-b', capabilities: ['cap'], concurrency: 3 });
    const key = await route(f, 'sleep', ['cap']);
    await f.request('PATCH', `/v1/routes/${key}`, { concurrencyCap: 2 });
    const tasks = await f.submitBatch(
      Array.from({ length: 8 }, () => ({ type: 'sleep', requiredCapabilities: ['cap'], payload: { ms: 250 } })),
    );
    const done = await f.waitTerminal(
      tasks.map((t: { id: string }) => t.id),
      30_000,
    );
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    expect(new Set(done.map((t) => t.agentId)).size).toBe(2);
    // Each time is its writer's clock when it began the write, not the commit order that the cap follows: a claim
    // may read its clock before a finish it commits after. Each run is shortened by that skew (at most 100 ms
    // here); a missing cap would still show 6 at once.
    expect(maxOverlap(done.map((t) => ({ ...t, finishedAt: t.finishedAt! - SKEW_MS })))).toBeLessThanOrEqual(2);
  });

  it('hands an HTTP agent nothing of a paused route, and its task once resumed', async () => {
    // Heartbeats every 5 s: the agent here sends none, and must not be suspended meanwhile.
    const f = await start({ TASKFLEET_HEARTBEAT_INTERVAL_MS: '5000' });
    const store = f.sup.store;
    const { key: agentKey } = await createApiKey(store, new AuditLog(store, { now: () => Date.now() }), {
      name: 'rc-agents',
      role: 'agent',
      agent: { prefix: 'rc-' },
      createdBy: OPERATOR,
    });
    const call = (path: string, body: unknown) => f.request('POST', path, body, {}, { key: agentKey });
    const reg = await call('/v1/agents/rc-py/register', { capabilities: ['pulled'], types: ['echo'], concurrency: 2 });
    expect(reg.status).toBe(200);
    const key = await route(f, 'echo', ['pulled']);
    await f.request('POST', `/v1/routes/${key}/pause`);
    const task = await f.submit({ type: 'echo', requiredCapabilities: ['pulled'] });
    expect((await call('/v1/agents/rc-py/claim', { max: 2, waitSeconds: 1 })).body.tasks).toEqual([]);
    await f.request('POST', `/v1/routes/${key}/resume`);
    const claimed = await call('/v1/agents/rc-py/claim', { max: 2, waitSeconds: 10 });
    expect(claimed.body.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
  });

  it('opens a circuit after failures, reopens on a failed probe, and closes on a successful one', async () => {
    const f = await start();
    await f.spawnWorker({ id: 'rc-circuit', capabilities: ['flaky'], concurrency: 2 });
    const key = await route(f, 'fail', ['flaky']);
    const put = await f.request('PUT', '/v1/circuit-breakers/fail', { failures: 2, window: 3, cooldownMs: 600 });
    expect(put.status).toBe(200);
    await f.sup.gate.pass();
    const failing = () => ({ type: 'fail', requiredCapabilities: ['flaky'], payload: { times: 9 }, maxAttempts: 1 });
    const kinds = async () =>
      ((await f.request('GET', `/v1/routes/${key}/events`)).body.events as Array<{ kind: string }>)
        .map((e) => e.kind)
        .reverse();
    const first = await f.submitBatch([failing(), failing()]);
    await f.waitTerminal(first.map((t: { id: string }) => t.id));
    await waitFor(async () => (await kinds()).includes('circuit_opened'), 10_000, 'the circuit to open');
    expect((await f.request('GET', `/v1/routes/${key}`)).body).toMatchObject({
      state: 'circuit_open',
      circuit: { state: 'open', breaker: { failures: 2, window: 3 } },
    });
    // The probe fails: open again. Then a probe that succeeds closes it, and the route runs as before.
    const probe = await f.submit(failing());
    await f.waitTerminal([probe.id], 15_000);
    await waitFor(async () => (await kinds()).filter((k) => k === 'circuit_opened').length === 2, 10_000, 'reopen');
    const good = await f.submit({ type: 'fail', requiredCapabilities: ['flaky'], payload: { times: 0 } });
    expect((await f.waitTerminal([good.id], 15_000))[0]!.status).toBe('succeeded');
    await waitFor(async () => (await kinds()).includes('circuit_closed'), 10_000, 'the circuit to close');
    expect(await kinds()).toEqual([
      'circuit_opened',
      'circuit_half_open',
      'circuit_opened',
      'circuit_half_open',
      'circuit_closed',
    ]);
    const after = await f.submit({ type: 'fail', requiredCapabilities: ['flaky'], payload: { times: 0 } });
    expect((await f.waitTerminal([after.id], 15_000))[0]!.status).toBe('succeeded');
    expect((await f.request('GET', `/v1/routes/${key}`)).body).toMatchObject({ state: 'active' });
  });
});
