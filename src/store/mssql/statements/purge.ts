/**
 * What the retention purge deletes (src/store/purgePort.ts), one batch per call, each its own short
 * transaction. Twin of `sqlite/statements/purge.ts`. Tasks and audit entries go through the procedures of
 * sql/migrations/0014_retention.sql: the supervisor's role is denied DELETE on those tables (0003), and the
 * procedures delete only terminal tasks and audit entries older than 30 days. Not idempotent: a repeat deletes
 * the next batch (harmless, but it answers another count).
 */
import { param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

/**
 * PURGE_TASKS: up to @limit tasks in one of @statuses (JSON array; terminal ones only) that finished before
 * @finishedBefore, with their events, logs, log drops and webhook deliveries (IX_tasks_finished, READPAST).
 * Result: { deleted }. Errors: 229 when the caller is not in <Schema>_maintenance.
 */
export const PURGE_TASKS = statement('PURGE_TASKS', {
  idempotent: false,
  params: { statuses: param.json, finishedBefore: param.time, limit: param.int },
  text: `EXEC [$(Schema)].[purge_tasks] @statuses = @statuses, @finishedBefore = @finishedBefore, @limit = @limit;`,
});

/**
 * PURGE_AGENTS: up to @limit agents in one of @states (JSON array) last heard from before @before
 * (IX_agents_state_heartbeat, skipping rows another purge holds); their events go by ON DELETE CASCADE.
 * Params: @states, @before, @limit. Result: { deleted }.
 */
export const PURGE_AGENTS = statement('PURGE_AGENTS', {
  idempotent: false,
  params: { states: param.json, before: param.time, limit: param.int },
  text: `
${WRITE_PREAMBLE}
DELETE TOP (@limit) FROM ${TABLE.agents} WITH (READPAST, ROWLOCK, READCOMMITTEDLOCK)
WHERE state IN (SELECT s.state COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@states) WITH (state varchar(16) '$') AS s)
  AND last_heartbeat_at < @before;
SELECT @@ROWCOUNT AS deleted;`,
});

/**
 * PURGE_AUDIT: up to @limit audit entries written before @before and more than 30 days ago by the server's clock
 * (IX_audit_log_at). Params: @before, @limit. Result: { deleted }. Errors: 229 when the caller is not in
 * <Schema>_maintenance.
 */
export const PURGE_AUDIT = statement('PURGE_AUDIT', {
  idempotent: false,
  params: { before: param.time, limit: param.int },
  text: `EXEC [$(Schema)].[purge_audit_log] @before = @before, @limit = @limit;`,
});
