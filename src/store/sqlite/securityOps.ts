/** API keys and the audit log of the SQLite adapter, as functions over the prepared statements (one each). */
import { ConflictError } from '../../domain/errors';
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../../domain/security';
import { sqliteErrorCode, toJson } from './rows';
import { toApiKey, toAuditEntry } from './rows';
import { MAX_SEQ, type SecurityStatements } from './securityStatements';

/** Stores a key; a hash or id already stored throws ConflictError (nothing written). */
export function insertApiKey(s: SecurityStatements, key: ApiKeyRecord): void {
  try {
    s.insertApiKey.run({
      id: key.id,
      name: key.name,
      role: key.role,
      hash: key.hash,
      prefix: key.prefix,
      createdAt: key.createdAt,
      createdBy: key.createdBy,
      revokedAt: key.revokedAt,
    });
  } catch (err) {
    if (/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(sqliteErrorCode(err) ?? '')) {
      throw new ConflictError(`api key ${key.id}: a key with this id or hash already exists`);
    }
    throw err;
  }
}

export function findApiKeyByHash(s: SecurityStatements, hash: string): ApiKeyRecord | null {
  const row = s.selectApiKeyByHash.get({ hash });
  return row ? toApiKey(row) : null;
}

export function listApiKeys(s: SecurityStatements): ApiKeyRecord[] {
  return s.selectApiKeys.all().map(toApiKey);
}

export function revokeApiKey(s: SecurityStatements, id: string, now: number): boolean {
  return s.revokeApiKey.run({ id, now }).changes === 1;
}

export function appendAudit(s: SecurityStatements, entry: NewAuditEntry): void {
  s.insertAudit.run({
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
  s: SecurityStatements,
  opts: { limit: number; beforeSeq?: number; action?: string },
): AuditEntry[] {
  const page = { beforeSeq: opts.beforeSeq ?? MAX_SEQ, limit: opts.limit };
  const rows =
    opts.action === undefined ? s.selectAudit.all(page) : s.selectAuditByAction.all({ ...page, action: opts.action });
  return rows.map(toAuditEntry);
}
