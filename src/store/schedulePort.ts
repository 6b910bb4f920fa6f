/**
 * The schedule part of the store port (src/store/port.ts `Store` extends it): schedules and the record of
 * their slots (src/domain/schedule.ts). Same rules as the rest of the port: the caller decides (which slot,
 * fired or skipped, the next slot), the store applies it conditionally; epoch milliseconds.
 */
import type { ScheduleRecord, ScheduleRun } from '../domain/schedule';

export interface ScheduleStore {
  /** Throws ConflictError when a schedule with this name exists. */
  createSchedule(schedule: ScheduleRecord): Promise<void>;
  getSchedule(name: string): Promise<ScheduleRecord | null>;
  /** By name. */
  listSchedules(opts: { limit: number }): Promise<ScheduleRecord[]>;
  /**
   * Pauses or resumes; resuming sets `nextAt` (the caller computes the first slot after now, so the slots of a
   * pause are never fired). Answers the schedule as stored, or null when unknown.
   */
  setSchedulePaused(opts: {
    name: string;
    paused: boolean;
    nextAt?: number | null;
    now: number;
  }): Promise<ScheduleRecord | null>;
  /** Deletes the schedule and its runs; false when unknown. */
  deleteSchedule(name: string): Promise<boolean>;
  /** A schedule's slots, newest first. */
  listScheduleRuns(opts: { name: string; limit: number }): Promise<ScheduleRun[]>;
  /** Schedules not paused whose `nextAt` is at or before `now`, earliest first. */
  listDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  /**
   * In one transaction: moves `nextAt` from `expectedNextAt` to `nextAt` (and `lastTaskId` to the run's task,
   * when it has one) and records the run. False, writing nothing, when `nextAt` had moved already (another
   * supervisor took the slot) or the schedule is gone or paused.
   */
  advanceSchedule(opts: {
    name: string;
    expectedNextAt: number;
    nextAt: number | null;
    run: ScheduleRun;
  }): Promise<boolean>;
}
