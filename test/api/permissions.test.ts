/**
 * The permission table, route by route and caller by caller (two submitters among them: the owner of the tasks
 * the routes name, and another), over real HTTP against a real supervisor (SQLite file
 * + Redis under a private prefix, loops off). Keys are made as operators make them: `createApiKey` on the store
 * (what `taskfleet keys create` runs). Each describe block starts its own fleet; no test depends on another’s
 * requests.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Role } from '../../src/domain/security';
import { generateApiKey } from '../../src/security/apiKeys';
import { PERMISSIONS } from '../../src/security/permissions';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { type Fleet, fileInspector, fleetFor } from '../helpers/fleet';
import { expectForbidden, expectProblem, expectUnauthorized } from '../helpers/http';

const redis = fileInspector();

const ALL: Role[] = ['admin', 'submitter', 'reader'];
const SUBMIT: Role[] = ['admin', 'submitter'];
const ADMIN: Role[] = ['admin'];
const AGENT_ROLE: Role[] = ['agent'];
/** The HTTP agent the agent protocol's requests act as (the `sec-*` agent key covers it). */
const HTTP_AGENT = 'sec-http';
const AGENT = 'sec-agent';

interface Ctx {
  fleet: Fleet;
  keys: Keys;
  /** A task submitted by the first submitter (the owner), for reads. */
  taskId: string;
}

interface RouteCase {
  method: string;
  path: string;
  roles: Role[];
  /**
   * `own-tasks`: a submitter reaches only its own tasks. The task a route names (`:id`) answers another
   * submitter 404, as a task that does not exist, and changes nothing; no answer to it names that task.
   */
  ownership: 'own-tasks' | null;
  /** `as-agent`: the permission table's scope (the agent key acts only as its own agents). */
  scope?: 'as-agent';
  /** The route acts as no agent: an agent key bound to another agent reaches it as any agent key does. */
  asNoAgent?: true;
  /** What the route's own logic may answer an allowed caller. */
  ok: number[];
  /** Request path and body; may prepare state (a fresh task to cancel). */
  request: (c: Ctx) => Promise<{ path: string; body?: unknown }>;
  /** For a refused caller: nothing changed. */
  unchanged?: (c: Ctx, prepared: { path: string }) => Promise<void>;
}

const fixed = (path: string, body?: unknown) => async () => (body === undefined ? { path } : { path, body });

const OWN = 'own-tasks' as const;

/** A queued task of the first submitter, to cancel. */
async function ownTask(c: Ctx): Promise<string> {
  return (await c.fleet.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: c.keys.submitter.key })).id;
}

/** A workflow of the first submitter waiting for a person (it has no task): to read, decide on or cancel. */
async function ownWorkflow(c: Ctx): Promise<string> {
  const res = await c.fleet.request('POST', '/v1/workflows', APPROVAL_ONLY, {}, { key: c.keys.submitter.key });
  return (res.body as { id: string }).id;
}

const APPROVAL_ONLY = { steps: [{ id: 'ok', approval: {} }] };

/** A workflow a refused caller reached is still waiting for its approval. */
async function stillWaiting(c: Ctx, p: { path: string }): Promise<void> {
  expect((await c.fleet.sup.store.getWorkflow(p.path.split('/')[3]!))?.state).toBe('waiting_approval');
}

/** A counter for names and values each request makes its own. */
let schedules = 0;
const nextScheduleName = () => `sched-${++schedules}`;

/** A schedule stored directly (paused or not), named afresh for each request. */
async function storedSchedule(c: Ctx, paused = false): Promise<string> {
  const name = nextScheduleName();
  const now = Date.now();
  await c.fleet.sup.store.createSchedule({
    ...{ name, cron: '0 3 * * *', timezone: 'UTC', task: { type: 'echo' }, overlap: 'allow', catchUp: 'none' },
    ...{ paused, nextAt: now + 3_600_000, lastTaskId: null, createdAt: now, createdBy: 'test', updatedAt: now },
  });
  return name;
}

/** A route a task was submitted on (a delayed task: nothing runs it), by its key. */
async function knownRoute(c: Ctx): Promise<string> {
  await c.fleet.submit({ type: 'echo', requiredCapabilities: ['perm-route'], delaySeconds: 600 });
  return 'echo~perm-route';
}

