/**
 * Contract: what a running attempt reports. Progress on the task and log lines per attempt are written only by
 * the attempt that runs (a zombie's are refused), never for a sensitive task, and read back as written.
 */
import type { TaskLogLine } from '../../src/domain/taskLog';
import type { CurrentStore } from './store.contract';
import { claim, leaseOf, submit, T0 } from './fixtures';

const line = (seq: number, overrides: Partial<TaskLogLine> = {}): TaskLogLine => ({
  seq,
  at: T0 + 2_000 + seq,
  level: 'info',
  message: `line ${seq}`,
  fields: null,
  ...overrides,
});

export function progressLogsContract(store: CurrentStore): void {
  describe('progress and log lines', () => {
    it('keeps the running attempt’s latest progress and its time, and shows none before', async () => {
      const task = await claim(store(), await submit(store()));
      expect(task.progress).toBeUndefined();
      expect(await store().setTaskProgress({ taskId: task.id, attempt: 1, progress: 10, now: T0 + 2_000 })).toBe(true);
      const object = { step: 'resize', done: 3, of: 7 };
      expect(await store().setTaskProgress({ taskId: task.id, attempt: 1, progress: object, now: T0 + 3_000 })).toBe(
        true,
      );
      expect(await store().getTask(task.id)).toMatchObject({ progress: object, progressAt: T0 + 3_000 });
    });

    it('refuses progress from another attempt, a finished task and an unknown one', async () => {
      const task = await claim(store(), await submit(store()));
      expect(await store().setTaskProgress({ taskId: task.id, attempt: 0, progress: 5, now: T0 + 2_000 })).toBe(false);
      await store().completeTask({ ...leaseOf(task, T0 + 2_000), result: null });
      expect(await store().setTaskProgress({ taskId: task.id, attempt: 1, progress: 5, now: T0 + 3_000 })).toBe(false);
      expect(await store().setTaskProgress({ taskId: 'nope', attempt: 1, progress: 5, now: T0 })).toBe(false);
      expect((await store().getTask(task.id))?.progress).toBeUndefined();
    });

    it('clears the previous attempt’s progress when the task is claimed again', async () => {
      const task = await claim(store(), await submit(store()));
      await store().setTaskProgress({ taskId: task.id, attempt: 1, progress: 80, now: T0 + 2_000 });
      await store().releaseTask(leaseOf(task, T0 + 3_000));
      const again = await claim(store(), { id: task.id, attempt: 1 }, 'agent-b', T0 + 4_000);
      expect(again.progress).toBeUndefined();
      expect((await store().getTask(task.id))?.progressAt).toBeUndefined();
    });

    it('appends lines of the running attempt in order, with levels, fields and dropped totals', async () => {
      const task = await claim(store(), await submit(store()));
      const first = [line(0), line(1, { level: 'warn', fields: { file: 'a.png', n: 2 } })];
      expect(
        await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: first, dropped: { lines: 0, bytes: 0 } }),
      ).toBe(true);
      const second = [line(2, { level: 'error', message: 'ünïcødé ✓' })];
      expect(
        await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: second, dropped: { lines: 3, bytes: 90 } }),
      ).toBe(true);
      expect(await store().listTaskLogs(task.id, 1)).toEqual({
        lines: [...first, ...second],
        dropped: { lines: 3, bytes: 90 },
      });
      // Dropped totals are absolute: a later batch raises them, an older one never lowers them.
      await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: [], dropped: { lines: 5, bytes: 150 } });
      await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: [], dropped: { lines: 4, bytes: 120 } });
      expect((await store().listTaskLogs(task.id, 1)).dropped).toEqual({ lines: 5, bytes: 150 });
    });

    it('keeps each attempt’s lines apart, and answers none for an attempt without lines', async () => {
      const task = await claim(store(), await submit(store()));
      await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: [line(0)], dropped: { lines: 0, bytes: 0 } });
      await store().releaseTask(leaseOf(task, T0 + 3_000));
      await claim(store(), { id: task.id, attempt: 1 }, 'agent-b', T0 + 4_000);
      const later = line(0, { message: 'second attempt' });
      await store().appendTaskLogs({ taskId: task.id, attempt: 2, lines: [later], dropped: { lines: 0, bytes: 0 } });
      expect((await store().listTaskLogs(task.id, 1)).lines).toEqual([line(0)]);
      expect((await store().listTaskLogs(task.id, 2)).lines).toEqual([later]);
      expect(await store().listTaskLogs(task.id, 3)).toEqual({ lines: [], dropped: { lines: 0, bytes: 0 } });
    });

    it('refuses the lines of a zombie attempt, and keeps a line sent twice once', async () => {
      const task = await claim(store(), await submit(store()));
      await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: [line(0)], dropped: { lines: 0, bytes: 0 } });
      await store().appendTaskLogs({ taskId: task.id, attempt: 1, lines: [line(0)], dropped: { lines: 0, bytes: 0 } });
      await store().releaseTask(leaseOf(task, T0 + 3_000));
      await claim(store(), { id: task.id, attempt: 1 }, 'agent-b', T0 + 4_000);
      const zombie = { taskId: task.id, attempt: 1, lines: [line(1)], dropped: { lines: 9, bytes: 9 } };
      expect(await store().appendTaskLogs(zombie)).toBe(false);
      expect(await store().listTaskLogs(task.id, 1)).toEqual({ lines: [line(0)], dropped: { lines: 0, bytes: 0 } });
    });

    it('never keeps the progress or the lines of a sensitive task', async () => {
      // Sensitivity is a column the adapter reads; the payload is not sealed here (no sealing store).
      const task = await claim(store(), await submit(store(), { sensitive: true }));
      expect(await store().setTaskProgress({ taskId: task.id, attempt: 1, progress: 50, now: T0 + 2_000 })).toBe(false);
      const batch = { taskId: task.id, attempt: 1, lines: [line(0)], dropped: { lines: 1, bytes: 1 } };
      expect(await store().appendTaskLogs(batch)).toBe(false);
      expect((await store().getTask(task.id))?.progress).toBeUndefined();
      expect(await store().listTaskLogs(task.id, 1)).toEqual({ lines: [], dropped: { lines: 0, bytes: 0 } });
    });
  });
}
