/**
 * Runs the named statements on a connection pool: binds typed parameters, substitutes the schema, retries
 * transient faults (retry.ts) and turns every failure into the adapter's errors (errors.ts). One statement is
 * one request: sp_executesql, so its plan is cached and reused.
 */
import sql from 'mssql';
import { UnavailableError } from '../../domain/errors';
import { withTransientRetry, type RetryHooks, type RetryPolicy } from './retry';
import { bindSchema, type ParamType, type Statement } from './statement';

export type Values<K extends string> = { [P in K]: unknown };
export type Recordsets = Array<Array<Record<string, unknown>>>;

/** Whether a write batch answered `{ applied: true }` in its first result set. */
export const appliedIn = (sets: Recordsets) => Boolean((sets[0]?.[0] as { applied?: boolean } | undefined)?.applied);
/** Whether a write batch answered `{ changed: 1 }` in its first result set. */
export const changedIn = (sets: Recordsets) =>
  Number((sets[0]?.[0] as { changed?: number } | undefined)?.changed ?? 0) === 1;

function sqlType(type: ParamType, value: unknown): sql.ISqlType {
  switch (type.kind) {
    case 'varchar': {
      // A longer value than the column (a malformed id from a URL) still binds; it simply matches nothing.
      const len = Math.max(type.length, typeof value === 'string' ? value.length : 0);
      return len > 8000 ? sql.VarChar(sql.MAX) : sql.VarChar(len);
    }
    case 'nvarchar': {
      if (type.length === 'max') return sql.NVarChar(sql.MAX);
      const len = Math.max(type.length, typeof value === 'string' ? value.length : 0);
      return len > 4000 ? sql.NVarChar(sql.MAX) : sql.NVarChar(len);
    }
    case 'datetime2':
      return sql.DateTime2(3);
    case 'int':
      return sql.Int();
    case 'bigint':
      return sql.BigInt();
    case 'float':
      return sql.Float();
    case 'bit':
      return sql.Bit();
  }
}

function driverValue(type: ParamType, value: unknown): unknown {
  if (value === null) return null;
  if (type.kind === 'datetime2') return new Date(value as number);
  return value;
}

/** A statement called without one of its parameters: a bug in the adapter. */
class BindError extends Error {}

export class SqlClient {
  private readonly texts = new Map<Statement, string>();
  private closed = false;

  constructor(
    private readonly pool: sql.ConnectionPool,
    private readonly schema: string,
    private readonly policy: RetryPolicy,
    private readonly hooks: RetryHooks = {},
  ) {}

  /** Runs `stmt` with `values` (every declared parameter, null for SQL NULL) and returns its result sets. */
  async run<K extends string>(
    stmt: Statement<K>,
    values: Values<K>,
    opts: { mapError?: (err: unknown) => Error | null } = {},
  ): Promise<Recordsets> {
    const text = this.textOf(stmt);
    return withTransientRetry(
      stmt.name,
      async () => {
        if (this.closed) throw new UnavailableError('mssql: the store is closed');
        const request = this.pool.request();
        for (const [name, type] of Object.entries(stmt.params) as Array<[K, ParamType]>) {
          const value = values[name];
          if (value === undefined) throw new BindError(`mssql: ${stmt.name}: no value for @${name}`);
          request.input(name, sqlType(type, value), driverValue(type, value));
        }
        const result = await request.query(text);
        return (result.recordsets as unknown as Recordsets | undefined) ?? [];
      },
      {
        idempotent: stmt.idempotent,
        policy: this.policy,
        hooks: this.hooks,
        mapError: (err) => {
          if (err instanceof UnavailableError || err instanceof BindError) return err;
          return opts.mapError?.(err) ?? null;
        },
      },
    );
  }

  /** The first row of the first result set, or null. */
  async one<K extends string, R>(stmt: Statement<K>, values: Values<K>): Promise<R | null> {
    const [rows] = await this.run(stmt, values);
    return (rows?.[0] as R | undefined) ?? null;
  }

  /** Every row of the first result set. */
  async all<K extends string, R>(stmt: Statement<K>, values: Values<K>): Promise<R[]> {
    const [rows] = await this.run(stmt, values);
    return (rows ?? []) as R[];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  private textOf(stmt: Statement): string {
    let text = this.texts.get(stmt);
    if (text === undefined) {
      text = bindSchema(stmt.text, this.schema);
      this.texts.set(stmt, text);
    }
    return text;
  }
}
