/**
 * Fires due schedules (src/domain/schedule.ts): every supervisor runs this loop, and each slot still gives
 * exactly one task.
 *
 * Order of work for a slot: decide (planSlot), submit the slot's task with an idempotency key derived from
 * (schedule, slot), then move `nextAt` on with the conditional `advanceSchedule`, which records the run. Two
 * supervisors taking the same slot both submit the same key, so the second submission answers the first task;
 * only one advance applies. A supervisor that dies between its submit and its advance leaves the slot due: the
 * next pass (its own or another supervisor's) submits the same key again, gets the same task, and advances.
 * Submitting after the advance instead would lose the slot's task in that window.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { ConflictError, ValidationError } from '../domain/errors';
import {
  planSlot,
  slotIdempotencyKey,
  type ScheduleRecord,
  type ScheduleRun,
  type SkippedReason,
} from '../domain/schedule';
import { TERMINAL_STATUSES } from '../domain/task';
import type { Store } from '../store/port';
import type { TaskService } from './taskService';

/** Due schedules read per pass. */
const DUE_PAGE = 100;
/** Slots of one schedule a pass takes at most: a schedule behind by more catches up over the next passes. */
const SLOTS_PER_PASS = 20;

export interface SchedulerDeps {
  store: Store;
  tasks: Pick<TaskService, 'submit'>;
  clock: Clock;
  log: Logger;
  /** A slot later than this is missed (see planSlot). */
  lateAfterMs: number;
}

/** How late a slot may be and still count as on time: a few passes of the loop, never under 5 s. */
export function lateAfterMs(intervalMs: number): number {
  return Math.max(5_000, 3 * intervalMs);
}

export class Scheduler {
  constructor(private readonly d: SchedulerDeps) {}

  /** One pass: every due schedule's due slots, each fired or skipped once. Answers the slots this pass recorded. */
  async pass(): Promise<number> {
    const due = await this.d.store.listDueSchedules(this.d.clock.now(), DUE_PAGE);
    let recorded = 0;
    for (const schedule of due) {
      try {
        recorded += await this.catchUp(schedule);
      } catch (err) {
        this.d.log.warn({ err, schedule: schedule.name }, 'schedule not fired; retrying next pass');
      }
    }
    return recorded;
  }

  private async catchUp(schedule: ScheduleRecord): Promise<number> {
    let s = schedule;
    let recorded = 0;
    while (recorded < SLOTS_PER_PASS && s.nextAt !== null && s.nextAt <= this.d.clock.now()) {
      const next = await this.slot({ ...s, nextAt: s.nextAt });
      if (!next) break;
      s = next;
      recorded++;
    }
    return recorded;
  }

  /** Fires or skips the schedule's `nextAt`; answers the schedule as advanced, or null when another supervisor did. */
  private async slot(s: ScheduleRecord & { nextAt: number }): Promise<ScheduleRecord | null> {
    const now = this.d.clock.now();
    const plan = planSlot(s, now, {
      lateAfterMs: this.d.lateAfterMs,
      lastTaskRunning: s.overlap === 'skip' && (await this.lastTaskRunning(s)),
    });
    let taskId: string | null = null;
    let skipped: SkippedReason | null = plan.action === 'fire' ? null : plan.action.skip;
    if (plan.action === 'fire') {
      try {
        taskId = await this.submit(s, plan.slotAt);
      } catch (err) {
        // A submission the API refuses now (its callbackUrl host no longer allowed, say) never fires: record it.
        if (!(err instanceof ValidationError || err instanceof ConflictError)) throw err;
        this.d.log.warn({ err, schedule: s.name, slotAt: plan.slotAt }, 'schedule task refused');
        skipped = 'invalid';
      }
    }
    const run: ScheduleRun = { name: s.name, slotAt: plan.slotAt, taskId, skippedReason: skipped, at: now };
    const applied = await this.d.store.advanceSchedule({
      name: s.name,
      expectedNextAt: s.nextAt,
      nextAt: plan.nextAt,
      run,
    });
    if (!applied) return null;
    if (taskId) this.d.log.info({ schedule: s.name, slotAt: plan.slotAt, taskId }, 'schedule fired');
    return { ...s, nextAt: plan.nextAt, lastTaskId: taskId ?? s.lastTaskId };
  }

  private async submit(s: ScheduleRecord, slotAt: number): Promise<string> {
    const [outcome] = await this.d.tasks.submit([s.task], {
      idempotencyKey: slotIdempotencyKey(s.name, slotAt),
      actor: { keyId: s.createdBy },
      batch: false,
    });
    if (!outcome) throw new Error(`schedule ${s.name}: the submission answered no task`);
    return outcome.task.id;
  }

  private async lastTaskRunning(s: ScheduleRecord): Promise<boolean> {
    if (s.lastTaskId === null) return false;
    const task = await this.d.store.getTask(s.lastTaskId);
    return task !== null && !TERMINAL_STATUSES.has(task.status);
  }
}
