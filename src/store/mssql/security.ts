/** API keys and the audit log in the mssql adapter: one statement per call. Twin of `sqlite/security.ts`. */
import { ConflictError } from '../../domain/errors';
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../../domain/security';
import type { SqlClient } from './client';
import { isUniqueViolation } from './errors';
import * as mapping from './rows';
import * as securityStatements from './statements/security';

export class MssqlSecurity {
  constructor(private readonly db: SqlClient) {}

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    await this.db.run(
      securityStatements.INSERT_API_KEY,
      { ...key, agentId: key.agentId ?? null, agentPrefix: key.agentPrefix ?? null },
      {
        mapError: (err) =>
          isUniqueViolation(err)
            ? new ConflictError(`api key ${key.id}: a key with this id or hash already exists`)
            : null,
      },
    );
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = await this.db.one<'hash', mapping.ApiKeyRow>(securityStatements.SELECT_API_KEY_BY_HASH, { hash });
    return row ? mapping.toApiKey(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.db.all<never, mapping.ApiKeyRow>(securityStatements.SELECT_API_KEYS, {})).map(mapping.toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    return (await this.db.all(securityStatements.REVOKE_API_KEY, { id, now })).length === 1;
  }

  async appendAudit(entry: NewAuditEntry): Promise<void> {
    await this.db.run(securityStatements.INSERT_AUDIT, { ...entry, detail: mapping.toJson(entry.detail) });
  }

  async listAudit(opts: { limit: number; beforeSeq?: number; action?: string }): Promise<AuditEntry[]> {
    const page = { beforeSeq: opts.beforeSeq ?? securityStatements.MAX_SEQ, limit: opts.limit };
    const rows =
      opts.action === undefined
        ? await this.db.all<string, mapping.AuditRow>(securityStatements.SELECT_AUDIT, page)
        : await this.db.all<string, mapping.AuditRow>(securityStatements.SELECT_AUDIT_BY_ACTION, {
            ...page,
            action: opts.action,
          });
    return rows.map(mapping.toAuditEntry);
  }
}
