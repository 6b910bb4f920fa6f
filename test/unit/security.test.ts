/**
 * The security building blocks on their own: key format and hashing, key creation and revocation with
 * their audit entries (against an in-memory store), the bootstrap/stored key resolver, the Bearer parser,
 * the permission table, the token bucket, and log redaction.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { ApiKeyRecord, NewAuditEntry, Role } from '../../src/domain/security';
import { ValidationError } from '../../src/domain/errors';
import {
  API_KEY_PATTERN,
  createApiKey,
  generateApiKey,
  hashApiKey,
  keyPrefix,
  revokeApiKey,
} from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../../src/security/errors';
import { BOOTSTRAP_ADMIN_ID, bearerToken, createSecurityCounters, keyResolver } from '../../src/security/auth';
import { maySeeTask, PERMISSIONS, PermissionTable, taskOwner } from '../../src/security/permissions';
import { RateLimiter, TokenBucket, retryAfterSeconds } from '../../src/security/rateLimit';
import { redactingLogger } from '../../src/security/redact';
import type { Store } from '../../src/store/port';

/** Just the key and audit methods of the store port, in memory. */
function memoryStore() {
  const keys: ApiKeyRecord[] = [];
  const audit: Array<NewAuditEntry & { seq: number }> = [];
  const store = {
    insertApiKey: async (k: ApiKeyRecord) => {
      keys.push({ ...k });
    },
    findApiKeyByHash: async (hash: string) => keys.find((k) => k.hash === hash) ?? null,
    listApiKeys: async () => keys.map((k) => ({ ...k })),
    revokeApiKey: async (id: string, now: number) => {
      const k = keys.find((x) => x.id === id && x.revokedAt === null);
      if (!k) return false;
      k.revokedAt = now;
      return true;
    },
    appendAudit: async (e: NewAuditEntry) => {
      audit.push({ ...e, seq: audit.length + 1 });
    },
  };
  return { store: store as unknown as Store, keys, audit };
}

