/**
 * What a running attempt reports: its progress and its log lines (src/domain/taskLog.ts). Twin of
 * `mssql/statements/logs.ts`. Every write is fenced like a lease-bound write, by the attempt (running at
 * @attempt), and refused for a sensitive task: its progress and lines are never kept. Parameters are named.
 */
import type { Database } from 'better-sqlite3';

/** The fence of every write here, on the task row. */
const REPORTING = `id = @taskId AND status = 'running' AND attempt = @attempt AND sensitive = 0`;

/**
 * SET_TASK_PROGRESS: the latest progress of the running attempt. Params: @taskId, @attempt, @progress (JSON),
 * @now. Changes: 1 written, 0 refused (another attempt, not running, sensitive, unknown).
 */
export const SET_TASK_PROGRESS = `
UPDATE tasks SET progress = @progress, progress_at = @now WHERE ${REPORTING}`;

/** SELECT_REPORTING_ATTEMPT: whether @attempt may append lines. Params: @taskId, @attempt. Result: a row or none. */
export const SELECT_REPORTING_ATTEMPT = `SELECT 1 AS found FROM tasks WHERE ${REPORTING}`;

/** INSERT_TASK_LOG: one line. Params: @taskId, @attempt, @seq, @at, @level, @message, @fields (JSON or null). */
export const INSERT_TASK_LOG = `
INSERT OR IGNORE INTO task_logs (task_id, attempt, seq, at, level, message, fields)
VALUES (@taskId, @attempt, @seq, @at, @level, @message, @fields)`;

/** UPSERT_TASK_LOG_DROPS: an attempt's dropped totals (absolute). Params: @taskId, @attempt, @lines, @bytes. */
export const UPSERT_TASK_LOG_DROPS = `
INSERT INTO task_log_drops (task_id, attempt, lines, bytes) VALUES (@taskId, @attempt, @lines, @bytes)
ON CONFLICT (task_id, attempt) DO UPDATE SET lines = MAX(lines, excluded.lines), bytes = MAX(bytes, excluded.bytes)`;

/** SELECT_TASK_LOGS: one attempt's lines in order (primary key). Params: @taskId, @attempt. Result: log rows. */
export const SELECT_TASK_LOGS = `
SELECT seq, at, level, message, fields FROM task_logs WHERE task_id = @taskId AND attempt = @attempt ORDER BY seq`;

/** SELECT_TASK_LOG_DROPS: one attempt's dropped totals. Params: @taskId, @attempt. Result: the row or none. */
export const SELECT_TASK_LOG_DROPS = `
SELECT lines, bytes FROM task_log_drops WHERE task_id = @taskId AND attempt = @attempt`;

export interface TaskLogRow {
  seq: number;
  at: number;
  level: string;
  message: string;
  fields: string | null;
}

type AttemptKey = { taskId: string; attempt: number };

export function prepareLogStatements(db: Database) {
  return {
    setTaskProgress: db.prepare<AttemptKey & { progress: string; now: number }>(SET_TASK_PROGRESS),
    selectReportingAttempt: db.prepare<AttemptKey, { found: number }>(SELECT_REPORTING_ATTEMPT),
    insertTaskLog: db.prepare<
      AttemptKey & { seq: number; at: number; level: string; message: string; fields: string | null }
    >(INSERT_TASK_LOG),
    upsertTaskLogDrops: db.prepare<AttemptKey & { lines: number; bytes: number }>(UPSERT_TASK_LOG_DROPS),
    selectTaskLogs: db.prepare<AttemptKey, TaskLogRow>(SELECT_TASK_LOGS),
    selectTaskLogDrops: db.prepare<AttemptKey, { lines: number; bytes: number }>(SELECT_TASK_LOG_DROPS),
  };
}

export type LogStatements = ReturnType<typeof prepareLogStatements>;
