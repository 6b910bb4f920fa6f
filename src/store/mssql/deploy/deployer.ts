/**
 * Applies the T-SQL migrations from Node, for operators without sqlcmd (`taskfleet db deploy`, `npm run
 * db:deploy`). It runs the same files scripts/deploy-schema.sh hands to `sqlcmd -b`, split on GO with the same
 * variable substitution, batch by batch on one connection, stopping at the first error. Each migration guards
 * itself (the migration lock, the ledger check, IF NOT EXISTS on every object), so two deployers at once, or a
 * deploy run again, apply each migration exactly once; a transient fault retries the whole file.
 */
import fs from 'node:fs';
import type { ConnectionPool } from 'mssql';
import { SqlClient } from '../client';
import type { RetryHooks, RetryPolicy } from '../retry';
import { withTransientRetry } from '../retry';
import { SELECT_SCHEMA_LEDGER } from '../statements/schema';
import {
  listMigrations,
  migrationsDir,
  planMigrations,
  splitBatches,
  type LedgerEntry,
  type MigrationFile,
} from './migrations';

export interface DeployOptions {
  schema: string;
  dir?: string;
  /** List what would be applied, apply nothing. */
  dryRun?: boolean;
  policy: RetryPolicy;
  hooks?: RetryHooks;
  log?: (line: string) => void;
}

export interface DeployReport {
  applied: string[];
  alreadyApplied: string[];
  pending: string[];
}

export async function readLedger(pool: ConnectionPool, schema: string, policy: RetryPolicy): Promise<LedgerEntry[]> {
  const client = new SqlClient(pool, schema, policy);
  const rows = await client.all<never, LedgerEntry>(SELECT_SCHEMA_LEDGER, {});
  return rows.map((r) => ({ version: r.version, name: r.name }));
}

async function applyFile(pool: ConnectionPool, file: MigrationFile, options: DeployOptions): Promise<void> {
  const batches = splitBatches(fs.readFileSync(file.path, 'utf8'), { Schema: options.schema }, file.name);
  await withTransientRetry(
    `MIGRATION ${file.name}`,
    async () => {
      for (const batch of batches) {
        for (let i = 0; i < batch.repeat; i++) {
          const request = pool.request();
          request.on('info', (info: { message: string }) => options.log?.(`  ${info.message}`));
          await request.batch(batch.text);
        }
      }
    },
    // Safe to repeat whole: the migration is idempotent by construction.
    { idempotent: true, policy: options.policy, hooks: options.hooks },
  );
}

export async function deployMigrations(pool: ConnectionPool, options: DeployOptions): Promise<DeployReport> {
  const files = listMigrations(options.dir ?? migrationsDir());
  const plan = planMigrations(files, await readLedger(pool, options.schema, options.policy));
  const report: DeployReport = {
    applied: [],
    alreadyApplied: plan.applied.map((f) => f.name),
    pending: plan.pending.map((f) => f.name),
  };
  if (options.dryRun) return report;
  for (const file of plan.pending) {
    options.log?.(`applying ${file.name} to schema ${options.schema}`);
    await applyFile(pool, file, options);
    report.applied.push(file.name);
  }
  // Another deployer may have applied some of them meanwhile: what counts is that the ledger now has them all.
  const after = planMigrations(files, await readLedger(pool, options.schema, options.policy));
  if (after.pending.length > 0) {
    throw new Error(`migrations ran but the ledger lacks ${after.pending.map((f) => f.name).join(', ')}`);
  }
  report.pending = [];
  return report;
}
