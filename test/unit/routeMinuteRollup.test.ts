/**
 * The route-minute roll-up (src/supervisor/routeSeries.ts) on a real SQLite store with a controlled clock: a
 * minute is rolled up once it ended SETTLE_MS ago, each minute once per supervisor, up to CATCH_UP_MINUTES back
 * after a start; and the purge deletes the minutes past the succeeded tasks' retention.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Store } from '../../src/store/port';
import { MINUTE_MS } from '../../src/store/routeMinutesPort';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { RetentionPurge } from '../../src/supervisor/purge';
import { CATCH_UP_MINUTES, RouteMinuteRollup, SETTLE_MS } from '../../src/supervisor/routeSeries';
import { newTask } from '../contract/fixtures';

const log = pino({ level: 'silent' });
/** A minute's start. */
const M = 1_700_000_040_000;

let dir: string;
let store: Store;
let now: number;
const clock = { now: () => now };

/** Records the minutes the roll-up asks the store for, passing each on to the real store. */
function recording(into: number[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'rollUpRouteMinute')
        return (minute: number) => (into.push(minute), target.rollUpRouteMinute(minute));
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

async function succeededAt(at: number): Promise<void> {
  const [inserted] = await store.insertTasks([newTask({ createdAt: at - 10, notBefore: at - 10 })]);
  const id = inserted!.task.id;
  await store.claimTask({ taskId: id, attempt: 0, agentId: 'a', now: at - 5, leaseMs: 30_000 });
  await store.completeTask({ taskId: id, attempt: 1, agentId: 'a', now: at, result: null });
}

beforeEach(async () => {
  expect(M % MINUTE_MS).toBe(0);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-minutes-'));
  store = await openSqliteStore({ path: path.join(dir, 'taskfleet.db') });
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RouteMinuteRollup', () => {
  it('rolls a minute up once it has settled, each minute once, catching up a bounded past after a start', async () => {
    const asked: number[] = [];
    const rollup = new RouteMinuteRollup(recording(asked), clock, log);
    now = M + SETTLE_MS - 1;
    await rollup.pass();
    // The minute that just ended is not settled yet: the catch-up ends with the one before it.
    expect(asked).toEqual(
      Array.from({ length: CATCH_UP_MINUTES }, (_, i) => M - (CATCH_UP_MINUTES + 1 - i) * MINUTE_MS),
    );

    asked.length = 0;
    await succeededAt(M - MINUTE_MS + 500);
    now = M + SETTLE_MS;
    expect(await rollup.pass()).toEqual({ minutes: 1, rows: 1 });
    expect(asked).toEqual([M - MINUTE_MS]);
    now = M + MINUTE_MS - 1;
    expect(await rollup.pass()).toEqual({ minutes: 0, rows: 0 });

    // A long stall: at most CATCH_UP_MINUTES, the latest ones.
    asked.length = 0;
    now = M + 100 * MINUTE_MS + SETTLE_MS;
    expect((await rollup.pass()).minutes).toBe(CATCH_UP_MINUTES);
    expect(asked.at(-1)).toBe(M + 99 * MINUTE_MS);
  });

  it('leaves the minutes to the retention purge, kept as long as succeeded tasks', async () => {
    await succeededAt(M + 500);
    now = M + MINUTE_MS + SETTLE_MS;
    await new RouteMinuteRollup(store, clock, log).pass();
    expect(await store.listRouteMinutes({ routeKeys: ['echo~'], since: 0 })).toHaveLength(1);
    const settings = { succeededMs: 60_000, deadMs: 0, agentsMs: 0, auditMs: 0, batch: 10, pauseMs: 0, intervalMs: 1 };
    now = M + 2 * MINUTE_MS;
    const purged = await new RetentionPurge(store, settings, clock, log).pass();
    expect(purged.routeMinutes).toBe(1);
    expect(await store.listRouteMinutes({ routeKeys: ['echo~'], since: 0 })).toEqual([]);
  });
});
