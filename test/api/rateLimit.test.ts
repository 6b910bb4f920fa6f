/**
 * Rate limiting per key, over real HTTP against a real supervisor (SQLite file + Redis under a private prefix,
 * loops off). Keys are made as operators make them: `createApiKey` on the store (what `taskfleet keys create`
 * runs). Each describe block starts its own fleet; no test depends on another’s requests.
 */
import { generateApiKey } from '../../src/security/apiKeys';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor, waitFor } from '../helpers/fleet';
import { bearer, expectProblem, expectUnauthorized } from '../helpers/http';

const redis = fileInspector();

describe('rate limiting (1 a second, burst 3)', () => {
  const fleet = fleetFor(redis, {
    env: { TASKFLEET_RATE_LIMIT_PER_SECOND: '1', TASKFLEET_RATE_LIMIT_BURST: '3' },
    each: true,
  });
  let keys: Keys;

  beforeEach(async () => {
    keys = await makeKeys(fleet());
  });

  it('answers the 4th quick request 429 with Retry-After; another key is unaffected; it recovers', async () => {
    const f = fleet();
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
    const f = fleet();
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
