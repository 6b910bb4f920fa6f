/** Schedules and their runs in the SQLite adapter. Twin of `mssql/schedules.ts`. */
import { ConflictError } from '../../domain/errors';
import type { ScheduleRecord, ScheduleRun } from '../../domain/schedule';
import type { ScheduleStore } from '../schedulePort';
import { scheduleMappers } from '../scheduleRows';
import { sqliteErrorCode } from './rows';
import type { SqliteStatements } from './statements';

const map = scheduleMappers<number, number>({ time: (v) => v, flag: (v) => v !== 0 });

/** How the store runs synchronous driver work: reads directly, writes in the group commit. */
export interface SqliteRunners {
  read<T>(fn: () => T): Promise<T>;
  write<T>(fn: () => T): Promise<T>;
}

export class SqliteSchedules implements ScheduleStore {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  createSchedule(s: ScheduleRecord): Promise<void> {
    return this.runners.write(() => {
      try {
        this.statements.schedules.insertSchedule.run({
          ...s,
          task: JSON.stringify(s.task),
          paused: s.paused ? 1 : 0,
        });
      } catch (err) {
        if (sqliteErrorCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new ConflictError(`schedule ${s.name} exists`);
        }
        throw err;
      }
    });
  }

  getSchedule(name: string): Promise<ScheduleRecord | null> {
    return this.runners.read(() => {
      const row = this.statements.schedules.selectSchedule.get({ name });
      return row ? map.toSchedule(row) : null;
    });
  }

  listSchedules(opts: { limit: number }): Promise<ScheduleRecord[]> {
    return this.runners.read(() => this.statements.schedules.selectSchedules.all(opts).map(map.toSchedule));
  }

  setSchedulePaused(opts: {
    name: string;
    paused: boolean;
    nextAt?: number | null;
    now: number;
  }): Promise<ScheduleRecord | null> {
    return this.runners.write(() => {
      // .all(), not .get(): a write with RETURNING must run to completion (FACTS.md).
      const [row] = this.statements.schedules.setPaused.all({
        name: opts.name,
        paused: opts.paused ? 1 : 0,
        setNextAt: opts.nextAt === undefined ? 0 : 1,
        nextAt: opts.nextAt ?? null,
        now: opts.now,
      });
      return row ? map.toSchedule(row) : null;
    });
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.runners.write(() => this.statements.schedules.deleteSchedule.run({ name }).changes === 1);
  }

  listScheduleRuns(opts: { name: string; limit: number }): Promise<ScheduleRun[]> {
    return this.runners.read(() => this.statements.schedules.selectRuns.all(opts).map(map.toRun));
  }

  listDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    return this.runners.read(() => this.statements.schedules.selectDue.all({ now, limit }).map(map.toSchedule));
  }

  /** Inside one write transaction: the run is recorded only when this call moved next_at. */
  advanceSchedule(opts: {
    name: string;
    expectedNextAt: number;
    nextAt: number | null;
    run: ScheduleRun;
  }): Promise<boolean> {
    return this.runners.write(() => {
      const { name, expectedNextAt, nextAt, run } = opts;
      const moved = this.statements.schedules.advance.run({
        name,
        expectedNextAt,
        nextAt,
        taskId: run.taskId,
        now: run.at,
      });
      if (moved.changes !== 1) return false;
      this.statements.schedules.insertRun.run({ ...run });
      return true;
    });
  }
}
