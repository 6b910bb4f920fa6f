import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/config';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { DEFAULT_THRESHOLDS } from '../../src/domain/enforcement';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { HeartbeatEnforcer } from '../../src/supervisor/enforcement';
import { supervisorSettings } from '../../src/supervisor/settings';

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

describe('the settings the supervisor derives from its configuration', () => {
  const config = loadConfig({
    TASKFLEET_HEARTBEAT_INTERVAL_MS: '400',
    TASKFLEET_HEARTBEAT_THRESHOLDS: '2,4,8',
    TASKFLEET_ADMIN_API_KEY: 'tfk_' + 'A'.repeat(43),
    TASKFLEET_RATE_LIMIT_PER_SECOND: '50',
    TASKFLEET_RATE_LIMIT_BURST: '100',
  });

  it('enforces the configured thresholds at the configured interval; an agent is stale after 3 intervals', () => {
    const settings = supervisorSettings(config);
    expect(settings.enforcement).toEqual({ heartbeatIntervalMs: 400, warnAfter: 2, suspendAfter: 4, freezeAfter: 8 });
    expect(settings.staleAfterMs).toBe(1_200);
    expect(settings.http).toEqual({
      adminApiKey: config.adminApiKey,
      rateLimit: { perSecond: 50, burst: 100 },
      maxBodyBytes: config.maxBodyBytes,
      staleAfterMs: 1_200,
    });
  });

  it('takes the admin key (null included) and the rate limit from the overrides', () => {
    const { http } = supervisorSettings(config, { adminApiKey: null, rateLimit: { perSecond: 1, burst: 2 } });
    expect(http.adminApiKey).toBeNull();
    expect(http.rateLimit).toEqual({ perSecond: 1, burst: 2 });
  });
});
