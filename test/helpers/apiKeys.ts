/** API keys for the API tests, made as operators make them: `createApiKey` on the store (`taskfleet keys create`). */
import type { AgentBinding, Role } from '../../src/domain/security';
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
  /** An agent key for the agents whose id starts with `sec-`. */
  agent: { key: string; id: string };
  /** An agent key bound to one agent, `elsewhere-1`, which no test request names. */
  agentElsewhere: { key: string; id: string };
}

/** The keys an operator would make with `taskfleet keys create`, and one revoked with `keys revoke`. */
export async function makeKeys(fleet: Fleet): Promise<Keys> {
  const store = fleet.sup.store;
  const audit = new AuditLog(store, { now: () => Date.now() });
  const make = async (name: string, role: Role, agent?: AgentBinding) => {
    const { key, record } = await createApiKey(store, audit, {
      name,
      role,
      createdBy: OPERATOR,
      ...(agent ? { agent } : {}),
    });
    return { key, id: record.id };
  };
  const keys = {
    admin: await make('ops', 'admin'),
    submitter: await make('app-one', 'submitter'),
    submitter2: await make('app-two', 'submitter'),
    reader: await make('dashboard', 'reader'),
    revoked: await make('retired', 'submitter'),
    agent: await make('sec-agents', 'agent', { prefix: 'sec-' }),
    agentElsewhere: await make('elsewhere', 'agent', { id: 'elsewhere-1' }),
  };
  await revokeApiKey(store, audit, { id: keys.revoked.id, revokedBy: OPERATOR });
  return keys;
}
