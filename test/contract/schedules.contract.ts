/** Contract: schedules, their runs, and the conditional advance that gives each slot to one supervisor. */
import type { ScheduleRecord, ScheduleRun } from '../../src/domain/schedule';
import { ConflictError } from '../../src/domain/errors';
import type { CurrentStore } from './store.contract';
import { T0 } from './fixtures';

function schedule(overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    name: 'nightly',
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    task: { type: 'echo', payload: { n: 1 } },
    overlap: 'allow',
    catchUp: 'none',
    paused: false,
    nextAt: T0 + 60_000,
    lastTaskId: null,
    createdAt: T0,
    createdBy: 'key-admin',
    updatedAt: T0,
    ...overrides,
  };
}

const run = (slotAt: number, overrides: Partial<ScheduleRun> = {}): ScheduleRun => ({
  name: 'nightly',
  slotAt,
  taskId: 'task-1',
  skippedReason: null,
  at: slotAt + 5,
  ...overrides,
});

export function schedulesContract(store: CurrentStore): void {
  describe('schedules', () => {
    it('stores, reads, lists by name and refuses a second schedule with the same name', async () => {
      const b = schedule({ name: 'b-hourly', cron: '0 * * * *', overlap: 'skip', catchUp: 'one' });
      const n = schedule();
      await store().createSchedule(n);
      await store().createSchedule(b);
      expect(await store().getSchedule('nightly')).toEqual(n);
      expect(await store().getSchedule('unknown')).toBeNull();
      expect(await store().listSchedules({ limit: 10 })).toEqual([b, n]);
      expect(await store().listSchedules({ limit: 1 })).toEqual([b]);
      await expect(store().createSchedule(schedule({ cron: '* * * * *' }))).rejects.toBeInstanceOf(ConflictError);
      expect((await store().getSchedule('nightly'))?.cron).toBe('0 3 * * *');
    });

    it('lists the due schedules not paused, earliest first', async () => {
      await store().createSchedule(schedule({ name: 'late', nextAt: T0 + 2_000 }));
      await store().createSchedule(schedule({ name: 'early', nextAt: T0 + 1_000 }));
      await store().createSchedule(schedule({ name: 'future', nextAt: T0 + 9_000 }));
      await store().createSchedule(schedule({ name: 'paused', nextAt: T0, paused: true }));
      await store().createSchedule(schedule({ name: 'idle', nextAt: null }));
      const due = await store().listDueSchedules(T0 + 2_000, 10);
      expect(due.map((s) => s.name)).toEqual(['early', 'late']);
      expect((await store().listDueSchedules(T0 + 2_000, 1)).map((s) => s.name)).toEqual(['early']);
    });

    it('advances the next slot only from the expected one, recording the run in the same write', async () => {
      const n = schedule({ nextAt: T0 + 1_000 });
      await store().createSchedule(n);
      const first = { name: n.name, expectedNextAt: T0 + 1_000, nextAt: T0 + 2_000, run: run(T0 + 1_000) };
      expect(await store().advanceSchedule(first)).toBe(true);
      // A second supervisor with the same view of the slot loses, and writes nothing.
      expect(await store().advanceSchedule({ ...first, run: run(T0 + 1_000, { taskId: 'task-2' }) })).toBe(false);
      const skipped = run(T0 + 2_000, { taskId: null, skippedReason: 'overlap' });
      expect(
        await store().advanceSchedule({ name: n.name, expectedNextAt: T0 + 2_000, nextAt: T0 + 3_000, run: skipped }),
      ).toBe(true);
      expect(await store().getSchedule(n.name)).toMatchObject({ nextAt: T0 + 3_000, lastTaskId: 'task-1' });
      expect(await store().listScheduleRuns({ name: n.name, limit: 10 })).toEqual([skipped, run(T0 + 1_000)]);
      expect(await store().listScheduleRuns({ name: n.name, limit: 1 })).toEqual([skipped]);
      const unknown = { name: 'unknown', expectedNextAt: T0, nextAt: T0 + 1, run: run(T0, { name: 'unknown' }) };
      expect(await store().advanceSchedule(unknown)).toBe(false);
    });

    it('can leave a schedule without a next slot', async () => {
      await store().createSchedule(schedule({ nextAt: T0 }));
      expect(await store().advanceSchedule({ name: 'nightly', expectedNextAt: T0, nextAt: null, run: run(T0) })).toBe(
        true,
      );
      expect((await store().getSchedule('nightly'))?.nextAt).toBeNull();
      expect(await store().listDueSchedules(T0 + 10 ** 12, 10)).toEqual([]);
    });

    it('pauses (a paused schedule does not advance) and resumes with a new next slot', async () => {
      await store().createSchedule(schedule({ nextAt: T0 }));
      const paused = await store().setSchedulePaused({ name: 'nightly', paused: true, now: T0 + 1 });
      expect(paused).toMatchObject({ paused: true, nextAt: T0, updatedAt: T0 + 1 });
      expect(await store().advanceSchedule({ name: 'nightly', expectedNextAt: T0, nextAt: T0 + 5, run: run(T0) })).toBe(
        false,
      );
      const resumed = await store().setSchedulePaused({ name: 'nightly', paused: false, nextAt: T0 + 9, now: T0 + 2 });
      expect(resumed).toMatchObject({ paused: false, nextAt: T0 + 9, updatedAt: T0 + 2 });
      expect(await store().setSchedulePaused({ name: 'unknown', paused: true, now: T0 })).toBeNull();
    });

    it('deletes a schedule with its runs', async () => {
      await store().createSchedule(schedule({ nextAt: T0 }));
      await store().advanceSchedule({ name: 'nightly', expectedNextAt: T0, nextAt: T0 + 5, run: run(T0) });
      expect(await store().deleteSchedule('nightly')).toBe(true);
      expect(await store().deleteSchedule('nightly')).toBe(false);
      expect(await store().getSchedule('nightly')).toBeNull();
      expect(await store().listScheduleRuns({ name: 'nightly', limit: 10 })).toEqual([]);
      // The name can be used again, and starts without the old runs.
      await store().createSchedule(schedule({ nextAt: T0 }));
      expect(await store().advanceSchedule({ name: 'nightly', expectedNextAt: T0, nextAt: T0 + 5, run: run(T0) })).toBe(
        true,
      );
    });
  });
}
