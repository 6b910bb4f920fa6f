/**
 * Schedules and the record of their slots (src/domain/schedule.ts). Twin of `sqlite/statements/schedules.ts`.
 */
import { COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const SCHEDULE_COLUMNS =
  'name, cron, timezone, task, overlap, catch_up, paused, next_at, last_task_id, created_at, created_by, updated_at';
const RUN_COLUMNS = 'name, slot_at, task_id, skipped_reason, at';
const name = param.varchar(COLUMN_LENGTH.scheduleName);

/** INSERT_SCHEDULE: stores a schedule. Params: every column. Errors: 2627 when the name exists. */
export const INSERT_SCHEDULE = statement('INSERT_SCHEDULE', {
  idempotent: false,
  params: {
    name,
    cron: param.varchar(COLUMN_LENGTH.cron),
    timezone: param.varchar(COLUMN_LENGTH.timezone),
    task: param.json,
    overlap: param.varchar(8),
    catchUp: param.varchar(8),
    paused: param.bit,
    nextAt: param.time,
    lastTaskId: param.varchar(COLUMN_LENGTH.taskId),
    createdAt: param.time,
    createdBy: param.nvarchar(COLUMN_LENGTH.keyId),
    updatedAt: param.time,
  },
  text: `
INSERT INTO ${TABLE.schedules} (${SCHEDULE_COLUMNS})
VALUES (@name, @cron, @timezone, @task, @overlap, @catchUp, @paused, @nextAt, @lastTaskId, @createdAt,
  @createdBy, @updatedAt);`,
});

/** SELECT_SCHEDULE: one schedule (clustered key). Params: @name. */
export const SELECT_SCHEDULE = statement('SELECT_SCHEDULE', {
  idempotent: true,
  params: { name },
  text: `SELECT ${SCHEDULE_COLUMNS} FROM ${TABLE.schedules} WHERE name = @name;`,
});

/** SELECT_SCHEDULES: schedules by name. Params: @limit. */
export const SELECT_SCHEDULES = statement('SELECT_SCHEDULES', {
  idempotent: true,
  params: { limit: param.int },
  text: `SELECT TOP (@limit) ${SCHEDULE_COLUMNS} FROM ${TABLE.schedules} ORDER BY name;`,
});

/**
 * SET_SCHEDULE_PAUSED: pauses or resumes; @nextAt replaces next_at only when @setNextAt is 1 (a resume).
 * Params: @name, @paused, @setNextAt, @nextAt, @now. Result: the row as stored, or none when unknown.
 */
export const SET_SCHEDULE_PAUSED = statement('SET_SCHEDULE_PAUSED', {
  idempotent: true,
  params: { name, paused: param.bit, setNextAt: param.bit, nextAt: param.time, now: param.time },
  text: `
UPDATE ${TABLE.schedules} SET paused = @paused, updated_at = @now,
  next_at = CASE WHEN @setNextAt = 1 THEN @nextAt ELSE next_at END
OUTPUT ${SCHEDULE_COLUMNS.split(', ')
    .map((c) => `inserted.${c}`)
    .join(', ')}
WHERE name = @name;`,
});

/** DELETE_SCHEDULE: removes a schedule; its runs go with it (ON DELETE CASCADE). Params: @name. Result: { name } or none. */
export const DELETE_SCHEDULE = statement('DELETE_SCHEDULE', {
  idempotent: false,
  params: { name },
  text: `DELETE FROM ${TABLE.schedules} OUTPUT deleted.name WHERE name = @name;`,
});

/** SELECT_SCHEDULE_RUNS: a schedule's slots, newest first (PK_schedule_runs). Params: @name, @limit. */
export const SELECT_SCHEDULE_RUNS = statement('SELECT_SCHEDULE_RUNS', {
  idempotent: true,
  params: { name, limit: param.int },
  text: `
SELECT TOP (@limit) ${RUN_COLUMNS} FROM ${TABLE.scheduleRuns} WHERE name = @name ORDER BY slot_at DESC;`,
});

/** SELECT_DUE_SCHEDULES: due schedules not paused, earliest first (IX_schedules_due). Params: @now, @limit. */
export const SELECT_DUE_SCHEDULES = statement('SELECT_DUE_SCHEDULES', {
  idempotent: true,
  params: { now: param.time, limit: param.int },
  text: `
SELECT TOP (@limit) ${SCHEDULE_COLUMNS} FROM ${TABLE.schedules}
WHERE paused = 0 AND next_at <= @now ORDER BY next_at;`,
});

/**
 * ADVANCE_SCHEDULE: moves next_at on from @expectedNextAt and records the slot's run, in one transaction.
 * Result: { changed } (1 when next_at moved; 0: nothing written). Race-safety: the compare-and-set on next_at
 * gives each slot to one supervisor; the row's update lock is held to the commit, so the run belongs to it.
 * Not idempotent: a retry after a lost answer finds next_at moved and answers 0 (the caller reads that as
 * another supervisor's win, which is harmless: the slot's task is the same either way).
 */
export const ADVANCE_SCHEDULE = statement('ADVANCE_SCHEDULE', {
  idempotent: false,
  params: {
    name,
    expectedNextAt: param.time,
    nextAt: param.time,
    taskId: param.varchar(COLUMN_LENGTH.taskId),
    skippedReason: param.varchar(16),
    slotAt: param.time,
    now: param.time,
  },
  text: `
${WRITE_PREAMBLE}
BEGIN TRANSACTION;
UPDATE ${TABLE.schedules} SET next_at = @nextAt, last_task_id = COALESCE(@taskId, last_task_id), updated_at = @now
WHERE name = @name AND next_at = @expectedNextAt AND paused = 0;
IF @@ROWCOUNT = 0
BEGIN
  COMMIT TRANSACTION;
  SELECT 0 AS changed;
  RETURN;
END;
INSERT INTO ${TABLE.scheduleRuns} (${RUN_COLUMNS}) VALUES (@name, @slotAt, @taskId, @skippedReason, @now);
COMMIT TRANSACTION;
SELECT 1 AS changed;`,
});
