/** Schedules and their runs in the mssql adapter: one statement per call. Twin of `sqlite/schedules.ts`. */
import { ConflictError } from '../../domain/errors';
import type { ScheduleRecord, ScheduleRun } from '../../domain/schedule';
import type { ScheduleStore } from '../schedulePort';
import { scheduleMappers, type ScheduleRowOf, type ScheduleRunRowOf } from '../scheduleRows';
import type { SqlClient } from './client';
import { isUniqueViolation } from './errors';
import { fromDate } from './rows';
import * as statements from './statements/schedules';

const map = scheduleMappers<Date, boolean>({ time: fromDate, flag: (v) => Boolean(v) });
type ScheduleRow = ScheduleRowOf<Date, boolean>;
type RunRow = ScheduleRunRowOf<Date>;

export class MssqlSchedules implements ScheduleStore {
  constructor(private readonly db: SqlClient) {}

  async createSchedule(s: ScheduleRecord): Promise<void> {
    await this.db.run(
      statements.INSERT_SCHEDULE,
      { ...s, task: JSON.stringify(s.task) },
      { mapError: (err) => (isUniqueViolation(err) ? new ConflictError(`schedule ${s.name} exists`) : null) },
    );
  }

  async getSchedule(name: string): Promise<ScheduleRecord | null> {
    const row = await this.db.one<'name', ScheduleRow>(statements.SELECT_SCHEDULE, { name });
    return row ? map.toSchedule(row) : null;
  }

  async listSchedules(opts: { limit: number }): Promise<ScheduleRecord[]> {
    return (await this.db.all<'limit', ScheduleRow>(statements.SELECT_SCHEDULES, opts)).map(map.toSchedule);
  }

  async setSchedulePaused(opts: {
    name: string;
    paused: boolean;
    nextAt?: number | null;
    now: number;
  }): Promise<ScheduleRecord | null> {
    const row = await this.db.one<string, ScheduleRow>(statements.SET_SCHEDULE_PAUSED, {
      name: opts.name,
      paused: opts.paused,
      setNextAt: opts.nextAt !== undefined,
      nextAt: opts.nextAt ?? null,
      now: opts.now,
    });
    return row ? map.toSchedule(row) : null;
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return (await this.db.all(statements.DELETE_SCHEDULE, { name })).length === 1;
  }

  async listScheduleRuns(opts: { name: string; limit: number }): Promise<ScheduleRun[]> {
    return (await this.db.all<'name' | 'limit', RunRow>(statements.SELECT_SCHEDULE_RUNS, opts)).map(map.toRun);
  }

  async listDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    const rows = await this.db.all<'now' | 'limit', ScheduleRow>(statements.SELECT_DUE_SCHEDULES, { now, limit });
    return rows.map(map.toSchedule);
  }

  async advanceSchedule(opts: {
    name: string;
    expectedNextAt: number;
    nextAt: number | null;
    run: ScheduleRun;
  }): Promise<boolean> {
    const sets = await this.db.run(statements.ADVANCE_SCHEDULE, {
      name: opts.name,
      expectedNextAt: opts.expectedNextAt,
      nextAt: opts.nextAt,
      taskId: opts.run.taskId,
      skippedReason: opts.run.skippedReason,
      slotAt: opts.run.slotAt,
      now: opts.run.at,
    });
    return Number((sets.at(-1)?.[0] as { changed?: number } | undefined)?.changed ?? 0) === 1;
  }
}
