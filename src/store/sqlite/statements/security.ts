/**
 * API keys (stored by hash, never the key) and the append-only audit log. Twin of
 * `mssql/statements/security.ts`. Parameters are named (`@name`).
 */
import type { Database } from 'better-sqlite3';
import type { ApiKeyRecord } from '../../../domain/security';
import type { ApiKeyRow, AuditRow } from '../rows';

/**
 * INSERT_API_KEY: stores a key (its hash, never the key). Params: every column. Throws SQLITE_CONSTRAINT_UNIQUE or
 * SQLITE_CONSTRAINT_PRIMARYKEY when the hash or the id exists, SQLITE_CONSTRAINT_CHECK for an unknown role or
 * an agent binding that does not fit the role.
 */
export const INSERT_API_KEY = `
INSERT INTO api_keys (id, name, role, hash, prefix, created_at, created_by, revoked_at, agent_id, agent_prefix)
VALUES (@id, @name, @role, @hash, @prefix, @createdAt, @createdBy, @revokedAt, @agentId, @agentPrefix)`;

/** SELECT_API_KEY_BY_HASH: the key with a hash, revoked or not (unique index on hash). Params: @hash. Result: the row or none. */
export const SELECT_API_KEY_BY_HASH = `SELECT * FROM api_keys WHERE hash = @hash`;

/** SELECT_API_KEYS: every key, oldest first (index api_keys_created). Result: key rows. */
export const SELECT_API_KEYS = `SELECT * FROM api_keys ORDER BY created_at, id`;

/** REVOKE_API_KEY: revokes a key not yet revoked. Params: @id, @now. Changes: 0|1 (0 when unknown or already revoked). */
export const REVOKE_API_KEY = `UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL`;

/** INSERT_AUDIT: appends an audit entry. Params: @at, @actor, @actorName, @action, @target, @ip, @detail (JSON). */
export const INSERT_AUDIT = `
INSERT INTO audit_log (at, actor, actor_name, action, target, ip, detail)
VALUES (@at, @actor, @actorName, @action, @target, @ip, @detail)`;

/**
 * SELECT_AUDIT: audit entries before @beforeSeq, newest first (the primary key, backwards). Params: @beforeSeq (the
 * caller passes MAX_SEQ for the first page), @limit. Result: audit rows.
 */
export const SELECT_AUDIT = `SELECT * FROM audit_log WHERE seq < @beforeSeq ORDER BY seq DESC LIMIT @limit`;

/**
 * SELECT_AUDIT_BY_ACTION: as SELECT_AUDIT, only one @action (index audit_log_action_seq, backwards).
 * Params: @action, @beforeSeq, @limit. Result: audit rows.
 */
export const SELECT_AUDIT_BY_ACTION = `
SELECT * FROM audit_log WHERE action = @action AND seq < @beforeSeq ORDER BY seq DESC LIMIT @limit`;

/** `beforeSeq` of a first page: above every sequence number SQLite can assign. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface AuditParams {
  at: number;
  actor: string;
  actorName: string;
  action: string;
  target: string;
  ip: string | null;
  detail: string;
}

export function prepareSecurityStatements(db: Database) {
  return {
    insertApiKey: db.prepare<ApiKeyRecord>(INSERT_API_KEY),
    selectApiKeyByHash: db.prepare<{ hash: string }, ApiKeyRow>(SELECT_API_KEY_BY_HASH),
    selectApiKeys: db.prepare<[], ApiKeyRow>(SELECT_API_KEYS),
    revokeApiKey: db.prepare<{ id: string; now: number }>(REVOKE_API_KEY),
    insertAudit: db.prepare<AuditParams>(INSERT_AUDIT),
    selectAudit: db.prepare<{ beforeSeq: number; limit: number }, AuditRow>(SELECT_AUDIT),
    selectAuditByAction: db.prepare<{ action: string; beforeSeq: number; limit: number }, AuditRow>(
      SELECT_AUDIT_BY_ACTION,
    ),
  };
}

export type SecurityStatements = ReturnType<typeof prepareSecurityStatements>;
