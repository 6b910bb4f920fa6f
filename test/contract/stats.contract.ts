/** Contract: the stats queries (per-route counts, task event counts). */
import type { RetryDecision } from '../../src/domain/transitions';
import type { RouteStats } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { claim, leaseOf, submit, T0 } from './fixtures';

const ERROR = { message: 'boom', kind: 'handler' };

export function statsContract(store: CurrentStore): void {
  describe('routeStats', () => {
    const byType = (stats: RouteStats[]) => [...stats].sort((a, b) => a.type.localeCompare(b.type));

    /** Two routes with a known mix of tasks, and a third whose tasks all finished. */
    async function fixture(): Promise<void> {
      const echo = { type: 'echo', requiredCapabilities: [] };
      const gpu = { type: 'resize', requiredCapabilities: ['gpu'] };
      // echo: two due, two delayed (one scheduled later, one backing off), one running, one dead.
      await submit(store(), { ...echo, createdAt: T0, notBefore: T0 });
      await submit(store(), { ...echo, createdAt: T0 + 1_000, notBefore: T0 + 1_000 });
      await submit(store(), { ...echo, notBefore: T0 + 60_000 });
      const backoff = await claim(store(), await submit(store(), echo));
      const retry: RetryDecision = { status: 'queued', notBefore: T0 + 9_000, delayMs: 7_000 };
      await store().failTask({ ...leaseOf(backoff, T0 + 2_000), error: ERROR, decision: retry });
      await claim(store(), await submit(store(), echo));
      const dead = await claim(store(), await submit(store(), echo));
      await store().failTask({ ...leaseOf(dead, T0 + 2_000), error: ERROR, decision: { status: 'dead' } });
      // echo, ignored: succeeded, cancelled, expired.
      const done = await claim(store(), await submit(store(), echo));
      await store().completeTask({ ...leaseOf(done, T0 + 2_000), result: null });
      await store().requestCancel((await submit(store(), echo)).id, T0 + 2_000);
      const overdue = await submit(store(), { ...echo, deadline: T0 + 1_500 });
      expect(await store().expireTask({ taskId: overdue.id, attempt: 0, now: T0 + 1_500 })).toBe(true);
      // resize+gpu: one delayed, one running, one dead (its lease taken back with attempts spent).
      await submit(store(), { ...gpu, notBefore: T0 + 6_000 });
      await claim(store(), await submit(store(), gpu), 'agent-b');
      const reclaimed = await claim(store(), await submit(store(), gpu), 'agent-b');
      await store().reclaimLease({ ...leaseOf(reclaimed, T0 + 2_000), decision: { status: 'dead' } });
      // other+linux: finished only, so left out.
      const other = await claim(store(), await submit(store(), { type: 'other', requiredCapabilities: ['linux'] }));
      await store().completeTask({ ...leaseOf(other, T0 + 2_000), result: null });
    }

    it('counts due, delayed, running and dead tasks per route, leaving out routes with none', async () => {
      await fixture();
      expect(byType(await store().routeStats(T0 + 5_000))).toEqual([
        { type: 'echo', capabilities: [], queued: 2, delayed: 2, running: 1, dead: 1, oldestQueuedAt: T0 },
        { type: 'resize', capabilities: ['gpu'], queued: 0, delayed: 1, running: 1, dead: 1, oldestQueuedAt: null },
      ]);
    });

    it('moves delayed tasks to due as time passes; not_before equal to now is due', async () => {
      await fixture();
      expect(byType(await store().routeStats(T0 + 9_000))).toEqual([
        { type: 'echo', capabilities: [], queued: 3, delayed: 1, running: 1, dead: 1, oldestQueuedAt: T0 },
        {
          type: 'resize',
          capabilities: ['gpu'],
          queued: 1,
          delayed: 0,
          running: 1,
          dead: 1,
          oldestQueuedAt: T0 + 6_000,
        },
      ]);
      expect(byType(await store().routeStats(T0 - 1)).map((s) => [s.type, s.queued, s.delayed])).toEqual([
        ['echo', 0, 4],
        ['resize', 0, 1],
      ]);
    });

    it('is empty when nothing is queued, running or dead', async () => {
      expect(await store().routeStats(T0)).toEqual([]);
      const done = await claim(store(), await submit(store()));
      await store().completeTask({ ...leaseOf(done, T0 + 2_000), result: null });
      expect(await store().routeStats(T0 + 3_000)).toEqual([]);
    });
  });

  describe('countTaskEvents', () => {
    // Every requested kind is in the result, 0 when none happened; kinds not asked for are not.
    it('counts events of each requested kind at or after `since`', async () => {
      const a = await claim(store(), await submit(store(), { createdAt: T0 }), 'agent-a', T0 + 1_000);
      await store().completeTask({ ...leaseOf(a, T0 + 2_000), result: null });
      const b = await claim(store(), await submit(store(), { createdAt: T0 + 500 }), 'agent-a', T0 + 1_500);
      const retry: RetryDecision = { status: 'queued', notBefore: T0 + 4_000, delayMs: 1_000 };
      await store().failTask({ ...leaseOf(b, T0 + 3_000), error: ERROR, decision: retry });
      await submit(store(), { createdAt: T0 + 4_000 });

      const kinds = ['submitted', 'succeeded', 'failed', 'dead', 'lease_reclaimed'] as const;
      expect(await store().countTaskEvents(kinds, T0 + 1_500)).toEqual({
        submitted: 1,
        succeeded: 1,
        failed: 1,
        dead: 0,
        lease_reclaimed: 0,
      });
      expect(await store().countTaskEvents(kinds, T0)).toEqual({
        submitted: 3,
        succeeded: 1,
        failed: 1,
        dead: 0,
        lease_reclaimed: 0,
      });
      expect(await store().countTaskEvents(['retry_scheduled'], T0 + 3_001)).toEqual({ retry_scheduled: 0 });
      expect(await store().countTaskEvents(['retry_scheduled', 'retry_scheduled'], T0 + 3_000)).toEqual({
        retry_scheduled: 1,
      });
      expect(await store().countTaskEvents([], T0)).toEqual({});
    });
  });
}
