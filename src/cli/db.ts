/**
 * `taskfleet db deploy | status`: the T-SQL migrations of the mssql store, applied from Node (for operators
 * without sqlcmd; scripts/deploy-schema.sh does the same with sqlcmd). Never run implicitly: a supervisor or
 * worker only checks the schema version and refuses an old one.
 */
import type { Config } from '../config/config';
import { deployMigrations, readLedger } from '../store/mssql/deploy/deployer';
import { listMigrations, migrationsDir, planMigrations } from '../store/mssql/deploy/migrations';
import { openPool } from '../store/mssql/open';

const DEPLOY_REQUEST_TIMEOUT_MS = 600_000;

function requireMssql(config: Config): void {
  if (config.store !== 'mssql') {
    throw new Error(
      'taskfleet db applies the Azure SQL / SQL Server migrations: set TASKFLEET_STORE=mssql and the TASKFLEET_MSSQL_* ' +
        'connection variables (the SQLite store applies its own schema when it opens)',
    );
  }
}

export async function runDbDeploy(config: Config, o: { dryRun?: boolean }): Promise<void> {
  requireMssql(config);
  // One connection: the batches of a file run in order on the same session, as under sqlcmd. A migration may
  // wait for another deployer's lock (up to 120 s) or build an index: give a statement up to 10 minutes.
  const { pool, database } = await openPool(config, { poolMax: 1, requestTimeoutMs: DEPLOY_REQUEST_TIMEOUT_MS });
  try {
    const report = await deployMigrations(pool, {
      schema: config.mssql.schema,
      dryRun: o.dryRun,
      policy: config.mssql.retry,
      log: (line) => console.log(line),
    });
    const where = `database ${database}, schema ${config.mssql.schema}`;
    if (o.dryRun) {
      console.log(`${where}: ${report.pending.length} pending: ${report.pending.join(', ') || '(none)'}`);
    } else {
      console.log(
        `${where}: applied ${report.applied.length} (${report.applied.join(', ') || 'none'}), ` +
          `${report.alreadyApplied.length} already applied`,
      );
    }
  } finally {
    await pool.close();
  }
}

export async function runDbStatus(config: Config): Promise<void> {
  requireMssql(config);
  const { pool, database } = await openPool(config, { poolMax: 1 });
  try {
    const files = listMigrations(migrationsDir());
    const plan = planMigrations(files, await readLedger(pool, config.mssql.schema, config.mssql.retry));
    console.log(`database ${database}, schema ${config.mssql.schema}`);
    for (const f of files) console.log(`  ${plan.pending.includes(f) ? 'pending ' : 'applied '} ${f.name}`);
  } finally {
    await pool.close();
  }
}
