import { Redis } from 'ioredis';
import pino from 'pino';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { DEFAULT_THRESHOLDS } from '../../src/domain/enforcement';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { HeartbeatEnforcer } from '../../src/supervisor/enforcement';

const T0 = 1_700_000_000_000;
const INTERVAL = 200;

describe('HeartbeatEnforcer (a real SQLite store)', () => {
  let store: Store;
  let redis: Redis;
  let now: number;
  let enforcer: HeartbeatEnforcer;

  const register = (id: string) =>
    store.registerAgent(
      { id, capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 't' },
      T0,
    );
  const beat = (agentId: string, at: number) => store.heartbeat({ agentId, now: at, runningTasks: 0, metrics: null });
  const state = async (id: string) => (await store.getAgent(id))?.state;

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    // Never connected: no lease is reclaimed in these cases, so nothing is sent.
    redis = new Redis({ lazyConnect: true });
    now = T0;
    enforcer = new HeartbeatEnforcer(
      store,
      new Dispatcher(redis, 'unused'),
      { heartbeatIntervalMs: INTERVAL, ...DEFAULT_THRESHOLDS },
      { now: () => now },
      pino({ level: 'silent' }),
    );
  });

  afterEach(async () => {
    redis.disconnect();
    await store.close();
  });

  it('freezes the one agent that went silent while another is heard from', async () => {
    await register('silent');
    await register('alive');
    now = T0 + 11 * INTERVAL;
    await beat('alive', now);
    expect(await enforcer.enforceHeartbeats()).toBe(1);
    expect(await state('silent')).toBe('frozen');
    expect(await state('alive')).toBe('running');
  });

  it('holds enforcement while every agent is late at once (a stalled store, not a dead fleet)', async () => {
    await register('a');
    await register('b');
    now = T0 + 11 * INTERVAL;
    expect(await enforcer.enforceHeartbeats()).toBe(0);
    expect([await state('a'), await state('b')]).toEqual(['running', 'running']);
    // Once one is heard from again, the other is judged as usual.
    await beat('a', now);
    expect(await enforcer.enforceHeartbeats()).toBe(1);
    expect(await state('b')).toBe('frozen');
  });

  it('still escalates a lone agent', async () => {
    await register('only');
    now = T0 + 6 * INTERVAL;
    expect(await enforcer.enforceHeartbeats()).toBe(1);
    expect(await state('only')).toBe('suspended');
  });
});
