/**
 * The audit log: what key and cancel actions record, and how it pages, over real HTTP against a real supervisor
 * (SQLite file + Redis under a private prefix, loops off). Keys are made as operators make them: `createApiKey` on
 * the store (what `taskfleet keys create` runs). Each describe block starts its own fleet; no test depends on
 * another’s requests.
 */
import { AuditLog } from '../../src/security/audit';
import { createApiKey } from '../../src/security/apiKeys';
import { OPERATOR, makeKeys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { ISO, expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('the audit log', () => {
  const fleet = fleetFor(redis, { each: true });

  it('records key creation, revocation and task cancellation: who, what, target, from where, when', async () => {
    const f = fleet();
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
      // makeKeys: the five keys of the other roles, then the two agent keys
      ...Array<string>(7).fill('key.create'),
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
    const f = fleet();
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
