/** API keys for the API tests, made as operators make them: `createApiKey` on the store (`taskfleet keys create`). */
import type { Role } from '../../src/domain/security';
import { createApiKey, revokeApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import type { Fleet } from './fleet';

export const OPERATOR = { keyId: 'cli:test-operator', name: 'test-operator', ip: null };

export interface Keys {
  admin: { key: string; id: string };
  submitter: { key: string; id: string };
  submitter2: { key: string; id: string };
  reader: { key: string; id: string };
  revoked: { key: string; id: string };
}

/** The keys an operator would make with `taskfleet keys create`, and one revoked with `keys revoke`. */
export async function makeKeys(fleet: Fleet): Promise<Keys> {
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