const ROUTES: RouteCase[] = [
  { method: 'GET', path: '/v1/tasks', roles: ALL, ownership: OWN, ok: [200], request: fixed('/v1/tasks') },
  {
    method: 'GET',
    path: '/v1/tasks/:id',
    roles: ALL,
    ownership: OWN,
    ok: [200],
    request: async (c) => ({ path: `/v1/tasks/${c.taskId}` }),
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id/events',
    roles: ALL,
    ownership: OWN,
    ok: [200],
    request: async (c) => ({ path: `/v1/tasks/${c.taskId}/events` }),
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id/logs',
    roles: ALL,
    ownership: OWN,
    ok: [200],
    request: async (c) => ({ path: `/v1/tasks/${c.taskId}/logs` }),
  },
  {
    method: 'POST',
    path: '/v1/workflows',
    roles: SUBMIT,
    ownership: OWN,
    ok: [201],
    request: fixed('/v1/workflows', APPROVAL_ONLY),
  },
  { method: 'GET', path: '/v1/workflows', roles: ALL, ownership: OWN, ok: [200], request: fixed('/v1/workflows') },
  ...(['', '/events'] as const).map((tail): RouteCase => ({
    method: 'GET',
    path: `/v1/workflows/:id${tail}`,
    roles: ALL,
    ownership: OWN,
    ok: [200],
    request: async (c) => ({ path: `/v1/workflows/${await ownWorkflow(c)}${tail}` }),
  })),
  ...(['cancel', 'steps/:step/approve', 'steps/:step/reject'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/workflows/:id/${action}`,
    roles: SUBMIT,
    ownership: OWN,
    ok: [200],
    request: async (c) => ({
      path: `/v1/workflows/${await ownWorkflow(c)}/${action.replace(':step', 'ok')}`,
      body: {},
    }),
    unchanged: stillWaiting,
  })),
  { method: 'GET', path: '/v1/agents', roles: ALL, ownership: null, ok: [200], request: fixed('/v1/agents') },
  {
    method: 'GET',
    path: '/v1/agents/:id',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}`),
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/events',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}/events`),
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/performance',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}/performance`),
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/metrics',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}/metrics`),
  },
  { method: 'GET', path: '/v1/stats', roles: ALL, ownership: null, ok: [200], request: fixed('/v1/stats') },
  { method: 'GET', path: '/v1/routes', roles: ALL, ownership: null, ok: [200], request: fixed('/v1/routes') },
  ...(
    [
      ['register', { capabilities: [], types: ['echo'], concurrency: 1 }],
      ['heartbeat', { running: [] }],
      ['claim', { max: 1, waitSeconds: 0 }],
      ['stop', {}],
    ] as const
  ).map(([action, body]): RouteCase => ({
    method: 'POST',
    path: `/v1/agents/:id/${action}`,
    roles: AGENT_ROLE,
    ownership: null,
    scope: 'as-agent',
    // The agent may not be registered yet (404), or stopped by an earlier caller.
    ok: [200, 404],
    request: fixed(`/v1/agents/${HTTP_AGENT}/${action}`, body),
  })),
  ...(
    [
      ['lease', {}],
      ['complete', { result: 1 }],
      ['fail', { error: { message: 'x' } }],
      ['release', {}],
      ['progress', { value: 5 }],
      ['logs', { lines: [{ message: 'x' }] }],
    ] as const
  ).map(([action, body]): RouteCase => ({
    method: 'POST',
    path: `/v1/tasks/:id/${action}`,
    roles: AGENT_ROLE,
    ownership: null,
    // The task is queued, held by nobody: a write about attempt 1 of it is a zombie's.
    ok: [409],
    request: async (c) => ({
      path: `/v1/tasks/${c.taskId}/${action}`,
      body: { ...body, attempt: 1, agentId: HTTP_AGENT },
    }),
    unchanged: async (c) => {
      expect((await c.fleet.sup.store.getTask(c.taskId))?.status).toBe('queued');
    },
  })),
  {
    method: 'GET',
    path: '/v1/events',
    roles: ['admin', 'reader'],
    ownership: null,
    ok: [200],
    request: fixed('/v1/events?limit=5'),
  },
  {
    method: 'GET',
    path: '/v1/scaling/pool',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed('/v1/scaling/pool?types=echo'),
  },
  {
    method: 'POST',
    path: '/v1/tasks',
    roles: SUBMIT,
    ownership: OWN,
    ok: [201],
    request: fixed('/v1/tasks', { type: 'echo', payload: 'table' }),
  },
  {
    method: 'POST',
    path: '/v1/tasks/batch',
    roles: SUBMIT,
    ownership: OWN,
    ok: [201],
    request: fixed('/v1/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo' }] }),
  },
  {
    method: 'POST',
    path: '/v1/tasks/:id/cancel',
    roles: SUBMIT,
    ownership: OWN,
    ok: [202],
    request: async (c) => ({ path: `/v1/tasks/${await ownTask(c)}/cancel` }),
    unchanged: async (c, p) => {
      const id = p.path.split('/')[3]!;
      expect((await c.fleet.sup.store.getTask(id))?.status).toBe('queued');
    },
  },
  {
    method: 'POST',
    path: '/v1/tasks/:id/retry',
    roles: SUBMIT,
    ownership: OWN,
    ok: [200],
    request: async (c) => {
      const id = await ownTask(c);
      await c.fleet.sup.store.requestCancel(id, Date.now());
      return { path: `/v1/tasks/${id}/retry` };
    },
    unchanged: async (c, p) => {
      const id = p.path.split('/')[3]!;
      expect((await c.fleet.sup.store.getTask(id))?.status).toBe('cancelled');
    },
  },
  ...(['retry', 'cancel'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/tasks/${action}`,
    roles: ADMIN,
    ownership: OWN,
    ok: [200],
    // A filter no task matches: the table is under test here, not the action (test/integration/retry.test.ts).
    request: fixed(`/v1/tasks/${action}`, { filter: { type: 'no-such-type' }, limit: 1 }),
  })),
  ...(['drain', 'suspend', 'resume', 'unfreeze'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/agents/:id/${action}`,
    roles: ADMIN,
    ownership: null,
    // The agent exists; whether the action applies depends on what the callers before did to it.
    ok: [200, 409],
    request: fixed(`/v1/agents/${AGENT}/${action}`),
  })),
  {
    method: 'PATCH',
    path: '/v1/agents/:id',
    roles: ADMIN,
    ownership: null,
    // The same value every time: the first call stores it, the next change nothing.
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}`, { concurrency: 2 }),
  },
  {
    method: 'DELETE',
    path: '/v1/agents/:id',
    roles: ADMIN,
    ownership: null,
    // Only a stopped or failed agent can be removed, and this one is neither: the route itself says 409.
    ok: [409],
    request: fixed(`/v1/agents/${AGENT}`),
  },
  { method: 'GET', path: '/v1/audit', roles: ADMIN, ownership: null, ok: [200], request: fixed('/v1/audit') },
  {
    method: 'GET',
    path: '/v1/whoami',
    roles: [...ALL, ...AGENT_ROLE],
    ownership: null,
    asNoAgent: true,
    ok: [200],
    request: fixed('/v1/whoami'),
  },
  { method: 'GET', path: '/v1/pools', roles: ALL, ownership: null, ok: [200], request: fixed('/v1/pools') },
  {
    method: 'POST',
    path: '/v1/pools',
    roles: ADMIN,
    ownership: null,
    // The first admin caller declares it, the next find it declared.
    ok: [200, 201],
    request: fixed('/v1/pools', { capabilities: ['fs'], types: ['checksum'] }),
  },
  {
    method: 'DELETE',
    path: '/v1/pools/:key',
    roles: ADMIN,
    ownership: null,
    ok: [204],
    request: async (c) => {
      await c.fleet.sup.store.declarePool({
        key: 'echo~table',
        capabilities: ['table'],
        types: ['echo'],
        note: null,
        declaredBy: 'test',
        declaredAt: Date.now(),
      });
      return { path: '/v1/pools/echo~table' };
    },
    unchanged: async (c) => {
      expect((await c.fleet.sup.store.listDeclaredPools()).map((p) => p.key)).toContain('echo~table');
    },
  },
  {
    method: 'POST',
    path: '/v1/schedules',
    roles: ADMIN,
    ownership: null,
    ok: [201],
    request: async () => ({
      path: '/v1/schedules',
      body: { name: nextScheduleName(), cron: '0 3 * * *', task: { type: 'echo' } },
    }),
  },
  { method: 'GET', path: '/v1/schedules', roles: ALL, ownership: null, ok: [200], request: fixed('/v1/schedules') },
  {
    method: 'GET',
    path: '/v1/routes/:route',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/routes/${await knownRoute(c)}` }),
  },
  {
    method: 'GET',
    path: '/v1/routes/:route/events',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/routes/${await knownRoute(c)}/events` }),
  },
  ...(['pause', 'resume'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/routes/:route/${action}`,
    roles: ADMIN,
    ownership: null,
    ok: [200],
    request: async (c) => {
      const key = await knownRoute(c);
      await c.fleet.sup.store.setRoutePaused({
        routeKey: key,
        paused: action === 'resume',
        actor: 't',
        now: Date.now(),
      });
      return { path: `/v1/routes/${key}/${action}` };
    },
    unchanged: async (c) => {
      expect((await c.fleet.sup.store.getRouteControl('echo~perm-route'))?.paused).toBe(action === 'resume');
    },
  })),
  {
    method: 'PATCH',
    path: '/v1/routes/:route',
    roles: ADMIN,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/routes/${await knownRoute(c)}`, body: { concurrencyCap: ++schedules } }),
    unchanged: async (c, prepared) => {
      const asked = ((prepared as { body?: unknown }).body as { concurrencyCap: number }).concurrencyCap;
      expect((await c.fleet.sup.store.getRouteControl('echo~perm-route'))?.concurrencyCap).not.toBe(asked);
    },
  },
  {
    method: 'GET',
    path: '/v1/circuit-breakers',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: fixed('/v1/circuit-breakers'),
  },
  {
    method: 'PUT',
    path: '/v1/circuit-breakers/:type',
    roles: ADMIN,
    ownership: null,
    ok: [200],
    request: async () => ({
      path: `/v1/circuit-breakers/perm-type-${++schedules}`,
      body: { failures: 2, window: 4, cooldownMs: 1000 },
    }),
    unchanged: async (c, prepared) => {
      const type = prepared.path.split('/')[3];
      expect((await c.fleet.sup.store.listCircuitBreakers()).map((b) => b.type)).not.toContain(type);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/circuit-breakers/:type',
    roles: ADMIN,
    ownership: null,
    ok: [204],
    request: async (c) => {
      await c.fleet.sup.store.putCircuitBreaker({
        ...{ type: 'perm-gone', failures: 1, window: 1, cooldownMs: 1000, updatedAt: Date.now(), updatedBy: 't' },
      });
      return { path: '/v1/circuit-breakers/perm-gone' };
    },
    unchanged: async (c) => {
      expect((await c.fleet.sup.store.listCircuitBreakers()).map((b) => b.type)).toContain('perm-gone');
    },
  },
  {
    method: 'GET',
    path: '/v1/schedules/:name',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/schedules/${await storedSchedule(c)}` }),
  },
  {
    method: 'GET',
    path: '/v1/schedules/:name/runs',
    roles: ALL,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/schedules/${await storedSchedule(c)}/runs` }),
  },
  ...(['pause', 'resume'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/schedules/:name/${action}`,
    roles: ADMIN,
    ownership: null,
    ok: [200],
    request: async (c) => ({ path: `/v1/schedules/${await storedSchedule(c, action === 'resume')}/${action}` }),
    unchanged: async (c, prepared) => {
      const name = prepared.path.split('/')[3] ?? '';
      expect((await c.fleet.sup.store.getSchedule(name))?.paused).toBe(action === 'resume');
    },
  })),
  {
    method: 'DELETE',
    path: '/v1/schedules/:name',
    roles: ADMIN,
    ownership: null,
    ok: [204],
    request: async (c) => ({ path: `/v1/schedules/${await storedSchedule(c)}` }),
    unchanged: async (c, prepared) => {
      expect(await c.fleet.sup.store.getSchedule(prepared.path.split('/')[3] ?? '')).not.toBeNull();
    },
  },
  // Webhooks belong to the key that made them: another submitter's answer 404, an admin reaches every one.
  {
    method: 'POST',
    path: '/v1/webhooks',
    roles: SUBMIT,
    ownership: null,
    ok: [201],
    request: fixed('/v1/webhooks', { url: 'https://1.1.1.1/hooks', events: ['task.succeeded'] }),
  },
  { method: 'GET', path: '/v1/webhooks', roles: SUBMIT, ownership: null, ok: [200], request: fixed('/v1/webhooks') },
  {
    method: 'POST',
    path: '/v1/webhooks/secret',
    roles: SUBMIT,
    ownership: null,
    ok: [200],
    request: fixed('/v1/webhooks/secret'),
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id',
    roles: SUBMIT,
    ownership: null,
    ok: [200, 404],
    request: async (c) => ({ path: `/v1/webhooks/${await ownWebhook(c)}` }),
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id/deliveries',
    roles: SUBMIT,
    ownership: null,
    ok: [200, 404],
    request: async (c) => ({ path: `/v1/webhooks/${await ownWebhook(c)}/deliveries` }),
  },
  {
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    roles: SUBMIT,
    ownership: null,
    ok: [204, 404],
    request: async (c) => ({ path: `/v1/webhooks/${await ownWebhook(c)}` }),
    unchanged: async (c, prepared) => {
      expect(await c.fleet.sup.store.getWebhookSubscription(prepared.path.split('/')[3]!)).not.toBeNull();
    },
  },
];

