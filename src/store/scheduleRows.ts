/** Schedule rows of both adapters and their mapping to the records of src/domain/schedule.ts (see rowMapping.ts). */
import type { ScheduleCatchUp, ScheduleOverlap, ScheduleRecord, ScheduleRun, SkippedReason } from '../domain/schedule';
import type { ColumnTypes } from './rowMapping';

export interface ScheduleRowOf<Time, Flag> {
  name: string;
  cron: string;
  timezone: string;
  task: string;
  overlap: string;
  catch_up: string;
  paused: Flag;
  next_at: Time | null;
  last_task_id: string | null;
  created_at: Time;
  created_by: string;
  updated_at: Time;
}

export interface ScheduleRunRowOf<Time> {
  name: string;
  slot_at: Time;
  task_id: string | null;
  skipped_reason: string | null;
  at: Time;
}

export function scheduleMappers<Time, Flag>(c: Pick<ColumnTypes<Time, Flag, unknown>, 'time' | 'flag'>) {
  return {
    toSchedule: (row: ScheduleRowOf<Time, Flag>): ScheduleRecord => ({
      name: row.name,
      cron: row.cron,
      timezone: row.timezone,
      task: JSON.parse(row.task) as unknown,
      overlap: row.overlap as ScheduleOverlap,
      catchUp: row.catch_up as ScheduleCatchUp,
      paused: c.flag(row.paused),
      nextAt: row.next_at === null ? null : c.time(row.next_at),
      lastTaskId: row.last_task_id,
      createdAt: c.time(row.created_at),
      createdBy: row.created_by,
      updatedAt: c.time(row.updated_at),
    }),
    toRun: (row: ScheduleRunRowOf<Time>): ScheduleRun => ({
      name: row.name,
      slotAt: c.time(row.slot_at),
      taskId: row.task_id,
      skippedReason: row.skipped_reason as SkippedReason | null,
      at: c.time(row.at),
    }),
  };
}