const clock = (start = 1_000_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

const cli = { keyId: 'cli:tester', name: 'tester', ip: null };

describe('API keys', () => {
  it('are tfk_ + 43 base64url characters (256 random bits), all different', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const k of keys) {
      expect(k).toMatch(API_KEY_PATTERN);
      expect(k).toHaveLength(47);
      expect(Buffer.from(k.slice(4), 'base64url')).toHaveLength(32);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('hash to the hex SHA-256 of the whole key, and show their first 12 characters as prefix', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const k = generateApiKey();
    expect(hashApiKey(k)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyPrefix(k)).toBe(k.slice(0, 12));
    expect(keyPrefix(k)).toMatch(/^tfk_/);
  });

  it('createApiKey stores the hash and prefix (never the key), returns the key once, and audits key.create', async () => {
    const { store, keys, audit } = memoryStore();
    const c = clock();
    const { key, record } = await createApiKey(store, new AuditLog(store, c), {
      name: '  ci pipeline ',
      role: 'submitter',
      createdBy: cli,
      clock: c,
    });
    expect(key).toMatch(API_KEY_PATTERN);
    expect(record).toEqual({
      id: expect.any(String),
      name: 'ci pipeline',
      role: 'submitter',
      hash: hashApiKey(key),
      prefix: key.slice(0, 12),
      createdAt: c.now(),
      createdBy: 'cli:tester',
      revokedAt: null,
      agentId: null,
      agentPrefix: null,
    });
    expect(keys).toEqual([record]);
    expect(JSON.stringify(keys)).not.toContain(key);
    expect(audit).toEqual([
      {
        seq: 1,
        at: c.now(),
        actor: 'cli:tester',
        actorName: 'tester',
        action: 'key.create',
        target: `key:${record.id}`,
        ip: null,
        detail: { name: 'ci pipeline', role: 'submitter', prefix: record.prefix },
      },
    ]);
    expect(JSON.stringify(audit)).not.toContain(key);
  });

  it.each([
    ['an empty name', { name: '   ', role: 'reader' }],
    ['a name with a control character', { name: 'a\nb', role: 'reader' }],
    ['a name over 100 characters', { name: 'x'.repeat(101), role: 'reader' }],
    ['an unknown role', { name: 'x', role: 'root' }],
  ])('createApiKey rejects %s and stores nothing', async (_what, o) => {
    const { store, keys, audit } = memoryStore();
    await expect(
      createApiKey(store, new AuditLog(store, clock()), { ...(o as { name: string; role: 'reader' }), createdBy: cli }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(keys).toEqual([]);
    expect(audit).toEqual([]);
  });

  it('revokeApiKey revokes once and audits key.revoke; an unknown or revoked id is false with no audit entry', async () => {
    const { store, audit } = memoryStore();
    const c = clock();
    const log = new AuditLog(store, c);
    const { record } = await createApiKey(store, log, { name: 'r', role: 'reader', createdBy: cli, clock: c });
    c.advance(5);
    const admin = { keyId: 'k-admin', name: 'ops', ip: '10.0.0.7' };
    expect(await revokeApiKey(store, log, { id: record.id, revokedBy: admin, clock: c })).toBe(true);
    expect(await revokeApiKey(store, log, { id: record.id, revokedBy: admin, clock: c })).toBe(false);
    expect(await revokeApiKey(store, log, { id: 'nope', revokedBy: admin, clock: c })).toBe(false);
    expect(audit.map((a) => a.action)).toEqual(['key.create', 'key.revoke']);
    expect(audit[1]).toMatchObject({
      actor: 'k-admin',
      actorName: 'ops',
      ip: '10.0.0.7',
      target: `key:${record.id}`,
      at: c.now(),
      detail: { name: 'r', role: 'reader', prefix: record.prefix },
    });
  });
});

describe('the key resolver', () => {
  it('knows the bootstrap admin key, stored keys, and nothing revoked or unknown', async () => {
    const { store } = memoryStore();
    const log = new AuditLog(store, clock());
    const admin = generateApiKey();
    const { key: reader, record } = await createApiKey(store, log, { name: 'rd', role: 'reader', createdBy: cli });
    const { key: gone, record: goneRecord } = await createApiKey(store, log, {
      name: 'old',
      role: 'admin',
      createdBy: cli,
    });
    await revokeApiKey(store, log, { id: goneRecord.id, revokedBy: cli });
    const resolve = keyResolver({ store, adminApiKey: admin });

    expect(await resolve(admin)).toEqual({ keyId: BOOTSTRAP_ADMIN_ID, name: 'bootstrap admin', role: 'admin' });
    expect(await resolve(reader)).toEqual({ keyId: record.id, name: 'rd', role: 'reader' });
    expect(await resolve(gone)).toBeNull();
    expect(await resolve(generateApiKey())).toBeNull();
    expect(await resolve(admin.slice(0, -1))).toBeNull();
    expect(await resolve(`${admin}x`)).toBeNull();
  });

  it('accepts no bootstrap key when none is configured', async () => {
    const { store } = memoryStore();
    const resolve = keyResolver({ store, adminApiKey: null });
    expect(await resolve('tfk_' + 'A'.repeat(43))).toBeNull();
  });

  it('starts counters at zero', () => {
    expect(createSecurityCounters()).toEqual({ unauthorized: 0, forbidden: 0, rateLimited: 0 });
  });
});

describe('how the security errors are answered', () => {
  it('401 asks for a bearer token and counts as unauthorized', () => {
    expect(new UnauthorizedError().problem()).toEqual({
      status: 401,
      code: 'unauthorized',
      detail: 'a valid API key is required: Authorization: Bearer <key>',
      headers: { 'WWW-Authenticate': 'Bearer' },
      counts: 'unauthorized',
    });
  });

  it('403 names the roles that may, when the role is what is missing, and counts as forbidden', () => {
    expect(new ForbiddenError('admins only', ['admin']).problem()).toEqual({
      status: 403,
      code: 'forbidden',
      detail: 'admins only',
      extra: { requiredRoles: ['admin'] },
      counts: 'forbidden',
    });
    expect(new ForbiddenError('not your task').problem()).toEqual({
      status: 403,
      code: 'forbidden',
      detail: 'not your task',
      counts: 'forbidden',
    });
  });

  it('429 says when to retry, in a header and in the body, and counts as rate limited', () => {
    expect(new RateLimitedError(7).problem()).toEqual({
      status: 429,
      code: 'rate_limited',
      detail: 'too many requests for this API key: retry after 7 s',
      extra: { retryAfterSeconds: 7 },
      headers: { 'Retry-After': '7' },
      counts: 'rateLimited',
    });
  });
});

describe('bearerToken', () => {
  const k = generateApiKey();
  it.each([
    [`Bearer ${k}`, k],
    [`bearer ${k}`, k],
    [`BEARER   ${k} `, k],
    ['Bearer abc/+.~-_==', 'abc/+.~-_=='],
  ])('reads %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    [undefined],
    [''],
    ['Bearer'],
    ['Bearer '],
    [k],
    [`Basic ${k}`],
    [`Bearer ${k} extra`],
    [`Bearer ${k},x`],
    [`Bearer "${k}"`],
    [`Bearer ${'a'.repeat(1100)}`],
  ])('refuses %p', (header) => {
    expect(bearerToken(header)).toBeNull();
  });
});

describe('the permission table', () => {
  const table = new PermissionTable();
  const roles = (m: string, p: string) => table.match(m, p)?.roles ?? null;

  it('gives every read to every role, submissions and cancels to submitters and admins, the rest to admins', () => {
    for (const p of [
      '/v1/tasks',
      '/v1/tasks/t1',
      '/v1/tasks/t1/events',
      '/v1/agents',
      '/v1/agents/a1',
      '/v1/agents/a1/events',
      '/v1/agents/a1/performance',
      '/v1/stats',
    ]) {
      expect({ p, roles: roles('GET', p) }).toEqual({ p, roles: ['admin', 'submitter', 'reader'] });
    }
    for (const p of ['/v1/tasks', '/v1/tasks/batch', '/v1/tasks/t1/cancel']) {
      expect({ p, roles: roles('POST', p) }).toEqual({ p, roles: ['submitter', 'admin'] });
    }
    for (const [m, p] of [
      ['POST', '/v1/agents/a1/drain'],
      ['POST', '/v1/agents/a1/suspend'],
      ['POST', '/v1/agents/a1/resume'],
      ['POST', '/v1/agents/a1/unfreeze'],
      ['DELETE', '/v1/agents/a1'],
      ['GET', '/v1/audit'],
    ] as const) {
      expect({ m, p, roles: roles(m, p) }).toEqual({ m, p, roles: ['admin'] });
    }
  });

  it('matches as express routes: any case, an optional trailing slash, HEAD as GET', () => {
    expect(roles('GET', '/V1/AUDIT')).toEqual(['admin']);
    expect(roles('GET', '/v1/audit/')).toEqual(['admin']);
    expect(roles('HEAD', '/v1/audit')).toEqual(['admin']);
    expect(roles('post', '/v1/Agents/x/Drain/')).toEqual(['admin']);
  });

  it('matches no unknown route, method or shape (the middleware answers those 404)', () => {
    expect(table.match('GET', '/v1/nothing')).toBeNull();
    expect(table.match('DELETE', '/v1/tasks')).toBeNull();
    expect(table.match('PUT', '/v1/tasks/t1')).toBeNull();
    expect(table.match('POST', '/v1/agents/a1/explode')).toBeNull();
    expect(table.match('GET', '/v1/tasks/a/b/c')).toBeNull();
    expect(table.match('GET', '/v1//tasks')).toBeNull();
    expect(table.match('GET', '/v1/tasks//events')).toBeNull();
    expect(table.match('OPTIONS', '/v1/tasks')).toBeNull();
  });

  it('has one row per method and path', () => {
    const rows = PERMISSIONS.map((p) => `${p.method} ${p.path}`);
    expect(new Set(rows).size).toBe(rows.length);
  });
});

describe('who may see a task', () => {
  const actor = (role: Role, keyId = 'k1') => ({ role, keyId });

  it('shows a submitter only the tasks its own key submitted, and every task to a reader and an admin', () => {
    expect(maySeeTask(actor('submitter'), { submittedBy: 'k1' })).toBe(true);
    expect(maySeeTask(actor('submitter'), { submittedBy: 'k2' })).toBe(false);
    expect(maySeeTask(actor('submitter'), { submittedBy: null })).toBe(false);
    for (const role of ['reader', 'admin'] as const) {
      for (const submittedBy of ['k1', 'k2', null]) expect(maySeeTask(actor(role), { submittedBy })).toBe(true);
    }
  });

  it('limits a submitter’s list to its key, and nobody else’s', () => {
    expect(taskOwner(actor('submitter', 'k9'))).toBe('k9');
    expect(taskOwner(actor('reader'))).toBeNull();
    expect(taskOwner(actor('admin'))).toBeNull();
    // A role added later reaches only its own tasks until this rule says otherwise.
    expect(taskOwner(actor('auditor' as Role, 'k3'))).toBe('k3');
  });

  it('marks every route that reads or acts on tasks or workflows, and no other', () => {
    const scoped = PERMISSIONS.filter((p) => p.scope === 'own-tasks').map((p) => `${p.method} ${p.path}`);
    // The agent protocol's task writes are an agent's, fenced by the lease it holds, not by who submitted.
    const taskRoutes = PERMISSIONS.filter(
      (p) => /^\/v1\/(tasks|workflows)/.test(p.path) && !p.roles.includes('agent'),
    ).map((p) => `${p.method} ${p.path}`);
    expect(scoped).toEqual(taskRoutes);
  });
});

describe('the token bucket', () => {
  it('lets a full burst through, then refills continuously at the rate, never above the burst', () => {
    const b = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
    expect([b.take(0), b.take(0), b.take(0)].map((r) => r.ok)).toEqual([true, true, true]);
    const refused = b.take(0);
    expect(refused).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.take(250)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(b.take(500).ok).toBe(true);
    expect(b.take(500).ok).toBe(false);
    // An hour idle fills it to the burst, not beyond.
    expect([1, 2, 3, 4].map(() => b.take(3_600_000).ok)).toEqual([true, true, true, false]);
  });

  it('supports fractional rates', () => {
    const b = new TokenBucket({ perSecond: 0.5, burst: 1 }, 0);
    expect(b.take(0).ok).toBe(true);
    expect(b.take(0)).toEqual({ ok: false, retryAfterMs: 2000 });
    expect(b.take(1999).ok).toBe(false);
    expect(b.take(2000).ok).toBe(true);
  });

  it('gains nothing when the clock steps back', () => {
    const b = new TokenBucket({ perSecond: 1, burst: 1 }, 10_000);
    expect(b.take(10_000).ok).toBe(true);
    expect(b.take(5_000).ok).toBe(false);
    expect(b.take(10_500).ok).toBe(false);
    expect(b.take(11_000).ok).toBe(true);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect([0, 1, 999, 1000, 1001, 2500].map(retryAfterSeconds)).toEqual([1, 1, 1, 1, 2, 3]);
  });
});

describe('the rate limiter', () => {
  it('keeps one bucket per key', () => {
    const c = clock(0);
    const rl = new RateLimiter({ perSecond: 1, burst: 2 }, c);
    expect([rl.take('a').ok, rl.take('a').ok, rl.take('a').ok]).toEqual([true, true, false]);
    expect(rl.take('b').ok).toBe(true);
    c.advance(1000);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });

  it('forgets idle (full) buckets on its periodic sweep, and only those', () => {
    const c = clock(0);
    const rl = new RateLimiter({ perSecond: 1, burst: 10 }, c, 1_000);
    rl.take('idle');
    for (let i = 0; i < 10; i++) rl.take('busy');
    expect(rl.size).toBe(2);
    c.advance(1_500); // idle: full again; busy: 1.5 of 10
    rl.take('other');
    expect(rl.size).toBe(2);
    expect(rl.take('busy').ok).toBe(true);
    expect(rl.take('busy').ok).toBe(false);
  });

  it('refuses settings that cannot work', () => {
    expect(() => new RateLimiter({ perSecond: 0, burst: 1 }, clock())).toThrow();
    expect(() => new RateLimiter({ perSecond: 1, burst: 0 }, clock())).toThrow();
  });
});

describe('log redaction', () => {
  it('censors Authorization headers and keys wherever a request or configuration is logged', () => {
    const key = generateApiKey();
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = redactingLogger(pino({ level: 'info' }, sink));
    log.info({ req: { headers: { authorization: `Bearer ${key}` } } }, 'request');
    log.info({ headers: { authorization: `Bearer ${key}` } }, 'headers');
    log.info({ config: { adminApiKey: key, apiKey: key } }, 'config');
    log.info({ authorization: `Bearer ${key}` }, 'bare');
    expect(out).toContain('[redacted]');
    expect(out).not.toContain(key);
    expect(out.split('\n').filter(Boolean)).toHaveLength(4);
  });
});
