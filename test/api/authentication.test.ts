/**
 * Authentication: which keys are accepted, what a refusal says, and the 401, 403 and 429 counters, over real HTTP
 * against a real supervisor (SQLite file + Redis under a private prefix, loops off). Keys are made as operators
 * make them: `createApiKey` on the store (what `taskfleet keys create` runs). Each describe block starts its own
 * fleet; no test depends on another’s requests.
 */
import { AuditLog } from '../../src/security/audit';
import { createApiKey, generateApiKey, revokeApiKey } from '../../src/security/apiKeys';
import { OPERATOR, makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { bearer, expectForbidden, expectProblem, expectUnauthorized } from '../helpers/http';

const redis = fileInspector();

describe('authentication', () => {
  const fleet = fleetFor(redis, { env: { TASKFLEET_MAX_BODY_BYTES: '4096' } });
  let keys: Keys;

  beforeAll(async () => {
    keys = await makeKeys(fleet());
  });

  it('gives the same 401 body and headers for every kind of bad key, on reads and writes alike', async () => {
    const f = fleet();
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
    const f = fleet();
    const huge = { type: 'echo', payload: 'x'.repeat(10_000) };
    expectUnauthorized(await f.request('POST', '/v1/tasks', huge, {}, { key: null }));
    expectProblem(await f.request('POST', '/v1/tasks', huge), 413, { code: 'payload_too_large' });
    expect(await f.storedTaskCount()).toBe(0);
  });

  it('keeps /healthz and /readyz open', async () => {
    const f = fleet();
    expect((await f.request('GET', '/healthz', undefined, {}, { key: null })).status).toBe(200);
    expect((await f.request('GET', '/readyz', undefined, {}, { key: null })).status).toBe(200);
  });

  it('refuses a key from the moment it is revoked', async () => {
    const f = fleet();
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
    const f = fleet();
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
    const f = fleet();
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

      // Another submitter's task is a 404, as an unknown task, and is not counted: the counters, which every
      // role reads in /v1/stats, must not tell a guessed id of another's task from one that does not exist.
      const other = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter2.key });
      expectProblem(
        await second.request('POST', `/v1/tasks/${other.id}/cancel`, undefined, bearer(keys.submitter.key)),
        404,
        { code: 'not_found' },
      );
      expect(second.counters).toEqual({ unauthorized: 3, forbidden: 1, rateLimited: 1 });
    } finally {
      await second.close();
    }
  });
});
