/**
 * Contract: route minutes. A minute's finished and failed tasks are counted per route from the task event log
 * once, whoever rolls the minute up and however often; only that minute's events count; a reader gets the
 * routes it names from a time on; the purge deletes the oldest minutes in batches.
 */
import { routeKey } from '../../src/domain/capabilities';
import type { RetryDecision } from '../../src/domain/transitions';
import type { TaskError } from '../../src/domain/task';
import { MINUTE_MS } from '../../src/store/routeMinutesPort';
import { T0, claim, leaseOf, submit } from './fixtures';
import type { CurrentStore } from './store.contract';

const ECHO = routeKey('echo', []);
const GPU = routeKey('echo', ['gpu']);
/** A minute's start, after T0 (which is not on a minute). */
const M0 = Math.ceil(T0 / MINUTE_MS) * MINUTE_MS;
const ERROR: TaskError = { message: 'boom', name: 'Error', kind: 'handler' };
const RETRY: RetryDecision = { status: 'queued', notBefore: M0, delayMs: 0 };
const zeros = { succeeded: 0, failed: 0, dead: 0, cancelled: 0, expired: 0 };

export function routeMinutesContract(store: CurrentStore): void {
  describe('route minutes', () => {
    /** Runs a task of `capabilities` to success at `at` (claimed 10 ms before). */
    async function succeedAt(at: number, capabilities: string[] = []) {
      const running = await claim(store(), await submit(store(), { requiredCapabilities: capabilities }), 'a', at - 10);
      expect(await store().completeTask({ ...leaseOf(running, at), result: null })).toBe(true);
    }

    it("counts a minute's events per route once, however often it is rolled up", async () => {
      await succeedAt(M0 + 1_000);
      await succeedAt(M0 + 59_999);
      await succeedAt(M0 + 30_000, ['gpu']);
      // One failure that is retried, then the same task's last attempt fails for good: failed 2, dead 1.
      const flaky = await claim(store(), await submit(store(), { maxAttempts: 2 }), 'a', M0 + 2_000);
      await store().failTask({ ...leaseOf(flaky, M0 + 3_000), error: ERROR, decision: RETRY });
      const again = await claim(store(), { id: flaky.id, attempt: 1 }, 'a', M0 + 4_000);
      await store().failTask({ ...leaseOf(again, M0 + 5_000), error: ERROR, decision: { status: 'dead' } });
      // Outside the minute: the one before and the one after.
      await succeedAt(M0 - 1);
      await succeedAt(M0 + MINUTE_MS);
      const cancelled = await submit(store());
      await store().requestCancel(cancelled.id, M0 + 6_000);

      expect(await store().rollUpRouteMinute(M0)).toBe(2);
      expect(await store().rollUpRouteMinute(M0)).toBe(0);
      const minutes = await store().listRouteMinutes({ routeKeys: [ECHO, GPU], since: M0 });
      expect(minutes).toEqual([
        { routeKey: ECHO, minute: M0, ...zeros, succeeded: 2, failed: 2, dead: 1, cancelled: 1 },
        { routeKey: GPU, minute: M0, ...zeros, succeeded: 1 },
      ]);
    });

    it('adds the routes a later roll-up finds, keeping the minutes already recorded', async () => {
      await succeedAt(M0 + 1_000);
      expect(await store().rollUpRouteMinute(M0)).toBe(1);
      // A late event of the same minute (written after the first roll-up) on another route, and on the first.
      await succeedAt(M0 + 2_000, ['gpu']);
      await succeedAt(M0 + 3_000);
      expect(await store().rollUpRouteMinute(M0)).toBe(1);
      expect(await store().listRouteMinutes({ routeKeys: [ECHO, GPU], since: M0 })).toEqual([
        { routeKey: ECHO, minute: M0, ...zeros, succeeded: 1 },
        { routeKey: GPU, minute: M0, ...zeros, succeeded: 1 },
      ]);
    });

    it('answers only the routes named, from a time on, and nothing for an empty or unknown list', async () => {
      await succeedAt(M0 + 1_000);
      await succeedAt(M0 + MINUTE_MS + 1_000);
      await succeedAt(M0 + 1_000, ['gpu']);
      await store().rollUpRouteMinute(M0);
      await store().rollUpRouteMinute(M0 + MINUTE_MS);
      const echo = await store().listRouteMinutes({ routeKeys: [ECHO], since: M0 });
      expect(echo.map((m) => [m.routeKey, m.minute])).toEqual([
        [ECHO, M0],
        [ECHO, M0 + MINUTE_MS],
      ]);
      const later = await store().listRouteMinutes({ routeKeys: [ECHO, GPU], since: M0 + 1 });
      expect(later.map((m) => [m.routeKey, m.minute])).toEqual([[ECHO, M0 + MINUTE_MS]]);
      expect(await store().listRouteMinutes({ routeKeys: [], since: 0 })).toEqual([]);
      expect(await store().listRouteMinutes({ routeKeys: ['nothing~'], since: 0 })).toEqual([]);
    });

    it('records nothing for a minute without events', async () => {
      await succeedAt(M0 + 1_000);
      expect(await store().rollUpRouteMinute(M0 + 5 * MINUTE_MS)).toBe(0);
      expect(await store().listRouteMinutes({ routeKeys: [ECHO], since: 0 })).toEqual([]);
    });

    it('purges the oldest minutes in batches', async () => {
      for (let i = 0; i < 3; i++) {
        await succeedAt(M0 + i * MINUTE_MS + 1_000);
        await store().rollUpRouteMinute(M0 + i * MINUTE_MS);
      }
      const before = M0 + 2 * MINUTE_MS;
      expect(await store().purgeRouteMinutes({ before, limit: 1 })).toBe(1);
      expect(await store().purgeRouteMinutes({ before, limit: 10 })).toBe(1);
      expect(await store().purgeRouteMinutes({ before, limit: 10 })).toBe(0);
      const left = await store().listRouteMinutes({ routeKeys: [ECHO], since: 0 });
      expect(left.map((m) => m.minute)).toEqual([M0 + 2 * MINUTE_MS]);
    });
  });
}