/** A webhook subscription of the first submitter (stored directly: what POST /v1/webhooks stores). */
async function ownWebhook(c: Ctx): Promise<string> {
  const id = uuidv7();
  await c.fleet.sup.store.insertWebhookSubscription({
    id,
    keyId: c.keys.submitter.id,
    url: 'https://1.1.1.1/hooks',
    events: ['task.succeeded'],
    secret: 'whsec_dGVzdA==',
    createdAt: Date.now(),
  });
  return id;
}

interface Caller {
  name: string;
  role: Role | null;
  /** A submitter that did not submit the tasks the routes name. */
  other?: boolean;
  /** An agent key bound to an agent no request names: refused as that agent (403) where its role is allowed. */
  elsewhere?: boolean;
  /** The Authorization header to send; null for none. */
  header: (c: Ctx) => string | null;
}

const CALLERS: Caller[] = [
  { name: 'the bootstrap admin key', role: 'admin', header: (c) => `Bearer ${c.fleet.adminKey}` },
  { name: 'an admin key', role: 'admin', header: (c) => `Bearer ${c.keys.admin.key}` },
  {
    name: 'a submitter key (the owner of the tasks)',
    role: 'submitter',
    header: (c) => `Bearer ${c.keys.submitter.key}`,
  },
  {
    name: 'another submitter key',
    role: 'submitter',
    other: true,
    header: (c) => `Bearer ${c.keys.submitter2.key}`,
  },
  { name: 'a reader key', role: 'reader', header: (c) => `Bearer ${c.keys.reader.key}` },
  { name: 'an agent key (sec-*)', role: 'agent', header: (c) => `Bearer ${c.keys.agent.key}` },
  {
    name: 'an agent key bound to another agent',
    role: 'agent',
    elsewhere: true,
    header: (c) => `Bearer ${c.keys.agentElsewhere.key}`,
  },
  { name: 'no key', role: null, header: () => null },
  { name: 'a wrong key', role: null, header: () => `Bearer ${generateApiKey()}` },
  { name: 'a malformed header (Basic)', role: null, header: () => 'Basic dXNlcjpwYXNzd29yZA==' },
  { name: 'a malformed header (Bearer, no key)', role: null, header: () => 'Bearer' },
  { name: 'a malformed header (two tokens)', role: null, header: (c) => `Bearer ${c.keys.admin.key} x` },
  { name: 'a revoked key', role: null, header: (c) => `Bearer ${c.keys.revoked.key}` },
];

