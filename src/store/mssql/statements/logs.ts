/**
 * What a running attempt reports: its progress and its log lines (src/domain/taskLog.ts). Twin of
 * `sqlite/statements/logs.ts`. Every write is fenced like a lease-bound write, by the attempt (running at
 * @attempt), and refused for a sensitive task: its progress and lines are never kept.
 */
import { BIN2, COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

/** The fence of every write here, on the task row `t`. */
const REPORTING = `t.id = @taskId AND t.status = 'running' AND t.attempt = @attempt AND t.sensitive = 0`;

const attemptParams = { taskId: param.varchar(COLUMN_LENGTH.taskId), attempt: param.int };

/**
 * SET_TASK_PROGRESS: the latest progress of the running attempt.
 * Params: @taskId, @attempt, @progress (JSON), @now. Result: { applied } (bit; 0 for another attempt, a task
 * not running, a sensitive or an unknown one).
 */
export const SET_TASK_PROGRESS = statement('SET_TASK_PROGRESS', {
  idempotent: false,
  params: { ...attemptParams, progress: param.json, now: param.time },
  text: `
${WRITE_PREAMBLE}
UPDATE t
SET progress = @progress, progress_at = @now
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${REPORTING};
SELECT CAST(@@ROWCOUNT AS bit) AS applied;`,
});

/**
 * APPEND_TASK_LOGS: appends one attempt's lines (a line whose seq is stored is skipped) and raises its dropped
 * totals to @droppedLines and @droppedBytes, when the attempt may report (the task row is read WITH UPDLOCK, so
 * the attempt cannot end between the check and the insert).
 * Params: @taskId, @attempt, @lines (JSON array of { seq, at (datetime2 text), level, message, fields }),
 * @droppedLines, @droppedBytes. Result: { applied } (bit).
 */
export const APPEND_TASK_LOGS = statement('APPEND_TASK_LOGS', {
  idempotent: false,
  params: { ...attemptParams, lines: param.json, droppedLines: param.int, droppedBytes: param.bigint },
  text: `
${WRITE_PREAMBLE}
DECLARE @applied bit = 0;
BEGIN TRANSACTION;
IF EXISTS (SELECT 1 FROM ${TABLE.tasks} AS t WITH (UPDLOCK, ROWLOCK) WHERE ${REPORTING})
BEGIN
  INSERT INTO ${TABLE.taskLogs} (task_id, attempt, seq, at, level, message, fields)
  SELECT @taskId, @attempt, j.seq, j.at, j.level, j.message, j.fields
  FROM OPENJSON(@lines) WITH (
    seq     int            '$.seq',
    at      datetime2(3)   '$.at',
    level   varchar(8)     '$.level',
    message nvarchar(4000) '$.message',
    fields  nvarchar(max)  '$.fields' AS JSON
  ) AS j
  WHERE NOT EXISTS (SELECT 1 FROM ${TABLE.taskLogs} AS l
                    WHERE l.task_id = @taskId AND l.attempt = @attempt AND l.seq = j.seq);
  IF @droppedLines > 0 OR @droppedBytes > 0
    MERGE ${TABLE.taskLogDrops} WITH (HOLDLOCK) AS d
    USING (SELECT @taskId AS task_id, @attempt AS attempt) AS s
      ON d.task_id = s.task_id ${BIN2} AND d.attempt = s.attempt
    WHEN MATCHED THEN UPDATE SET
      lines = CASE WHEN d.lines > @droppedLines THEN d.lines ELSE @droppedLines END,
      bytes = CASE WHEN d.bytes > @droppedBytes THEN d.bytes ELSE @droppedBytes END
    WHEN NOT MATCHED THEN INSERT (task_id, attempt, lines, bytes)
      VALUES (@taskId, @attempt, @droppedLines, @droppedBytes);
  SET @applied = 1;
END;
COMMIT TRANSACTION;
SELECT @applied AS applied;`,
});

/**
 * SELECT_TASK_LOGS: one attempt's lines in order (the clustered key), and its dropped totals.
 * Params: @taskId, @attempt. Result sets: [0] log rows; [1] { lines, bytes }, or none when nothing was dropped.
 */
export const SELECT_TASK_LOGS = statement('SELECT_TASK_LOGS', {
  idempotent: true,
  params: attemptParams,
  text: `
SELECT seq, at, level, message, fields FROM ${TABLE.taskLogs}
WHERE task_id = @taskId AND attempt = @attempt ORDER BY seq;
SELECT lines, bytes FROM ${TABLE.taskLogDrops} WHERE task_id = @taskId AND attempt = @attempt;`,
});
