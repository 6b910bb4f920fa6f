/**
 * What the supervisor serves to browsers, over real HTTP: the console and the API reference under their own
 * strict CSP (the API keeps `default-src 'none'`), and bull-board's admin session: a cookie that opens
 * /admin/queues only for an unrevoked admin key, cannot be forged, and is good on every supervisor that shares
 * the bootstrap admin key.
 */
import { revokeApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { makeKeys, OPERATOR, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { bearer } from '../helpers/http';

const redis = fileInspector();

describe('the console and what is beside it', () => {
  const fleet = fleetFor(redis);
  let keys: Keys;
  beforeAll(async () => {
    keys = await makeKeys(fleet());
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(fleet().url + path, { headers, redirect: 'manual' });
  const openSession = (key: string) =>
    fetch(`${fleet().url}/admin/queues/session`, { method: 'POST', headers: bearer(key) });
  const cookieOf = (res: Response) => res.headers.get('set-cookie')?.split(';')[0] ?? '';

  it('redirects / to the console, and serves it and the reference under a strict CSP of their own', async () => {
    const root = await get('/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
    for (const path of ['/ui/', '/ui/main.js', '/docs/', '/docs/swagger-ui-bundle.js', '/docs/docs.js']) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toMatch(/https?:/);
    }
    expect((await get('/ui/nothing-here.js')).status).toBe(404);
    expect((await get('/v1/stats', bearer(fleet().adminKey))).headers.get('content-security-policy')).toBe(
      "default-src 'none';frame-ancestors 'none'",
    );
  });

  it('opens the queue view for an admin key only, with a cookie scoped to it that never holds the key', async () => {
    expect((await get('/admin/queues')).status).toBe(401);
    expect((await openSession(keys.reader.key)).status).toBe(403);
    expect((await openSession(keys.submitter.key)).status).toBe(403);
    expect((await openSession('not-a-key')).status).toBe(401);

    const opened = await openSession(keys.admin.key);
    expect(opened.status).toBe(204);
    const header = opened.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/HttpOnly/i);
    expect(header).toMatch(/SameSite=Strict/i);
    expect(header).toMatch(/Path=\/admin\/queues/i);
    expect(header).not.toContain(keys.admin.key);
    const cookie = cookieOf(opened);
    const page = await get('/admin/queues', { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).not.toMatch(/https?:/);
    // A route's parking queue is listed (no worker runs: no pool), and read-only: jobs are doorbells of SQL rows.
    await fleet().submit({ type: 'echo', payload: 'parked' });
    const queues = await get('/admin/queues/api/queues', { cookie });
    expect(queues.status).toBe(200);
    const listed = ((await queues.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues;
    expect(listed.map((q) => [q.name, q.readOnlyMode])).toEqual([['echo~', true]]);
    const add = await fetch(`${fleet().url}/admin/queues/api/queues/echo~/add`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'forged', data: {} }),
    });
    expect(add.status).toBe(405);
  });

  it('opens the queue view on every supervisor sharing the admin key, and only on this one without it', async () => {
    const cookie = cookieOf(await openSession(keys.admin.key));
    const shared = await fleet().startSecondSupervisor();
    const alone = await fleet().startSecondSupervisor({ adminApiKey: null });
    try {
      // Behind a load balancer: the cookie one supervisor set is good on another with the same admin key.
      const there = await fetch(`${shared.url}/admin/queues`, { headers: { cookie }, redirect: 'manual' });
      expect(there.status).toBe(200);
      // Without an admin key each supervisor signs with a secret of its own: the cookie is refused there.
      const elsewhere = await fetch(`${alone.url}/admin/queues`, { headers: { cookie }, redirect: 'manual' });
      expect(elsewhere.status).toBe(401);
      const own = cookieOf(
        await fetch(`${alone.url}/admin/queues/session`, { method: 'POST', headers: bearer(keys.admin.key) }),
      );
      expect((await fetch(`${alone.url}/admin/queues`, { headers: { cookie: own } })).status).toBe(200);
      expect((await get('/admin/queues', { cookie: own })).status).toBe(401);
    } finally {
      await shared.close();
      await alone.close();
    }
  });

  it('refuses a forged cookie, and a cookie whose key was revoked since', async () => {
    const cookie = cookieOf(await openSession(keys.admin.key));
    const [name, value] = cookie.split('=') as [string, string];
    const [id, expires, mac] = value.split('.');
    const later = `${name}=${id}.${Number(expires) + 86_400_000}.${mac}`;
    expect((await get('/admin/queues', { cookie: later })).status).toBe(401);
    const other = `${name}=${encodeURIComponent('bootstrap-admin')}.${expires}.${mac}`;
    expect((await get('/admin/queues', { cookie: other })).status).toBe(401);

    expect((await get('/admin/queues', { cookie })).status).toBe(200);
    const store = fleet().sup.store;
    await revokeApiKey(store, new AuditLog(store, { now: () => Date.now() }), {
      id: keys.admin.id,
      revokedBy: OPERATOR,
    });
    expect((await get('/admin/queues', { cookie })).status).toBe(401);
  });
});
