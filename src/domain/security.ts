/** API keys, roles and the audit log. */

export const ROLES = ['admin', 'submitter', 'reader'] as const;
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
}

/** Who made a request: the key's id and name, its role, and where the request came from. */
export interface Actor {
  keyId: string;
  name: string;
  role: Role;
  ip: string;
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
