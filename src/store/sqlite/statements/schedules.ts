/**
 * Schedules and the record of their slots (src/domain/schedule.ts). Twin of `mssql/statements/schedules.ts`.
 * Parameters are named (`@name`); times are epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';
import type { ScheduleRowOf, ScheduleRunRowOf } from '../../scheduleRows';

type ScheduleRow = ScheduleRowOf<number, number>;
type RunRow = ScheduleRunRowOf<number>;

/** INSERT_SCHEDULE: stores a schedule. Params: every column. Errors: SQLITE_CONSTRAINT_PRIMARYKEY when the name exists. */
export const INSERT_SCHEDULE = `
INSERT INTO schedules (name, cron, timezone, task, overlap, catch_up, paused, next_at, last_task_id, created_at,
  created_by, updated_at)
VALUES (@name, @cron, @timezone, @task, @overlap, @catchUp, @paused, @nextAt, @lastTaskId, @createdAt,
  @createdBy, @updatedAt)`;

/** SELECT_SCHEDULE: one schedule (primary key). Params: @name. Result: the row or none. */
export const SELECT_SCHEDULE = `SELECT * FROM schedules WHERE name = @name`;

/** SELECT_SCHEDULES: schedules by name. Params: @limit. */
export const SELECT_SCHEDULES = `SELECT * FROM schedules ORDER BY name LIMIT @limit`;

/**
 * SET_SCHEDULE_PAUSED: pauses or resumes; @nextAt replaces next_at only when @setNextAt is 1 (a resume).
 * Params: @name, @paused, @setNextAt, @nextAt, @now. Result: the row as stored, or none when unknown.
 */
export const SET_SCHEDULE_PAUSED = `
UPDATE schedules SET paused = @paused, updated_at = @now,
  next_at = CASE WHEN @setNextAt = 1 THEN @nextAt ELSE next_at END
WHERE name = @name
RETURNING *`;

/** DELETE_SCHEDULE: removes a schedule; its runs go with it (ON DELETE CASCADE). Params: @name. Changes: 0|1. */
export const DELETE_SCHEDULE = `DELETE FROM schedules WHERE name = @name`;

/** SELECT_SCHEDULE_RUNS: a schedule's slots, newest first (primary key). Params: @name, @limit. */
export const SELECT_SCHEDULE_RUNS = `
SELECT * FROM schedule_runs WHERE name = @name ORDER BY slot_at DESC LIMIT @limit`;

/** SELECT_DUE_SCHEDULES: due schedules not paused, earliest first (schedules_due). Params: @now, @limit. */
export const SELECT_DUE_SCHEDULES = `
SELECT * FROM schedules WHERE paused = 0 AND next_at <= @now ORDER BY next_at LIMIT @limit`;

/**
 * ADVANCE_SCHEDULE: moves next_at on from @expectedNextAt, the compare-and-set that gives each slot to one
 * supervisor (the run is inserted in the same transaction only when it changed a row). Params: @name,
 * @expectedNextAt, @nextAt, @taskId, @now. Changes: 0|1.
 */
export const ADVANCE_SCHEDULE = `
UPDATE schedules SET next_at = @nextAt, last_task_id = COALESCE(@taskId, last_task_id), updated_at = @now
WHERE name = @name AND next_at = @expectedNextAt AND paused = 0`;

/** INSERT_SCHEDULE_RUN: one slot's outcome. Params: every column. */
export const INSERT_SCHEDULE_RUN = `
INSERT INTO schedule_runs (name, slot_at, task_id, skipped_reason, at)
VALUES (@name, @slotAt, @taskId, @skippedReason, @at)`;

export function prepareScheduleStatements(db: Database) {
  return {
    insertSchedule: db.prepare<Record<string, unknown>>(INSERT_SCHEDULE),
    selectSchedule: db.prepare<{ name: string }, ScheduleRow>(SELECT_SCHEDULE),
    selectSchedules: db.prepare<{ limit: number }, ScheduleRow>(SELECT_SCHEDULES),
    setPaused: db.prepare<
      { name: string; paused: number; setNextAt: number; nextAt: number | null; now: number },
      ScheduleRow
    >(SET_SCHEDULE_PAUSED),
    deleteSchedule: db.prepare<{ name: string }>(DELETE_SCHEDULE),
    selectRuns: db.prepare<{ name: string; limit: number }, RunRow>(SELECT_SCHEDULE_RUNS),
    selectDue: db.prepare<{ now: number; limit: number }, ScheduleRow>(SELECT_DUE_SCHEDULES),
    advance: db.prepare<{
      name: string;
      expectedNextAt: number;
      nextAt: number | null;
      taskId: string | null;
      now: number;
    }>(ADVANCE_SCHEDULE),
    insertRun: db.prepare<Record<string, unknown>>(INSERT_SCHEDULE_RUN),
  };
}
