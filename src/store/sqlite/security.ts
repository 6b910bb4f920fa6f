/**
 * API keys and the audit log of the SQLite adapter, one statement each. Twin of `mssql/statements/security.ts`
 * (whose INSERT_API_KEY conflict is mapped the same way in mssqlStore.ts).
 */
import { ConflictError } from '../../domain/errors';
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../../domain/security';
import { sqliteErrorCode, toApiKey, toAuditEntry, toJson } from './rows';
import type { SqliteStatements } from './statements';
import { MAX_SEQ } from './statements/security';

/** Stores a key; a hash or id already stored throws ConflictError (nothing written). */
export function insertApiKey(statements: SqliteStatements, key: ApiKeyRecord): void {
  try {
    statements.security.insertApiKey.run({
      id: key.id,
      name: key.name,
      role: key.role,
      hash: key.hash,
      prefix: key.prefix,
      createdAt: key.createdAt,
      createdBy: key.createdBy,
      revokedAt: key.revokedAt,
      agentId: key.agentId ?? null,
      agentPrefix: key.agentPrefix ?? null,
    });
  } catch (err) {
    if (/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(sqliteErrorCode(err) ?? '')) {
      throw new ConflictError(`api key ${key.id}: a key with this id or hash already exists`);
    }
    throw err;
  }
}

export function findApiKeyByHash(statements: SqliteStatements, hash: string): ApiKeyRecord | null {
  const row = statements.security.selectApiKeyByHash.get({ hash });
  return row ? toApiKey(row) : null;
}

export function listApiKeys(statements: SqliteStatements): ApiKeyRecord[] {
  return statements.security.selectApiKeys.all().map(toApiKey);
}

export function revokeApiKey(statements: SqliteStatements, id: string, now: number): boolean {
  return statements.security.revokeApiKey.run({ id, now }).changes === 1;
}

export function appendAudit(statements: SqliteStatements, entry: NewAuditEntry): void {
  statements.security.insertAudit.run({
    at: entry.at,
    actor: entry.actor,
    actorName: entry.actorName,
    action: entry.action,
    target: entry.target,
    ip: entry.ip,
    detail: toJson(entry.detail),
  });
}

/** Newest first, before `beforeSeq` when given, of one action when given. */
export function listAudit(
  statements: SqliteStatements,
  opts: { limit: number; beforeSeq?: number; action?: string },
): AuditEntry[] {
  const page = { beforeSeq: opts.beforeSeq ?? MAX_SEQ, limit: opts.limit };
  const rows =
    opts.action === undefined
      ? statements.security.selectAudit.all(page)
      : statements.security.selectAuditByAction.all({ ...page, action: opts.action });
  return rows.map(toAuditEntry);
}
