/** API keys (stored by hash, never the key) and the append-only audit log. */
import { COLUMN_LENGTH, param, statement, TABLE } from '../statement';

const KEY_COLUMNS = 'id, name, role, hash, prefix, created_at, created_by, revoked_at, agent_id, agent_prefix';
const AUDIT_COLUMNS = 'seq, at, actor, actor_name, action, target, ip, detail';

/**
 * INSERT_API_KEY: stores a key. Params: every column. Result: none.
 * Errors: 2627 (primary key) or 2601 (UX_api_keys_hash) when the id or the hash exists (the store answers
 * ConflictError); 547 for an unknown role or an agent binding that does not fit the
 * role.
 */
export const INSERT_API_KEY = statement('INSERT_API_KEY', {
  idempotent: false,
  params: {
    id: param.nvarchar(COLUMN_LENGTH.keyId),
    name: param.nvarchar(COLUMN_LENGTH.name),
    role: param.varchar(COLUMN_LENGTH.status),
    hash: param.varchar(COLUMN_LENGTH.hash),
    prefix: param.nvarchar(COLUMN_LENGTH.prefix),
    createdAt: param.time,
    createdBy: param.nvarchar(COLUMN_LENGTH.keyId),
    revokedAt: param.time,
    agentId: param.nvarchar(COLUMN_LENGTH.agentId),
    agentPrefix: param.nvarchar(COLUMN_LENGTH.agentId),
  },
  text: `
INSERT INTO ${TABLE.apiKeys} (id, name, role, hash, prefix, created_at, created_by, revoked_at, agent_id, agent_prefix)
VALUES (@id, @name, @role, @hash, @prefix, @createdAt, @createdBy, @revokedAt, @agentId, @agentPrefix);`,
});

/** SELECT_API_KEY_BY_HASH: the key with a hash, revoked or not (UX_api_keys_hash). Params: @hash. */
export const SELECT_API_KEY_BY_HASH = statement('SELECT_API_KEY_BY_HASH', {
  idempotent: true,
  params: { hash: param.varchar(COLUMN_LENGTH.hash) },
  text: `SELECT ${KEY_COLUMNS} FROM ${TABLE.apiKeys} WHERE hash = @hash;`,
});

/** SELECT_API_KEYS: every key, oldest first (IX_api_keys_created). */
export const SELECT_API_KEYS = statement('SELECT_API_KEYS', {
  idempotent: true,
  params: {},
  text: `SELECT ${KEY_COLUMNS} FROM ${TABLE.apiKeys} ORDER BY created_at, id;`,
});

/** REVOKE_API_KEY: revokes a key not yet revoked. Params: @id, @now. Result: { id }, or none when unknown or already revoked. */
export const REVOKE_API_KEY = statement('REVOKE_API_KEY', {
  idempotent: false,
  params: { id: param.nvarchar(COLUMN_LENGTH.keyId), now: param.time },
  text: `
UPDATE ${TABLE.apiKeys}
SET revoked_at = @now
OUTPUT inserted.id
WHERE id = @id AND revoked_at IS NULL;`,
});

/** INSERT_AUDIT: appends an audit entry. Params: @at, @actor, @actorName, @action, @target, @ip, @detail (JSON). */
export const INSERT_AUDIT = statement('INSERT_AUDIT', {
  idempotent: false,
  params: {
    at: param.time,
    actor: param.nvarchar(COLUMN_LENGTH.keyId),
    actorName: param.nvarchar(COLUMN_LENGTH.keyId),
    action: param.varchar(COLUMN_LENGTH.action),
    target: param.nvarchar(COLUMN_LENGTH.target),
    ip: param.nvarchar(COLUMN_LENGTH.ip),
    detail: param.json,
  },
  text: `
INSERT INTO ${TABLE.auditLog} (at, actor, actor_name, action, target, ip, detail)
VALUES (@at, @actor, @actorName, @action, @target, @ip, @detail);`,
});

/**
 * SELECT_AUDIT: entries before @beforeSeq, newest first (the clustered key, backwards).
 * Params: @beforeSeq (MAX_SEQ for a first page), @limit. Result: audit rows.
 */
export const SELECT_AUDIT = statement('SELECT_AUDIT', {
  idempotent: true,
  params: { beforeSeq: param.bigint, limit: param.int },
  text: `SELECT TOP (@limit) ${AUDIT_COLUMNS} FROM ${TABLE.auditLog} WHERE seq < @beforeSeq ORDER BY seq DESC;`,
});

/** SELECT_AUDIT_BY_ACTION: as SELECT_AUDIT, of one @action only (IX_audit_log_action_seq, backwards). */
export const SELECT_AUDIT_BY_ACTION = statement('SELECT_AUDIT_BY_ACTION', {
  idempotent: true,
  params: { action: param.varchar(COLUMN_LENGTH.action), beforeSeq: param.bigint, limit: param.int },
  text: `
SELECT TOP (@limit) ${AUDIT_COLUMNS}
FROM ${TABLE.auditLog}
WHERE action = @action AND seq < @beforeSeq
ORDER BY seq DESC;`,
});

/** `beforeSeq` of a first page: above every sequence number a bigint identity reaches in practice. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
