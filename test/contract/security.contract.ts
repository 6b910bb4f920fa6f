/** Contract: API keys (stored by hash) and the audit log. */
import { ConflictError } from '../../src/domain/errors';
import type { ApiKeyRecord, NewAuditEntry } from '../../src/domain/security';
import type { CurrentStore } from './store.contract';
import { T0 } from './fixtures';

function apiKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: 'key-1',
    name: 'ci pipeline',
    role: 'submitter',
    hash: 'a'.repeat(64),
    prefix: 'tf_abc123',
    createdAt: T0,
    createdBy: 'cli:root',
    revokedAt: null,
    agentId: null,
    agentPrefix: null,
    ...overrides,
  };
}

function audit(overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    at: T0,
    actor: 'key-1',
    actorName: 'ops',
    action: 'task.cancel',
    target: 'task:1',
    ip: '10.0.0.1',
    detail: null,
    ...overrides,
  };
}

export function securityContract(store: CurrentStore): void {
  describe('API keys', () => {
    it('stores a key and finds it by hash', async () => {
      const key = apiKey({ role: 'admin' });
      await store().insertApiKey(key);
      expect(await store().findApiKeyByHash(key.hash)).toEqual(key);
      expect(await store().findApiKeyByHash('b'.repeat(64))).toBeNull();
    });

    it('stores an agent key bound to an id or a prefix, and refuses a binding that does not fit the role', async () => {
      const byId = apiKey({ id: 'key-a', role: 'agent', hash: 'c'.repeat(64), agentId: 'py-1' });
      const byPrefix = apiKey({ id: 'key-b', role: 'agent', hash: 'd'.repeat(64), agentPrefix: 'gpu-pool-' });
      await store().insertApiKey(byId);
      await store().insertApiKey(byPrefix);
      expect(await store().findApiKeyByHash(byId.hash)).toEqual(byId);
      expect(await store().findApiKeyByHash(byPrefix.hash)).toEqual(byPrefix);
      const refused = [
        apiKey({ id: 'key-c', role: 'agent', hash: 'e'.repeat(64) }),
        apiKey({ id: 'key-d', role: 'agent', hash: 'f'.repeat(64), agentId: 'x', agentPrefix: 'y' }),
        apiKey({ id: 'key-e', role: 'submitter', hash: '0'.repeat(64), agentPrefix: 'y' }),
      ];
      for (const key of refused) {
        const outcome = await store()
          .insertApiKey(key)
          .then(
            () => 'stored',
            () => 'refused',
          );
        expect({ id: key.id, outcome }).toEqual({ id: key.id, outcome: 'refused' });
      }
      expect((await store().listApiKeys()).map((k) => k.id)).toEqual(['key-a', 'key-b']);
    });

    it('refuses a second key with the same hash (ConflictError), keeping the first', async () => {
      await store().insertApiKey(apiKey());
      const twin = apiKey({ id: 'key-2', name: 'twin' });
      await expect(store().insertApiKey(twin)).rejects.toBeInstanceOf(ConflictError);
      expect(await store().listApiKeys()).toEqual([apiKey()]);
    });

    it('lists keys oldest first, revoked ones included', async () => {
      await store().insertApiKey(apiKey({ id: 'key-b', hash: 'b'.repeat(64), createdAt: T0 + 2 }));
      await store().insertApiKey(apiKey({ id: 'key-a', hash: 'c'.repeat(64), createdAt: T0 + 1, role: 'reader' }));
      await store().insertApiKey(apiKey({ id: 'key-c', hash: 'd'.repeat(64), createdAt: T0 + 3, revokedAt: T0 + 4 }));
      const keys = await store().listApiKeys();
      expect(keys.map((k) => [k.id, k.role, k.revokedAt])).toEqual([
        ['key-a', 'reader', null],
        ['key-b', 'submitter', null],
        ['key-c', 'submitter', T0 + 4],
      ]);
    });

    it('revokes a key once; unknown and already revoked keys report false', async () => {
      const key = apiKey();
      await store().insertApiKey(key);
      expect(await store().revokeApiKey(key.id, T0 + 100)).toBe(true);
      expect(await store().findApiKeyByHash(key.hash)).toEqual({ ...key, revokedAt: T0 + 100 });
      expect(await store().revokeApiKey(key.id, T0 + 200)).toBe(false);
      expect((await store().findApiKeyByHash(key.hash))?.revokedAt).toBe(T0 + 100);
      expect(await store().revokeApiKey('ghost', T0 + 200)).toBe(false);
    });
  });

  describe('audit log', () => {
    it('round-trips an entry, its JSON detail and a missing ip', async () => {
      const detail = { reason: 'stuck', tasks: ['a', 'b'], nested: { n: 1, none: null } };
      await store().appendAudit(audit({ detail }));
      await store().appendAudit(audit({ ip: null, action: 'key.create', target: 'key:key-9' }));
      const [newest, oldest] = await store().listAudit({ limit: 10 });
      expect(oldest).toEqual({ ...audit({ detail }), seq: expect.any(Number) });
      expect(newest).toEqual({
        ...audit({ ip: null, action: 'key.create', target: 'key:key-9' }),
        seq: expect.any(Number),
      });
      expect(newest!.seq).toBeGreaterThan(oldest!.seq);
    });

    it('lists newest first with keyset paging by beforeSeq, optionally of one action', async () => {
      const actions = ['task.cancel', 'key.create', 'task.cancel', 'agent.suspend', 'task.cancel', 'key.revoke'];
      for (const [i, action] of actions.entries()) {
        await store().appendAudit(audit({ at: T0 + i, action, target: `t:${i}` }));
      }
      const page1 = await store().listAudit({ limit: 4 });
      expect(page1.map((e) => e.target)).toEqual(['t:5', 't:4', 't:3', 't:2']);
      const page2 = await store().listAudit({ limit: 4, beforeSeq: page1.at(-1)!.seq });
      expect(page2.map((e) => e.target)).toEqual(['t:1', 't:0']);
      expect(await store().listAudit({ limit: 4, beforeSeq: page2.at(-1)!.seq })).toEqual([]);

      const cancels = await store().listAudit({ limit: 2, action: 'task.cancel' });
      expect(cancels.map((e) => [e.action, e.target])).toEqual([
        ['task.cancel', 't:4'],
        ['task.cancel', 't:2'],
      ]);
      const more = await store().listAudit({ limit: 2, action: 'task.cancel', beforeSeq: cancels.at(-1)!.seq });
      expect(more.map((e) => e.target)).toEqual(['t:0']);
      expect(await store().listAudit({ limit: 10, action: 'no.such' })).toEqual([]);
    });
  });
}
