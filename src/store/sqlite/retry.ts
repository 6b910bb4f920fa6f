/**
 * Retry on demand and the bulk actions in the SQLite adapter. Twin of the T-SQL batches of
 * `mssql/statements/retry.ts`: what one batch does there is a function here, which the caller runs inside one
 * IMMEDIATE transaction (the rows read are the rows written).
 */
import type { TaskRecord } from '../../domain/task';
import type { BulkPage, BulkTaskQuery, DispatchRow, RetryActor } from '../port';
import { toTask } from './rows';
import type { SqliteStatements } from './statements';
import { bulkPageFilter } from '../shared';
import type { BulkPageParams, BulkPageRow } from './statements/retry';
import { appendTaskEvent } from './tasks';

/** The conditional retry of one task at `attempt`, with its `retried` event; null when it did not apply. */
export function retryTask(
  statements: SqliteStatements,
  ref: { taskId: string; attempt: number; now: number } & RetryActor,
): TaskRecord | null {
  const before = statements.tasks.selectTask.get({ id: ref.taskId });
  if (!before) return null;
  const key = { taskId: ref.taskId, attempt: ref.attempt, now: ref.now };
  if (statements.retry.retryTask.run(key).changes === 0) return null;
  const after = statements.tasks.selectTask.get({ id: ref.taskId });
  if (!after) return null;
  appendTaskEvent(statements, {
    taskId: ref.taskId,
    at: ref.now,
    kind: 'retried',
    attempt: ref.attempt,
    agentId: null,
    data: { by: ref.by, from: before.status, maxAttempts: after.max_attempts },
  });
  return toTask(after);
}

function page(statements: SqliteStatements, query: BulkTaskQuery): BulkPageRow[] {
  const params: BulkPageParams = bulkPageFilter(query);
  return statements.retry.selectBulkPage.all(params);
}

/** What the dispatcher needs of a retried task (the T-SQL batch selects these columns). */
function dispatchOf(t: TaskRecord): DispatchRow {
  const row: DispatchRow = {
    id: t.id,
    attempt: t.attempt,
    type: t.type,
    requiredCapabilities: t.requiredCapabilities,
    priority: t.priority,
    notBefore: t.notBefore,
  };
  if (t.traceParent !== null) row.traceParent = t.traceParent;
  return row;
}

const lastIdOf = (rows: BulkPageRow[]) => rows[rows.length - 1]?.id ?? null;

export function retryTasks(
  statements: SqliteStatements,
  query: BulkTaskQuery & RetryActor,
): BulkPage & { retried: DispatchRow[] } {
  const rows = page(statements, query);
  const retried: DispatchRow[] = [];
  for (const row of rows) {
    const task = retryTask(statements, { taskId: row.id, attempt: row.attempt, now: query.now, by: query.by });
    if (task) retried.push(dispatchOf(task));
  }
  return { matched: rows.length, lastId: lastIdOf(rows), retried };
}

export function cancelTasks(
  statements: SqliteStatements,
  query: BulkTaskQuery,
): BulkPage & { cancelled: string[]; cancelRequested: string[] } {
  const rows = page(statements, query);
  const cancelled: string[] = [];
  const cancelRequested: string[] = [];
  for (const row of rows) {
    const key = { taskId: row.id, attempt: row.attempt, now: query.now };
    if (row.status === 'queued' && statements.background.cancelQueued.run(key).changes === 1) {
      appendTaskEvent(statements, { ...event(row, query.now), kind: 'cancelled', agentId: null });
      cancelled.push(row.id);
    } else if (row.status === 'running' && statements.background.requestCancelRunning.run(key).changes === 1) {
      appendTaskEvent(statements, { ...event(row, query.now), kind: 'cancel_requested' });
      cancelRequested.push(row.id);
    }
  }
  return { matched: rows.length, lastId: lastIdOf(rows), cancelled, cancelRequested };
}

function event(row: BulkPageRow, now: number) {
  return { taskId: row.id, at: now, attempt: row.attempt, agentId: row.agent_id };
}
