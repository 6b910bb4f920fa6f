/**
 * The stall watch on a real SQLite store with a driven clock: it asks an idle agent beside waiting tasks to
 * recycle (once per episode, however many supervisors watch), logs and counts that, degrades the agent when the
 * request did not help, and brings it back once the tasks are consumed. Holds and admin states are left alone.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { STALL_CLEARED_REASON, stalledAgentCounts } from '../../src/domain/stall';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { StallWatch } from '../../src/supervisor/stallWatch';
import { MemorySink, METRICS, Telemetry } from '../../src/telemetry/telemetry';
import { Heartbeat } from '../../workers/runtime/heartbeat';
import { claim, leaseOf, submit, T0 } from '../contract/fixtures';

const STALL_MS = 60_000;
const STALE_MS = 15_000;

describe('StallWatch (a real SQLite store)', () => {
  let store: Store;
  let now: number;
  let lines: Array<{ level: number; msg: string; agentId?: string; route?: string; oldestWaitMs?: number }>;
  let sink: MemorySink;

  const watch = () => {
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    return new StallWatch(
      store,
      { stallAfterMs: STALL_MS, staleAfterMs: STALE_MS },
      { now: () => now },
      pino({ level: 'info' }, out),
      new Telemetry([sink]),
    );
  };
  const register = (id: string, concurrency = 2) =>
    store.registerAgent(
      { id, capabilities: ['gpu'], types: ['echo'], concurrency, hostname: 'h', pid: 1, version: 't' },
      T0,
    );
  const beat = (agentId: string, runningTasks = 0) => store.heartbeat({ agentId, now, runningTasks, metrics: null });
  const agent = async (id: string) => (await store.getAgent(id))!;
  const warnings = () => lines.filter((l) => l.level === 40);

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    now = T0;
    lines = [];
    sink = new MemorySink();
  });

  afterEach(() => store.close());

  it('asks once, degrades with the reason after a further period, and recovers once the tasks are consumed', async () => {
    const [first, second] = [watch(), watch()]; // two supervisors
    await register('a1');
    const tasks = [
      await submit(store, { type: 'echo', requiredCapabilities: ['gpu'] }),
      await submit(store, { type: 'echo', requiredCapabilities: ['gpu'] }),
    ];

    now = T0 + STALL_MS;
    await beat('a1');
    expect(await first.check()).toEqual({ asked: 0, degraded: 0, cleared: 0, recovered: 0 });

    now = T0 + STALL_MS + 1_000;
    await beat('a1');
    expect((await first.check()).asked).toBe(1);
    expect((await second.check()).asked).toBe(0); // the compare-and-set lets one supervisor ask
    expect((await agent('a1')).recycleRequestedAt).toBe(now);
    expect(warnings()).toEqual([
      expect.objectContaining({ agentId: 'a1', route: 'echo~gpu', oldestWaitMs: STALL_MS + 1_000 }),
    ]);
    expect(sink.items.filter((i) => i.name === METRICS.agentStalls)).toEqual([
      expect.objectContaining({ value: 1, properties: expect.objectContaining({ agentId: 'a1', route: 'echo~gpu' }) }),
    ]);
    expect(stalledAgentCounts(await store.listAgents())).toEqual({ recycle_requested: 1, degraded: 0 });

    // The worker reads the request from its heartbeat answer, once.
    const recycles: number[] = [];
    const heartbeat = new Heartbeat(
      store,
      'a1',
      1_000,
      () => 0,
      { now: () => now },
      pino({ level: 'silent' }),
      () => undefined,
      (at) => recycles.push(at),
    );
    await heartbeat.beat();
    await heartbeat.beat();
    expect(recycles).toEqual([T0 + STALL_MS + 1_000]);

    now += STALL_MS - 1;
    await beat('a1');
    expect((await first.check()).degraded).toBe(0);
    now += 1;
    await beat('a1');
    expect((await first.check()).degraded).toBe(1);
    expect(await second.check()).toEqual({ asked: 0, degraded: 0, cleared: 0, recovered: 0 });
    const degraded = await agent('a1');
    expect(degraded).toMatchObject({ state: 'degraded', stateSource: 'enforcer' });
    expect(degraded.stateReason).toMatch(/^stalled: 2 due task\(s\) of route echo~gpu waited 12\d s while it had free/);
    expect(warnings()).toHaveLength(2); // asked once, degraded once: once per episode each
    expect(stalledAgentCounts(await store.listAgents())).toEqual({ recycle_requested: 0, degraded: 1 });

    // It consumes again: the stall clears.
    for (const t of tasks) {
      const running = await claim(store, t, 'a1', now);
      expect(await store.completeTask({ ...leaseOf(running, now), result: null })).toBe(true);
    }
    await beat('a1');
    expect(await first.check()).toEqual({ asked: 0, degraded: 0, cleared: 1, recovered: 1 });
    expect(await agent('a1')).toMatchObject({
      state: 'running',
      stateReason: STALL_CLEARED_REASON,
      recycleRequestedAt: null,
    });
    expect((await store.listAgentEvents('a1')).map((e) => `${e.fromState}>${e.toState}`)).toEqual([
      'null>running',
      'running>degraded',
      'degraded>running',
    ]);
    expect(stalledAgentCounts(await store.listAgents())).toEqual({ recycle_requested: 0, degraded: 0 });
  });

  it('does not blame a busy agent, an agent that cannot run the tasks, or a new one', async () => {
    await register('busy', 1);
    await store.registerAgent(
      { id: 'cpu-only', capabilities: ['cpu'], types: ['echo'], concurrency: 2, hostname: 'h', pid: 1, version: 't' },
      T0,
    );
    await submit(store, { type: 'echo', requiredCapabilities: ['gpu'] });
    now = T0 + 10 * STALL_MS;
    await beat('busy', 1);
    await beat('cpu-only');
    await store.registerAgent(
      { id: 'new', capabilities: ['gpu'], types: ['echo'], concurrency: 2, hostname: 'h', pid: 2, version: 't' },
      now - 1_000,
    );
    expect((await watch().check()).asked).toBe(0);
    expect(warnings()).toEqual([]);
  });

  it('asks but never degrades or revives an agent held by an admin, and leaves silent agents to the enforcer', async () => {
    await register('drained');
    await register('silent');
    await submit(store, { type: 'echo', requiredCapabilities: ['gpu'] });
    now = T0 + STALL_MS + 1;
    await beat('drained');
    const w = watch();
    expect((await w.check()).asked).toBe(1); // `silent` has not heartbeated for longer than STALE_MS
    await store.setAgentState({ agentId: 'drained', to: 'draining', reason: 'ops', now, source: 'admin' });
    now += 2 * STALL_MS;
    await beat('drained');
    expect(await w.check()).toEqual({ asked: 0, degraded: 0, cleared: 0, recovered: 0 });
    expect(await agent('drained')).toMatchObject({ state: 'draining', stateSource: 'admin' });
    expect((await agent('silent')).recycleRequestedAt).toBeNull();
  });

  it('passes each new recycle request to the worker once, and none after a request is cleared', async () => {
    await register('a1');
    const recycles: number[] = [];
    const heartbeat = new Heartbeat(
      store,
      'a1',
      1_000,
      () => 0,
      { now: () => now },
      pino({ level: 'silent' }),
      () => undefined,
      (at) => recycles.push(at),
    );
    const cas = (expected: number | null, to: number | null) => store.setAgentRecycle({ agentId: 'a1', expected, to });
    await heartbeat.beat();
    await cas(null, T0 + 1);
    await heartbeat.beat();
    await heartbeat.beat();
    await cas(T0 + 1, null);
    await heartbeat.beat();
    await cas(null, T0 + 2);
    await heartbeat.beat();
    expect(recycles).toEqual([T0 + 1, T0 + 2]);
  });
});
