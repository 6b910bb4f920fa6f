/**
 * The SQLite schema, applied at open: the embedded twin of the T-SQL migrations in `sql/migrations/`, which the
 * mssql adapter never applies itself (sqlcmd or `taskfleet db deploy` does). `sql/README.md` points here.
 *
 * Table for table (same tables, same columns, same meaning; each index is named after the statement it serves):
 *
 * | SQLite table  | created by          | mirrors (sql/migrations/)           | differences                             |
 * | ------------- | ------------------- | ----------------------------------- | --------------------------------------- |
 * | tasks         | V1-V3, V6, V7, V9   | 0001_tasks_and_agents.sql, 0005/6/8 | `route_key` text, not a `route_id`      |
 * | task_events   | V1                  | 0001_tasks_and_agents.sql           |                                         |
 * | routes        | V1                  | 0001_tasks_and_agents.sql           | keyed by `key`, no id or SHA-256 hash   |
 * | agents        | V1, V2, V5          | 0001_tasks_and_agents.sql, 0004     |                                         |
 * | agent_events  | V1                  | 0001_tasks_and_agents.sql           |                                         |
 * | api_keys      | V2                  | 0002_api_keys_and_audit.sql         |                                         |
 * | audit_log     | V2                  | 0002_api_keys_and_audit.sql         |                                         |
 * | pools         | V8                  | 0007_pools.sql                      |                                         |
 * | task_logs     | V9                  | 0008_progress_and_logs.sql          |                                         |
 * | task_log_drops| V9                  | 0008_progress_and_logs.sql          |                                         |
 * | tasks         | V10                 | 0009_task_retry.sql                 | no CHECK on task_events.kind to widen   |
 * | webhook_*     | V11                 | 0010_webhooks.sql (and tasks.callback_url) |                                  |
 * | api_keys, agents | V12              | 0011_http_agents.sql                | api_keys rebuilt to widen its CHECK      |
 * | agent_metrics | V13                 | 0012_agent_metrics.sql              |                                          |
 * | schedule*     | V14                 | 0013_schedules.sql                  |                                         |
 * | (indexes)     | V15                 | 0014_retention.sql                  | the purge's grants are T-SQL only       |
 * | route_controls, route_events, circuit_breakers | V16 | 0015_route_controls.sql | keyed by route key, not route id |
 * | agents        | V17                 | 0016_agent_settings.sql             |                                          |
 * | workflow*, tasks.workflow | V18     | 0017_workflows.sql                  |                                          |
 * | route_minutes | V19                 | 0018_route_minutes.sql              | keyed by route key, not route id        |
 * | (none)        |                     | 0001's schema_version ledger        | `PRAGMA user_version` holds the version |
 * | (none)        |                     | 0003_roles.sql (database roles)     | one file: its permissions are the roles |
 *
 * The T-SQL schema was written after V4, so its 0001 already has what V2 to V4 added to these tables (the
 * lean partial indexes of V4 are its filtered indexes).
 *
 * `PRAGMA user_version` holds the number of migrations applied; migrations are append-only: change the schema
 * by adding a migration (and its T-SQL twin), never by editing one. Not every migration is idempotent
 * (`ALTER TABLE … ADD COLUMN` fails when run twice): what makes each run exactly once is the `user_version`
 * check inside the IMMEDIATE transaction that also applies it and bumps the version.
 *
 * Times are epoch milliseconds (INTEGER; datetime2(3) in T-SQL); JSON values are TEXT (nvarchar(max)); booleans
 * are INTEGER 0/1 (bit).
 */
import type { Database } from 'better-sqlite3';
import {
  V13_AGENT_METRICS,
  V14_SCHEDULES,
  V15_RETENTION,
  V16_ROUTE_CONTROLS,
  V17_AGENT_SETTINGS,
  V19_ROUTE_MINUTES,
} from './schemaOperations';
import { V18_WORKFLOWS } from './schemaWorkflows';
import {
  V1_INITIAL,
  V2_FLEET_AND_SECURITY,
  V3_TRACE_CONTEXT,
  V4_LEANER_INDEXES,
  V5_AGENT_RECYCLE,
  V6_SENSITIVE_TASKS,
  V7_TASKS_BY_SUBMITTER,
  V8_POOLS,
  V9_PROGRESS_AND_LOGS,
  V10_TASK_RETRY,
  V11_WEBHOOKS,
  V12_HTTP_AGENTS,
} from './schemaCore';

/** Migration N (1-based) brings the schema to `user_version = N`. Append only. */
export const MIGRATIONS: readonly string[] = [
  V1_INITIAL,
  V2_FLEET_AND_SECURITY,
  V3_TRACE_CONTEXT,
  V4_LEANER_INDEXES,
  V5_AGENT_RECYCLE,
  V6_SENSITIVE_TASKS,
  V7_TASKS_BY_SUBMITTER,
  V8_POOLS,
  V9_PROGRESS_AND_LOGS,
  V10_TASK_RETRY,
  V11_WEBHOOKS,
  V12_HTTP_AGENTS,
  V13_AGENT_METRICS,
  V14_SCHEDULES,
  V15_RETENTION,
  V16_ROUTE_CONTROLS,
  V17_AGENT_SETTINGS,
  V18_WORKFLOWS,
  V19_ROUTE_MINUTES,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION. Each pending migration runs with its version bump in one
 * IMMEDIATE transaction, so processes opening the same file at once apply it exactly once (the others wait
 * on the write lock, then find the version already set).
 */
export function applySchema(db: Database): void {
  const readVersion = (): number => Number(db.pragma('user_version', { simple: true }));
  const current = readVersion();
  if (current > SCHEMA_VERSION) {
    throw new Error(`database schema version ${current} is newer than this build supports (${SCHEMA_VERSION})`);
  }
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (current >= version) return;
    db.transaction(() => {
      if (readVersion() >= version) return;
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  });
}
