/** Progress and log lines of the SQLite adapter. Twin of the progress and log methods of `mssql/mssqlStore.ts`. */
import type { TaskLogBatch, TaskLogLevel, TaskLogs } from '../../domain/taskLog';
import { fromJson } from './rows';
import type { SqliteStatements } from './statements';

/** Inside one write transaction: the fence read and the inserts see the same state. */
export function appendTaskLogs(statements: SqliteStatements, batch: TaskLogBatch): boolean {
  const key = { taskId: batch.taskId, attempt: batch.attempt };
  if (!statements.logs.selectReportingAttempt.get(key)) return false;
  for (const line of batch.lines) {
    statements.logs.insertTaskLog.run({
      ...key,
      seq: line.seq,
      at: line.at,
      level: line.level,
      message: line.message,
      fields: line.fields === null || line.fields === undefined ? null : JSON.stringify(line.fields),
    });
  }
  if (batch.dropped.lines > 0 || batch.dropped.bytes > 0) {
    statements.logs.upsertTaskLogDrops.run({ ...key, lines: batch.dropped.lines, bytes: batch.dropped.bytes });
  }
  return true;
}

export function listTaskLogs(statements: SqliteStatements, taskId: string, attempt: number): TaskLogs {
  const key = { taskId, attempt };
  const lines = statements.logs.selectTaskLogs.all(key).map((row) => ({
    seq: row.seq,
    at: row.at,
    level: row.level as TaskLogLevel,
    message: row.message,
    fields: fromJson<unknown>(row.fields),
  }));
  const dropped = statements.logs.selectTaskLogDrops.get(key);
  return { lines, dropped: { lines: dropped?.lines ?? 0, bytes: dropped?.bytes ?? 0 } };
}
