/**
 * API keys: `tfk_` + 43 base64url characters (32 random bytes: 256 bits). A key is shown once, when it is
 * made; the store keeps only its SHA-256 (hex) and its first 12 characters (the prefix, for listings).
 *
 * A plain hash is enough: the key is uniformly random with 256 bits of entropy, so nobody can guess a
 * preimage, and a slow KDF (bcrypt, scrypt) would only make every request slower. For the same reason a
 * lookup by hash leaks nothing useful through timing: the attacker controls the key, not its hash.
 */
import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { systemClock, type Clock } from '../domain/clock';
import { ValidationError } from '../domain/errors';
import { AGENT_ID_PATTERN, AGENT_ID_RULE } from '../domain/agent';
import { ROLES, type AgentBinding, type ApiKeyRecord, type Role } from '../domain/security';
import type { Store } from '../store/port';
import type { AuditLog } from './audit';

export const API_KEY_PREFIX = 'tfk_';
export const API_KEY_PATTERN = /^tfk_[A-Za-z0-9_-]{43}$/;
/** How many leading characters of a key are stored and shown (`tfk_` + 8). */
export const KEY_PREFIX_LENGTH = 12;
export const KEY_NAME_MAX = 100;

/** A new random key (never stored, never logged). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** hex SHA-256 of the whole key: what the store keeps and looks keys up by. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX_LENGTH);
}

/** Who creates or revokes a key: an API caller (its key id) or the command line (`cli:<user>`, no ip). */
export interface KeyActor {
  keyId: string;
  name: string;
  ip: string | null;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

function checkName(name: string): string {
  const trimmed = name.trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed.length === 0 || trimmed.length > KEY_NAME_MAX || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new ValidationError([
      { field: 'name', message: `1 to ${KEY_NAME_MAX} characters without control characters` },
    ]);
  }
  return trimmed;
}

/** An `agent` key must be bound to one agent id or an id prefix; no other role may be. */
function checkBinding(role: Role, agent: AgentBinding | undefined): AgentBinding | null {
  if (role !== 'agent') {
    if (agent) throw new ValidationError([{ field: 'agent', message: 'only an agent key is bound to agents' }]);
    return null;
  }
  const value = agent ? ('id' in agent ? agent.id : agent.prefix) : undefined;
  if (value === undefined) {
    throw new ValidationError([
      {
        field: 'agent',
        message: 'an agent key is bound to one agent id (--agent-id) or an id prefix (--agent-prefix)',
      },
    ]);
  }
  if (!AGENT_ID_PATTERN.test(value)) throw new ValidationError([{ field: 'agent', message: AGENT_ID_RULE }]);
  return agent!;
}

/**
 * Makes a key, stores its hash and audits `key.create`. Returns the key itself (the only time it exists
 * outside the caller's hands) and the stored record.
 */
export async function createApiKey(
  store: Store,
  audit: AuditLog,
  opts: { name: string; role: Role; agent?: AgentBinding; createdBy: KeyActor; clock?: Clock },
): Promise<{ key: string; record: ApiKeyRecord }> {
  const name = checkName(opts.name);
  if (!isRole(opts.role)) {
    throw new ValidationError([{ field: 'role', message: `one of ${ROLES.join(', ')}` }]);
  }
  const agent = checkBinding(opts.role, opts.agent);
  const key = generateApiKey();
  const record: ApiKeyRecord = {
    id: uuidv7(),
    name,
    role: opts.role,
    hash: hashApiKey(key),
    prefix: keyPrefix(key),
    createdAt: (opts.clock ?? systemClock).now(),
    createdBy: opts.createdBy.keyId,
    revokedAt: null,
    agentId: agent && 'id' in agent ? agent.id : null,
    agentPrefix: agent && 'prefix' in agent ? agent.prefix : null,
  };
  await store.insertApiKey(record);
  await audit.record(opts.createdBy, 'key.create', `key:${record.id}`, {
    name: record.name,
    role: record.role,
    prefix: record.prefix,
    ...(agent ? { agent } : {}),
  });
  return { key, record };
}

/**
 * Revokes a key and audits `key.revoke`; false (and no audit entry) when the id is unknown or the key is
 * already revoked. A revoked key is refused from the next request on.
 */
export async function revokeApiKey(
  store: Store,
  audit: AuditLog,
  opts: { id: string; revokedBy: KeyActor; clock?: Clock },
): Promise<boolean> {
  const known = (await store.listApiKeys()).find((k) => k.id === opts.id);
  const revoked = await store.revokeApiKey(opts.id, (opts.clock ?? systemClock).now());
  if (!revoked) return false;
  await audit.record(opts.revokedBy, 'key.revoke', `key:${opts.id}`, {
    name: known?.name ?? null,
    role: known?.role ?? null,
    prefix: known?.prefix ?? null,
  });
  return true;
}
