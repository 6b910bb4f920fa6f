/** API keys, roles and the audit log. */

export const ROLES = ['admin', 'submitter', 'reader', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** An API key as stored: never the key itself, only its SHA-256 (keys are 256-bit random, so no KDF is needed). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  /** hex SHA-256 of the whole key. */
  hash: string;
  /** The first characters of the key, shown in listings so that operators can tell keys apart. */
  prefix: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
  /** An `agent` key acts as this one agent only (exactly one of agentId and agentPrefix; null for other roles). */
  agentId?: string | null;
  /** An `agent` key acts as any agent whose id starts with this (a pool's agents). */
  agentPrefix?: string | null;
}

/** Who made a request: the key's id and name, its role, and where the request came from. */
export interface Actor {
  keyId: string;
  name: string;
  role: Role;
  ip: string;
  /** The agents an `agent` key may act as (absent for the other roles). */
  agent?: AgentBinding;
}

/** The agents an `agent` key is bound to: one id, or every id with a prefix. */
export type AgentBinding = { id: string } | { prefix: string };

/** Whether an actor may act as agent `agentId`: only an `agent` key, and only within its binding. */
export function mayActAs(actor: Pick<Actor, 'role' | 'agent'>, agentId: string): boolean {
  const b = actor.agent;
  if (actor.role !== 'agent' || !b) return false;
  return 'id' in b ? b.id === agentId : agentId.startsWith(b.prefix);
}

/** The binding of a stored key (null for a key of another role, or a malformed one). */
export function bindingOf(key: Pick<ApiKeyRecord, 'role' | 'agentId' | 'agentPrefix'>): AgentBinding | null {
  if (key.role !== 'agent') return null;
  if (key.agentId) return { id: key.agentId };
  if (key.agentPrefix) return { prefix: key.agentPrefix };
  return null;
}

export interface AuditEntry {
  seq: number;
  at: number;
  /** Key id of the actor, or `cli:<user>` for the command line. */
  actor: string;
  actorName: string;
  action: string;
  /** What was acted on: `task:<id>`, `agent:<id>`, `key:<id>`. */
  target: string;
  ip: string | null;
  detail: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq'>;
