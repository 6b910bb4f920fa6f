/**
 * Authentication, authorisation, ownership, the audit log, rate limiting, security headers and error
 * hygiene, over real HTTP against a real supervisor (SQLite file + Redis under a private prefix, loops off).
 *
 * Keys are made as operators make them: `createApiKey` on the store (what `taskfleet keys create` runs).
 * Each describe block starts its own fleet; no test depends on another's requests.
 */
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import pino from 'pino';
import type { Role } from '../../src/domain/security';
import { UnavailableError } from '../../src/domain/errors';
import { createApiKey, generateApiKey, revokeApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { Fleet, inspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { ISO, bearer, expectProblem, type ApiResponse } from '../helpers/http';

let redis: Redis;

beforeAll(() => {
  redis = inspector();
});

afterAll(async () => {
  await redis.quit();
});

const OPERATOR = { keyId: 'cli:test-operator', name: 'test-operator', ip: null };

interface Keys {
  admin: { key: string; id: string };
  submitter: { key: string; id: string };
  submitter2: { key: string; id: string };
  reader: { key: string; id: string };
  revoked: { key: string; id: string };
}

/** The keys an operator would make with `taskfleet keys create`, and one revoked with `keys revoke`. */
async function makeKeys(fleet: Fleet): Promise<Keys> {
  const store = fleet.sup.store;
  const audit = new AuditLog(store, { now: () => Date.now() });
  const make = async (name: string, role: Role) => {
    const { key, record } = await createApiKey(store, audit, { name, role, createdBy: OPERATOR });
    return { key, id: record.id };
  };
  const keys = {
    admin: await make('ops', 'admin'),
    submitter: await make('app-one', 'submitter'),
    submitter2: await make('app-two', 'submitter'),
    reader: await make('dashboard', 'reader'),
    revoked: await make('retired', 'submitter'),
  };
  await revokeApiKey(store, audit, { id: keys.revoked.id, revokedBy: OPERATOR });
  return keys;
}

/** The one 401 body, whatever was wrong with the key. */
const UNAUTHORIZED = {
  type: 'urn:taskfleet:problem:unauthorized',
  title: 'unauthorized',
  status: 401,
  detail: 'a valid API key is required: Authorization: Bearer <key>',
};

function expectUnauthorized(res: ApiResponse): void {
  expectProblem(res, 401, { code: 'unauthorized' });
  expect(res.body).toEqual(UNAUTHORIZED);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

/** A 403 naming the roles that may (or, for an ownership refusal, `roles` = null, naming none). */
function expectForbidden(res: ApiResponse, roles: readonly Role[] | null): void {
  expectProblem(res, 403, { code: 'forbidden' });
  if (roles === null) {
    expect(res.body).not.toHaveProperty('requiredRoles');
    return;
  }
  expect([...res.body.requiredRoles].sort()).toEqual([...roles].sort());
  for (const r of roles) expect(res.body.detail).toContain(r);
}

// ---------------------------------------------------------------------------------------------------------
// The permission table, route by route and caller by caller.

const ALL: Role[] = ['admin', 'submitter', 'reader'];
const SUBMIT: Role[] = ['admin', 'submitter'];
const ADMIN: Role[] = ['admin'];
const AGENT = 'sec-agent';

interface Ctx {
  fleet: Fleet;
  keys: Keys;
  /** A task submitted by the first submitter, for reads. */
  taskId: string;
}

interface RouteCase {
  method: string;
  path: string;
  roles: Role[];
  /** What the route's own logic may answer an allowed caller. */
  ok: number[];
  /** Request path and body; may prepare state (a fresh task to cancel). */
  request: (c: Ctx) => Promise<{ path: string; body?: unknown }>;
  /** For a refused caller: nothing changed. */
  unchanged?: (c: Ctx, prepared: { path: string }) => Promise<void>;
}

const fixed = (path: string, body?: unknown) => async () => (body === undefined ? { path } : { path, body });

/** A queued task of the first submitter, to cancel. */
async function ownTask(c: Ctx): Promise<string> {
  return (await c.fleet.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: c.keys.submitter.key })).id;
}

const ROUTES: RouteCase[] = [
  { method: 'GET', path: '/v1/tasks', roles: ALL, ok: [200], request: fixed('/v1/tasks') },
  {
    method: 'GET',
    path: '/v1/tasks/:id',
    roles: ALL,
    ok: [200],
    request: async (c) => ({ path: `/v1/tasks/${c.taskId}` }),
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id/events',
    roles: ALL,
    ok: [200],
    request: async (c) => ({ path: `/v1/tasks/${c.taskId}/events` }),
  },
  { method: 'GET', path: '/v1/agents', roles: ALL, ok: [200], request: fixed('/v1/agents') },
  { method: 'GET', path: '/v1/agents/:id', roles: ALL, ok: [200], request: fixed(`/v1/agents/${AGENT}`) },
  {
    method: 'GET',
    path: '/v1/agents/:id/events',
    roles: ALL,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}/events`),
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/performance',
    roles: ALL,
    ok: [200],
    request: fixed(`/v1/agents/${AGENT}/performance`),
  },
  { method: 'GET', path: '/v1/stats', roles: ALL, ok: [200], request: fixed('/v1/stats') },
  {
    method: 'POST',
    path: '/v1/tasks',
    roles: SUBMIT,
    ok: [201],
    request: fixed('/v1/tasks', { type: 'echo', payload: 'table' }),
  },
  {
    method: 'POST',
    path: '/v1/tasks/batch',
    roles: SUBMIT,
    ok: [201],
    request: fixed('/v1/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo' }] }),
  },
  {
    method: 'POST',
    path: '/v1/tasks/:id/cancel',
    roles: SUBMIT,
    ok: [202],
    request: async (c) => ({ path: `/v1/tasks/${await ownTask(c)}/cancel` }),
    unchanged: async (c, p) => {
      const id = p.path.split('/')[3]!;
      expect((await c.fleet.sup.store.getTask(id))?.status).toBe('queued');
    },
  },
  ...(['drain', 'suspend', 'resume', 'unfreeze'] as const).map((action): RouteCase => ({
    method: 'POST',
    path: `/v1/agents/:id/${action}`,
    roles: ADMIN,
    // The agent exists; whether the action applies depends on what the callers before did to it.
    ok: [200, 409],
    request: fixed(`/v1/agents/${AGENT}/${action}`),
  })),
  {
    method: 'DELETE',
    path: '/v1/agents/:id',
    roles: ADMIN,
    // Only a stopped or failed agent can be removed, and this one is neither: the route itself says 409.
    ok: [409],
    request: fixed(`/v1/agents/${AGENT}`),
  },
  { method: 'GET', path: '/v1/audit', roles: ADMIN, ok: [200], request: fixed('/v1/audit') },
];

interface Caller {
  name: string;
  role: Role | null;
  /** The Authorization header to send; null for none. */
  header: (c: Ctx) => string | null;
}

const CALLERS: Caller[] = [
  { name: 'the bootstrap admin key', role: 'admin', header: (c) => `Bearer ${c.fleet.adminKey}` },
  { name: 'an admin key', role: 'admin', header: (c) => `Bearer ${c.keys.admin.key}` },
  { name: 'a submitter key', role: 'submitter', header: (c) => `Bearer ${c.keys.submitter.key}` },
  { name: 'a reader key', role: 'reader', header: (c) => `Bearer ${c.keys.reader.key}` },
  { name: 'no key', role: null, header: () => null },
  { name: 'a wrong key', role: null, header: () => `Bearer ${generateApiKey()}` },
  { name: 'a malformed header (Basic)', role: null, header: () => 'Basic dXNlcjpwYXNzd29yZA==' },
  { name: 'a malformed header (Bearer, no key)', role: null, header: () => 'Bearer' },
  { name: 'a malformed header (two tokens)', role: null, header: (c) => `Bearer ${c.keys.admin.key} x` },
  { name: 'a revoked key', role: null, header: (c) => `Bearer ${c.keys.revoked.key}` },
];

describe('the permission table: every route against every kind of caller', () => {
  let fleet: Fleet | undefined;
  let ctx: Ctx;

  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false });
    const keys = await makeKeys(fleet);
    await fleet.sup.store.registerAgent(
      { id: AGENT, capabilities: [], types: ['echo'], concurrency: 1, hostname: 'test', pid: 1, version: 'test' },
      Date.now(),
    );
    const task = await fleet.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });
    ctx = { fleet, keys, taskId: task.id };
  });

  afterAll(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
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

// ---------------------------------------------------------------------------------------------------------

describe('authentication', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;

  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false, env: { TASKFLEET_MAX_BODY_BYTES: '4096' } });
    keys = await makeKeys(fleet);
  });

  afterAll(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
  });

  it('gives the same 401 body and headers for every kind of bad key, on reads and writes alike', async () => {
    const f = fleet!;
    const variants: Array<Record<string, string>> = [
      {},
      bearer(generateApiKey()),
      bearer(keys.revoked.key),
      bearer(keys.admin.key.slice(0, -1)),
      bearer(f.adminKey.toUpperCase()),
      { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: keys.admin.key },
      { authorization: `Token ${keys.admin.key}` },
    ];
    const seen = new Set<string>();
    for (const headers of variants) {
      for (const [method, path, body] of [
        ['GET', '/v1/tasks', undefined],
        ['POST', '/v1/tasks', { type: 'echo' }],
        ['GET', '/v1/audit', undefined],
      ] as const) {
        const res = await f.request(method, path, body, headers, { key: null });
        expectUnauthorized(res);
        seen.add(JSON.stringify({ body: res.body, www: res.headers.get('www-authenticate') }));
      }
    }
    expect(seen.size).toBe(1);
    expect(await f.storedTaskCount()).toBe(0);
  });

  it('checks the key before reading the body: a huge body without a key is 401, not 413', async () => {
    const f = fleet!;
    const huge = { type: 'echo', payload: 'x'.repeat(10_000) };
    expectUnauthorized(await f.request('POST', '/v1/tasks', huge, {}, { key: null }));
    expectProblem(await f.request('POST', '/v1/tasks', huge), 413, { code: 'payload_too_large' });
    expect(await f.storedTaskCount()).toBe(0);
  });

  it('keeps /healthz and /readyz open', async () => {
    const f = fleet!;
    expect((await f.request('GET', '/healthz', undefined, {}, { key: null })).status).toBe(200);
    expect((await f.request('GET', '/readyz', undefined, {}, { key: null })).status).toBe(200);
  });

  it('refuses a key from the moment it is revoked', async () => {
    const f = fleet!;
    const audit = new AuditLog(f.sup.store, { now: () => Date.now() });
    const { key, record } = await createApiKey(f.sup.store, audit, {
      name: 'short-lived',
      role: 'reader',
      createdBy: OPERATOR,
    });
    expect((await f.request('GET', '/v1/tasks', undefined, bearer(key))).status).toBe(200);
    await revokeApiKey(f.sup.store, audit, { id: record.id, revokedBy: OPERATOR });
    expectUnauthorized(await f.request('GET', '/v1/tasks', undefined, bearer(key)));
  });

  it('shows the supervisor’s counters in GET /v1/stats', async () => {
    const f = fleet!;
    const before = (await f.request('GET', '/v1/stats')).body.security;
    expect(before).toEqual({
      unauthorized: expect.any(Number),
      forbidden: expect.any(Number),
      rateLimited: expect.any(Number),
    });
    expectUnauthorized(await f.request('GET', '/v1/stats', undefined, {}, { key: null }));
    expectForbidden(await f.request('GET', '/v1/audit', undefined, {}, { key: keys.reader.key }), ['admin']);
    const after = (await f.request('GET', '/v1/stats')).body.security;
    expect(after).toEqual({
      unauthorized: before.unauthorized + 1,
      forbidden: before.forbidden + 1,
      rateLimited: before.rateLimited,
    });
  });

  it('a second supervisor (its own rate limit) counts 401, 403 and 429 into its own SecurityCounters', async () => {
    const f = fleet!;
    const second = await f.startSecondSupervisor({ rateLimit: { perSecond: 0.001, burst: 2 } });
    try {
      expect(second.counters).toEqual({ unauthorized: 0, forbidden: 0, rateLimited: 0 });
      expectUnauthorized(await second.request('GET', '/v1/tasks'));
      expectUnauthorized(await second.request('GET', '/v1/tasks', undefined, bearer(keys.revoked.key)));
      expectUnauthorized(await second.request('GET', '/v1/tasks', undefined, { authorization: 'Basic x' }));
      expect(second.counters).toEqual({ unauthorized: 3, forbidden: 0, rateLimited: 0 });

      expectForbidden(await second.request('GET', '/v1/audit', undefined, bearer(keys.reader.key)), ['admin']);
      expect(second.counters).toEqual({ unauthorized: 3, forbidden: 1, rateLimited: 0 });

      // The reader's bucket (burst 2) had one token taken by the 403; one left, then refused.
      expect((await second.request('GET', '/v1/tasks', undefined, bearer(keys.reader.key))).status).toBe(200);
      expectProblem(await second.request('GET', '/v1/tasks', undefined, bearer(keys.reader.key)), 429, {
        code: 'rate_limited',
      });
      expect(second.counters).toEqual({ unauthorized: 3, forbidden: 1, rateLimited: 1 });

      // Ownership refusals count as 403 too.
      const other = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter2.key });
      expectForbidden(
        await second.request('POST', `/v1/tasks/${other.id}/cancel`, undefined, bearer(keys.submitter.key)),
        null,
      );
      expect(second.counters).toEqual({ unauthorized: 3, forbidden: 2, rateLimited: 1 });
    } finally {
      await second.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('ownership and the submitting key', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;

  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false });
    keys = await makeKeys(fleet);
  });

  afterAll(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
  });

  it('records and shows submittedBy: the key id, or bootstrap-admin', async () => {
    const f = fleet!;
    const mine = await f.submit({ type: 'echo' }, {}, { key: keys.submitter.key });
    expect(mine.submittedBy).toBe(keys.submitter.id);
    expect((await f.sup.store.getTask(mine.id))?.submittedBy).toBe(keys.submitter.id);
    const [batched] = await f.submitBatch([{ type: 'echo' }], {}, { key: keys.submitter2.key });
    expect(batched.submittedBy).toBe(keys.submitter2.id);
    const byAdmin = await f.submit({ type: 'echo' });
    expect(byAdmin.submittedBy).toBe('bootstrap-admin');
    const read = await f.request('GET', `/v1/tasks/${mine.id}`, undefined, {}, { key: keys.reader.key });
    expect(read.body.submittedBy).toBe(keys.submitter.id);
  });

  it('lets a submitter cancel its own task (202) but not another submitter’s (403, task untouched)', async () => {
    const f = fleet!;
    const theirs = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter2.key });
    const mine = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });

    const denied = await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expectForbidden(denied, null);
    expect(denied.body.detail).toMatch(/only its own tasks/);
    expect((await f.sup.store.getTask(theirs.id))?.status).toBe('queued');
    expect((await f.sup.store.listTaskEvents(theirs.id)).map((e) => e.kind)).toEqual(['submitted']);

    const allowed = await f.request('POST', `/v1/tasks/${mine.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expect(allowed.status).toBe(202);
    expect(allowed.body.outcome).toBe('cancelled');

    // A reader may not cancel even a task nobody owns; an admin may cancel anyone's.
    expectForbidden(await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.reader.key }), [
      'admin',
      'submitter',
    ]);
    const byAdmin = await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.admin.key });
    expect(byAdmin.status).toBe(202);

    // An unknown task is a 404 for its would-be owner too.
    expectProblem(
      await f.request(
        'POST',
        '/v1/tasks/01890000-0000-7000-8000-000000000000/cancel',
        undefined,
        {},
        {
          key: keys.submitter.key,
        },
      ),
      404,
      { code: 'not_found' },
    );
  });

  it('scopes Idempotency-Key to the submitting key', async () => {
    const f = fleet!;
    const h = { 'Idempotency-Key': 'order-1' };
    const a1 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter.key });
    const b1 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter2.key });
    const a2 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter.key });
    expect([a1.status, b1.status, a2.status]).toEqual([201, 201, 200]);
    expect(a2.body.id).toBe(a1.body.id);
    expect(b1.body.id).not.toBe(a1.body.id);
    expect((await f.sup.store.getTask(a1.body.id))?.idempotencyKey).toBe(`${keys.submitter.id}:task:order-1`);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('the audit log', () => {
  let fleet: Fleet | undefined;

  beforeEach(async () => {
    fleet = await Fleet.start({ loops: false });
  });

  afterEach(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
  });

  it('records key creation, revocation and task cancellation: who, what, target, from where, when', async () => {
    const f = fleet!;
    const before = Date.now();
    const keys = await makeKeys(f);
    const t = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });
    const c1 = await f.request('POST', `/v1/tasks/${t.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    const c2 = await f.request('POST', `/v1/tasks/${t.id}/cancel`);
    expect([c1.status, c2.status]).toEqual([202, 409]);
    const after = Date.now();

    const res = await f.request('GET', '/v1/audit');
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('nextCursor');
    const entries = res.body.entries as any[];
    expect(entries.map((e) => e.action)).toEqual([
      'task.cancel',
      'task.cancel',
      'key.revoke',
      'key.create',
      'key.create',
      'key.create',
      'key.create',
      'key.create',
    ]);
    for (const e of entries) {
      expect(e.at).toMatch(ISO);
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(e.at)).toBeLessThanOrEqual(after);
    }
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

    expect(entries[0]).toEqual({
      seq: expect.any(Number),
      at: expect.stringMatching(ISO),
      actor: 'bootstrap-admin',
      actorName: 'bootstrap admin',
      action: 'task.cancel',
      target: `task:${t.id}`,
      ip: expect.stringMatching(/127\.0\.0\.1$/),
      detail: { outcome: 'already_terminal' },
    });
    expect(entries[1]).toMatchObject({
      actor: keys.submitter.id,
      actorName: 'app-one',
      target: `task:${t.id}`,
      ip: expect.stringMatching(/127\.0\.0\.1$/),
      detail: { outcome: 'cancelled' },
    });
    expect(entries[2]).toMatchObject({
      actor: 'cli:test-operator',
      actorName: 'test-operator',
      action: 'key.revoke',
      target: `key:${keys.revoked.id}`,
      ip: null,
      detail: { name: 'retired', role: 'submitter' },
    });
    const created = entries.filter((e) => e.action === 'key.create');
    expect(created.map((e) => e.target).sort()).toEqual(
      Object.values(keys)
        .map((k) => `key:${k.id}`)
        .sort(),
    );
    expect(created.find((e) => e.target === `key:${keys.reader.id}`)).toMatchObject({
      actor: 'cli:test-operator',
      detail: { name: 'dashboard', role: 'reader', prefix: keys.reader.key.slice(0, 12) },
    });
    // No key is ever in the log, only prefixes.
    const text = JSON.stringify(entries);
    for (const k of [...Object.values(keys).map((x) => x.key), f.adminKey]) expect(text).not.toContain(k);
  });

  it('pages newest first with nextCursor, filters by action, and validates its query', async () => {
    const f = fleet!;
    const audit = new AuditLog(f.sup.store, { now: () => Date.now() });
    for (let i = 0; i < 7; i++) {
      await createApiKey(f.sup.store, audit, { name: `k${i}`, role: 'reader', createdBy: OPERATOR });
    }
    for (let i = 0; i < 3; i++) {
      const t = await f.submit({ type: 'echo', delaySeconds: 60 });
      expect((await f.request('POST', `/v1/tasks/${t.id}/cancel`)).status).toBe(202);
    }
    const pages: any[][] = [];
    let cursor: string | undefined;
    do {
      const res = await f.request('GET', `/v1/audit?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(res.body.entries);
      cursor = res.body.nextCursor;
      if (cursor !== undefined) expect(cursor).toBe(String(res.body.entries.at(-1).seq));
    } while (cursor !== undefined && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
    const seqs = pages.flat().map((e) => e.seq);
    expect(new Set(seqs).size).toBe(10);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(pages.flat().map((e) => e.action)).toEqual([
      ...Array<string>(3).fill('task.cancel'),
      ...Array<string>(7).fill('key.create'),
    ]);

    const cancels = await f.request('GET', '/v1/audit?action=task.cancel&limit=2');
    expect(cancels.body.entries.map((e: any) => e.action)).toEqual(['task.cancel', 'task.cancel']);
    const rest = await f.request('GET', `/v1/audit?action=task.cancel&cursor=${cancels.body.nextCursor}`);
    expect(rest.body.entries).toHaveLength(1);
    expect(rest.body).not.toHaveProperty('nextCursor');
    expect((await f.request('GET', '/v1/audit?action=nothing.like.this')).body.entries).toEqual([]);

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['cursor=abc', 'cursor'],
      ['cursor=-1', 'cursor'],
      ['action=Not%20An%20Action', 'action'],
      ['since=yesterday', 'since'],
    ]) {
      expectProblem(await f.request('GET', `/v1/audit?${query}`), 400, { code: 'validation_failed', field });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('rate limiting (1 a second, burst 3)', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;

  beforeEach(async () => {
    fleet = await Fleet.start({
      loops: false,
      env: { TASKFLEET_RATE_LIMIT_PER_SECOND: '1', TASKFLEET_RATE_LIMIT_BURST: '3' },
    });
    keys = await makeKeys(fleet);
  });

  afterEach(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
  });

  it('answers the 4th quick request 429 with Retry-After; another key is unaffected; it recovers', async () => {
    const f = fleet!;
    const reader = { key: keys.reader.key };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await f.request('GET', '/v1/tasks', undefined, {}, reader));
    expect(statuses.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    const limited = statuses[3]!;
    expectProblem(limited, 429, { code: 'rate_limited' });
    const retryAfter = limited.headers.get('retry-after');
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(Number(retryAfter)).toBeLessThanOrEqual(1);
    expect(limited.body.retryAfterSeconds).toBe(Number(retryAfter));

    // Another key has its own bucket.
    for (let i = 0; i < 3; i++) {
      expect((await f.request('GET', '/v1/tasks', undefined, {}, { key: keys.submitter.key })).status).toBe(200);
    }
    // The bucket refills at 1 a second: the reader gets through again within Retry-After (and a margin).
    const started = Date.now();
    await waitFor(
      async () => (await f.request('GET', '/v1/tasks', undefined, {}, reader)).status === 200,
      3_000,
      'a token to come back',
      100,
    );
    expect(Date.now() - started).toBeLessThan(Number(retryAfter) * 1000 + 1_000);
  });

  it('rejects unauthenticated requests before they take a token, and still says 401 to them when a bucket is empty', async () => {
    const f = fleet!;
    for (let i = 0; i < 10; i++) {
      expectUnauthorized(await f.request('GET', '/v1/tasks', undefined, bearer(generateApiKey()), { key: null }));
      expectUnauthorized(await f.request('GET', '/v1/tasks', undefined, {}, { key: null }));
    }
    const reader = { key: keys.reader.key };
    for (let i = 0; i < 3; i++) expect((await f.request('GET', '/v1/tasks', undefined, {}, reader)).status).toBe(200);
    expect((await f.request('GET', '/v1/tasks', undefined, {}, reader)).status).toBe(429);
    expectUnauthorized(await f.request('GET', '/v1/tasks', undefined, {}, { key: null }));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('headers and error hygiene', () => {
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false });
  });

  afterAll(async () => {
    const f = fleet;
    fleet = undefined;
    await stopAndVerifyClean(f, redis);
  });

  it('sends the security headers on API answers, errors and probes', async () => {
    const f = fleet!;
    for (const res of [
      await f.request('GET', '/v1/tasks'),
      await f.request('GET', '/v1/tasks', undefined, {}, { key: null }),
      await f.request('GET', '/v1/nothing'),
      await f.request('GET', '/healthz'),
    ]) {
      const h = res.headers;
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('x-frame-options')).toBe('DENY');
      expect(h.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
      expect(h.get('referrer-policy')).toBe('no-referrer');
      expect(h.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(h.get('x-powered-by')).toBeNull();
      expect(h.get('strict-transport-security')).toBeNull();
    }
    expect((await f.request('GET', '/v1/tasks')).headers.get('cache-control')).toBe('no-store');
  });

  it('answers a store failure 500 or 503 with a fixed text: no stack, no SQL, no driver message; logs it without the key', async () => {
    const f = fleet!;
    const sql = 'SELECT * FROM tasks WHERE id = ? -- SQLITE_CORRUPT: database disk image is malformed';
    const failing = new Proxy(f.sup.store, {
      get(target, prop, receiver) {
        if (prop === 'getTask') {
          return async () => {
            throw Object.assign(new Error(sql), { code: 'SQLITE_CORRUPT', sql });
          };
        }
        if (prop === 'listTasks') {
          return async () => {
            throw new UnavailableError(`sqlite: ${sql}`);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const second = await f.startSecondSupervisor({ store: failing, log: pino({ level: 'info' }, sink) });
    try {
      const five = await second.request('GET', `/v1/tasks/some-id`, undefined, bearer(f.adminKey));
      expectProblem(five, 500, { code: 'internal_error' });
      expect(five.body).toEqual({
        type: 'urn:taskfleet:problem:internal_error',
        title: 'internal error',
        status: 500,
        detail: 'an internal error occurred; it has been logged',
      });
      const unavailable = await second.request('GET', '/v1/tasks', undefined, bearer(f.adminKey));
      expectProblem(unavailable, 503, { code: 'unavailable' });
      for (const res of [five, unavailable]) {
        const text = JSON.stringify(res.body);
        expect(text).not.toMatch(/SELECT|SQLITE|FROM tasks|\bat .*\.[jt]s:\d+|stack/i);
      }
      // The log has the error, and never the key.
      expect(logged).toContain('SQLITE_CORRUPT');
      expect(logged).not.toContain(f.adminKey);
      expect(logged).not.toMatch(/Bearer /);
    } finally {
      await second.close();
    }
  });

  it('answers a malformed JSON body 400 without echoing parser internals', async () => {
    const f = fleet!;
    const res = await f.request('POST', '/v1/tasks', '{"type": "echo",', { 'content-type': 'application/json' });
    expectProblem(res, 400, { code: 'malformed_json' });
    expect(JSON.stringify(res.body)).not.toMatch(/SyntaxError|at JSON|position/);
  });
});
