/**
 * `taskfleet keys create | list | revoke | generate`: API keys, straight on the store (openStore), so they
 * work without a supervisor and before any key exists. Each change is audited with the actor
 * `cli:<os user>`. A key is printed once, when it is created; the store keeps only its hash.
 */
import os from 'node:os';
import type { Config } from '../config/config';
import { systemClock } from '../domain/clock';
import type { AgentBinding, ApiKeyRecord, Role } from '../domain/security';
import { createApiKey, generateApiKey, revokeApiKey, type KeyActor } from '../security/apiKeys';
import { AuditLog } from '../security/audit';
import { openStore } from '../store/open';
import type { Store } from '../store/port';

/** The operator at the command line, as the audit log names them. */
export function cliActor(): KeyActor {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers).
    user = process.env.USER ?? process.env.USERNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { keyId: `cli:${user}`, name: user, ip: null };
}

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

export interface KeysCreateOptions {
  role: Role;
  name: string;
  agentId?: string;
  agentPrefix?: string;
  json?: boolean;
}

export async function runKeysCreate(config: Config, o: KeysCreateOptions): Promise<void> {
  if (o.agentId !== undefined && o.agentPrefix !== undefined) {
    throw new Error('--agent-id and --agent-prefix exclude each other: bind the key to one agent or to an id prefix');
  }
  const agent: AgentBinding | undefined =
    o.agentId !== undefined ? { id: o.agentId } : o.agentPrefix !== undefined ? { prefix: o.agentPrefix } : undefined;
  const { key, record } = await withStore(config, (store) =>
    createApiKey(store, new AuditLog(store, systemClock), {
      name: o.name,
      role: o.role,
      ...(agent ? { agent } : {}),
      createdBy: cliActor(),
    }),
  );
  if (o.json) {
    console.log(JSON.stringify({ ...publicView(record), key }, null, 2));
  } else {
    console.log(
      `created API key ${record.id}  name "${record.name}"  role ${record.role}  prefix ${record.prefix}${bindingText(record)}`,
    );
    console.log('');
    console.log(`  ${key}`);
    console.log('');
  }
  console.error('This key is shown only now and cannot be shown again (only its hash is stored): keep it safe.');
}

function publicView(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    createdAt: iso(k.createdAt),
    createdBy: k.createdBy,
    revokedAt: k.revokedAt === null ? null : iso(k.revokedAt),
    ...(k.agentId ? { agentId: k.agentId } : {}),
    ...(k.agentPrefix ? { agentPrefix: k.agentPrefix } : {}),
  };
}

/** `  acts as agent X` or `  acts as agents X*`, for an agent key; '' otherwise. */
function bindingText(k: ApiKeyRecord): string {
  if (k.agentId) return `  acts as agent ${k.agentId}`;
  if (k.agentPrefix) return `  acts as agents ${k.agentPrefix}*`;
  return '';
}

export async function runKeysList(config: Config, o: { json?: boolean }): Promise<void> {
  const keys = await withStore(config, (store) => store.listApiKeys());
  if (o.json) {
    console.log(JSON.stringify(keys.map(publicView), null, 2));
    return;
  }
  const rows = [
    ['id', 'name', 'role', 'prefix', 'created', 'revoked', 'agents'],
    ...keys.map((k) => [
      k.id,
      k.name,
      k.role,
      k.prefix,
      iso(k.createdAt),
      iso(k.revokedAt),
      k.agentId ?? (k.agentPrefix ? `${k.agentPrefix}*` : '-'),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  if (keys.length === 0) console.log('(no keys: create one with taskfleet keys create --role admin --name <name>)');
}

export async function runKeysRevoke(config: Config, id: string): Promise<void> {
  const revoked = await withStore(config, (store) =>
    revokeApiKey(store, new AuditLog(store, systemClock), { id, revokedBy: cliActor() }),
  );
  if (!revoked) throw new Error(`no active API key with id ${id} (see taskfleet keys list)`);
  console.log(`revoked API key ${id}: it is refused from the next request on`);
}

/** A fresh key for TASKFLEET_ADMIN_API_KEY or TASKFLEET_API_KEY; stored nowhere. */
export function runKeysGenerate(): void {
  console.log(generateApiKey());
}