describe('the permission table: every route against every kind of caller', () => {
  const fleet = fleetFor(redis);
  let ctx: Ctx;

  beforeAll(async () => {
    const keys = await makeKeys(fleet());
    await fleet().sup.store.registerAgent(
      { id: AGENT, capabilities: [], types: ['echo'], concurrency: 1, hostname: 'test', pid: 1, version: 'test' },
      Date.now(),
    );
    const task = await fleet().submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });
    ctx = { fleet: fleet(), keys, taskId: task.id };
  });

  describe.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', (_name, route) => {
    it.each(CALLERS.map((c) => [c.name, c] as const))('as %s', async (_caller, caller) => {
      const prepared = await route.request(ctx);
      const header = caller.header(ctx);
      const countBefore = await ctx.fleet.storedTaskCount();
      const res = await ctx.fleet.request(
        route.method,
        prepared.path,
        prepared.body,
        header === null ? {} : { authorization: header },
        header === null ? { key: null } : {},
      );
      if (caller.other && route.ownership === OWN) {
        // Another's task is not found (the answer to an id no task has), and nothing changed.
        if (route.path.includes(':id')) {
          expectProblem(res, 404, { code: 'not_found' });
          const [, , kind, id] = prepared.path.split('/');
          expect(res.body.detail).toBe(`${kind === 'workflows' ? 'workflow' : 'task'} ${id} not found`);
          expect(await ctx.fleet.storedTaskCount()).toBe(countBefore);
          await route.unchanged?.(ctx, prepared);
          return;
        }
        // A list or a submission never names the owner's tasks.
        expect(JSON.stringify(res.body)).not.toContain(ctx.taskId);
      }
      if (caller.elsewhere && route.roles.includes('agent') && !route.asNoAgent) {
        expectForbidden(res, ['agent']);
        expect(await ctx.fleet.storedTaskCount()).toBe(countBefore);
        return;
      }
      if (caller.role !== null && route.roles.includes(caller.role)) {
        const context = `${res.status} ${JSON.stringify(res.body)}`;
        expect({ allowed: route.ok.includes(res.status), context }).toEqual({ allowed: true, context });
        // A 404 here is the route's own answer (no such agent), never a missing route.
        if (res.status === 404) expect(res.body.detail).not.toMatch(/^no route/);
        return;
      }
      if (caller.role === null) expectUnauthorized(res);
      else expectForbidden(res, route.roles);
      // Refused: nothing changed.
      expect(await ctx.fleet.storedTaskCount()).toBe(countBefore);
      await route.unchanged?.(ctx, prepared);
    });
  });

  it('has the ownership column of src/security/permissions.ts, and a case for every row of it', () => {
    const table = (rows: Array<{ method: string; path: string; ownership?: string | null; scope?: string }>) =>
      rows.map((r) => `${r.method} ${r.path} ${r.ownership ?? r.scope ?? '-'}`).sort();
    expect(table(ROUTES)).toEqual(table([...PERMISSIONS]));
  });

  it('answers an unknown /v1 route 404 (not 403) to an authenticated caller of any role, and 401 without a key', async () => {
    const f = ctx.fleet;
    for (const key of [f.adminKey, ctx.keys.submitter.key, ctx.keys.reader.key]) {
      for (const [method, path] of [
        ['GET', '/v1/nothing-here'],
        ['DELETE', '/v1/tasks'],
        ['PUT', `/v1/tasks/${ctx.taskId}`],
        ['POST', `/v1/agents/${AGENT}/explode`],
        ['GET', '/v1//tasks'],
      ] as const) {
        const res = await f.request(method, path, undefined, {}, { key });
        expectProblem(res, 404, { code: 'not_found' });
      }
    }
    expectUnauthorized(await f.request('GET', '/v1/nothing-here', undefined, {}, { key: null }));
    // Outside /v1 nothing needs a key.
    expectProblem(await f.request('GET', '/v2/tasks', undefined, {}, { key: null }), 404, { code: 'not_found' });
  });

  it('cannot be dodged by spelling: case and a trailing slash reach the same row', async () => {
    const f = ctx.fleet;
    const reader = { key: ctx.keys.reader.key };
    expectForbidden(await f.request('GET', '/v1/AUDIT', undefined, {}, reader), ['admin']);
    expectForbidden(await f.request('GET', '/V1/audit/', undefined, {}, reader), ['admin']);
    expectForbidden(await f.request('POST', '/v1/Tasks', { type: 'echo' }, {}, reader), ['admin', 'submitter']);
    expect((await f.request('GET', '/v1/AUDIT')).status).toBe(200);
  });
});
