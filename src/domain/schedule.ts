/**
 * Schedules: a task submission fired once per cron slot (issue 17). A **slot** is an instant a schedule's
 * cron expression names in its time zone; `nextAt` is the slot not yet fired or skipped. Slots come from
 * croner, which walks wall-clock time in the IANA zone (through Intl), so a daily 02:30 in Europe/Berlin fires
 * once on the day the clocks skip 02:00-03:00 and once on the day they repeat it.
 *
 * What a supervisor does with a due schedule is decided here, from the stored row and the time alone
 * (`planSlot`); the store only applies it conditionally (`advanceSchedule`), so several supervisors agree.
 */
import { Cron } from 'croner';

export type ScheduleOverlap = 'allow' | 'skip';
export type ScheduleCatchUp = 'none' | 'one';
export type SkippedReason = 'missed' | 'overlap' | 'invalid';

export interface ScheduleRecord {
  name: string;
  cron: string;
  timezone: string;
  /** The submission as `POST /v1/tasks` takes it (validated when the schedule was created). */
  task: unknown;
  overlap: ScheduleOverlap;
  catchUp: ScheduleCatchUp;
  paused: boolean;
  /** The next slot to fire or skip (epoch ms); null when the expression names no later instant. */
  nextAt: number | null;
  lastTaskId: string | null;
  createdAt: number;
  /** The API key that created it: its tasks are submitted as this key. */
  createdBy: string;
  updatedAt: number;
}

/** One slot's outcome: the task it fired, or why it was skipped. */
export interface ScheduleRun {
  name: string;
  slotAt: number;
  taskId: string | null;
  skippedReason: SkippedReason | null;
  at: number;
}

export const SCHEDULE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

/** Throws (with croner's message) when `cron` is not a 5- or 6-field expression. */
export function parseCron(cron: string, timezone = 'UTC'): Cron {
  return new Cron(cron, { timezone, paused: true, mode: '5-or-6-parts' });
}

/** Whether Intl knows the zone (croner resolves zones through it). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The first slot strictly after `after`, or null when the expression names no later instant. */
export function nextSlot(spec: Pick<ScheduleRecord, 'cron' | 'timezone'>, after: number): number | null {
  const next = parseCron(spec.cron, spec.timezone).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** What to do with slot `slotAt` (the schedule's `nextAt`, due): fire it or record it skipped, then move on. */
export interface SlotPlan {
  slotAt: number;
  action: 'fire' | { skip: SkippedReason };
  /** The new `nextAt`; null when the expression has no later slot (the schedule then stays idle). */
  nextAt: number | null;
}

/**
 * The plan for a due schedule. The slot considered is always the stored `nextAt`, never one derived from the
 * time, so supervisors whose clocks read differently still fire the same slot (and so the same task).
 *
 * - On time (at most `lateAfterMs` late): fire it (or skip it for `overlap: skip` while the last task runs);
 *   the next slot is the one after it, even if that is due already (the next pass takes it).
 * - Late (the supervisors were down): `catchUp: none` records it `missed`, `one` fires it once for all the
 *   missed slots; either way the next slot is the first one after now.
 */
export function planSlot(
  s: Pick<ScheduleRecord, 'cron' | 'timezone' | 'overlap' | 'catchUp'> & { nextAt: number },
  now: number,
  opts: { lateAfterMs: number; lastTaskRunning: boolean },
): SlotPlan {
  const late = now - s.nextAt > opts.lateAfterMs;
  const nextAt = nextSlot(s, late ? now : s.nextAt);
  const action: SlotPlan['action'] =
    late && s.catchUp === 'none'
      ? { skip: 'missed' }
      : s.overlap === 'skip' && opts.lastTaskRunning
        ? { skip: 'overlap' }
        : 'fire';
  return { slotAt: s.nextAt, action, nextAt };
}

/** The idempotency key of a slot's task: the same for every supervisor, so a slot submits one task. */
export function slotIdempotencyKey(name: string, slotAt: number): string {
  return `schedule:${name}:${new Date(slotAt).toISOString()}`;
}
