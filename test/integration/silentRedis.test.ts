/**
 * Redis connections that go silent (no bytes either way, no FIN, no RST, as after an Azure NAT idle drop), slow
 * down or are reset: a real worker process, or the supervisor, reaches Redis through a fault proxy of our own,
 * and the fleet keeps working by itself, every task recorded once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { z } from 'zod';
import { loadConfig } from '../../src/config/config';
import type { TaskRecord } from '../../src/domain/task';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { createConsumerConnection, deleteKeysUnder, waitUntilReady } from '../../src/dispatch/redis';
import type { DeadConnection } from '../../src/dispatch/redisWatch';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { defineHandler } from '../../workers/runtime/context';
import { nextEvent } from '../../workers/runtime/lifecycle';
import { WorkerRuntime } from '../../workers/runtime/worker';
import { submit as submitTask } from '../contract/fixtures';
import { FaultProxy } from '../helpers/faultProxy';
import { Fleet, REDIS_URL, fileInspector, stopAndVerifyClean, waitFor, type WorkerProcess } from '../helpers/fleet';

const redis = fileInspector();
/** Faster deadlines than the defaults, so a test waits seconds, not tens of seconds. */
const DEADLINES = { TASKFLEET_REDIS_COMMAND_TIMEOUT_MS: '2000' };

let proxy: FaultProxy;
let fleet: Fleet | undefined;

beforeEach(async () => {
  proxy = await FaultProxy.start(REDIS_URL);
});

afterEach(async () => {
  const f = fleet;
  fleet = undefined;
  await stopAndVerifyClean(f, redis);
  await proxy.close();
});

const echoes = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { tag, i } }));

/** Every task succeeded, and each was started and recorded once (no second run, no second result). */
async function expectEachRanOnce(f: Fleet, ids: string[], timeoutMs = 60_000): Promise<void> {
  const done = await f.waitTerminal(ids, timeoutMs);
  expect(done.map((t) => t.status)).toEqual(ids.map(() => 'succeeded'));
  for (const id of ids) {
    const kinds = (await f.sup.store.listTaskEvents(id)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'succeeded')).toHaveLength(1);
  }
}

/** A worker that has run one task through the proxy: idle, consuming, with every connection open. */
async function idleWorkerThroughProxy(f: Fleet, id: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = await f.spawnWorker({
    id,
    concurrency: 4,
    env: { ...DEADLINES, TASKFLEET_REDIS_URL: proxy.url, ...env },
  });
  const [first] = await f.submitBatch(echoes(1, 'warm-up'));
  await expectEachRanOnce(f, [first.id], 30_000);
  return worker;
}

function logOf(worker: WorkerProcess): string {
  return readFileSync(worker.logFile, 'utf8');
}

describe("a worker's Redis connections", () => {
  it('go silent: the worker notices, reconnects by itself and runs the 20 tasks submitted afterwards once each', async () => {
    fleet = await Fleet.start({ env: DEADLINES });
    const telemetryFile = path.join(fleet.dir, 'worker-telemetry.jsonl');
    const worker = await idleWorkerThroughProxy(fleet, 'silent-worker', { TASKFLEET_TELEMETRY_FILE: telemetryFile });
    const before = proxy.connections;
    expect(proxy.silence()).toBeGreaterThanOrEqual(3);

    const ids = (await fleet.submitBatch(echoes(20, 'after-silence'))).map((t: { id: string }) => t.id);
    await expectEachRanOnce(fleet, ids);
    // It did so on new connections, and said so.
    expect(proxy.connections).toBeGreaterThan(before);
    // Its command connection missed its deadline (and its blocking connection was replaced with it, or its
    // read outlived its own timeout first): one line each.
    const log = () => logOf(worker);
    await waitFor(
      () => /dead Redis connection \(command deadline\).*blocking connection/.test(log()),
      15_000,
      'the worker to say so',
    );
    // And counted it.
    const counted = readFileSync(telemetryFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('taskfleet.redis_dead_connections'))
      .map((line) => JSON.parse(line) as { kind: string; value: number; properties: Record<string, string> });
    expect(counted).toContainEqual(
      expect.objectContaining({
        kind: 'metric',
        value: 1,
        properties: expect.objectContaining({ connection: 'taskfleet-worker-silent-worker', saw: 'command deadline' }),
      }),
    );
  }, 90_000);

  it('slow down: the fleet keeps working', async () => {
    fleet = await Fleet.start({ env: DEADLINES });
    await idleWorkerThroughProxy(fleet, 'slow-worker');
    proxy.delay(100);
    const ids = (await fleet.submitBatch(echoes(20, 'delayed'))).map((t: { id: string }) => t.id);
    await expectEachRanOnce(fleet, ids);
  }, 90_000);

  it('are reset: the worker reconnects and the fleet keeps working', async () => {
    fleet = await Fleet.start({ env: DEADLINES });
    await idleWorkerThroughProxy(fleet, 'reset-worker');
    expect(proxy.reset()).toBeGreaterThanOrEqual(3);
    const ids = (await fleet.submitBatch(echoes(20, 'after-reset'))).map((t: { id: string }) => t.id);
    await expectEachRanOnce(fleet, ids);
  }, 90_000);
});

describe("the supervisor's Redis connection", () => {
  it('goes silent: the supervisor notices, reconnects, and tasks submitted afterwards are dispatched and run once', async () => {
    // The supervisor (in this process) through the proxy; the worker straight to Redis.
    fleet = await Fleet.start({ env: { ...DEADLINES, TASKFLEET_REDIS_URL: proxy.url } });
    await fleet.spawnWorker({ id: 'direct-worker', concurrency: 4, env: { TASKFLEET_REDIS_URL: REDIS_URL } });
    const [first] = await fleet.submitBatch(echoes(1, 'warm-up'));
    await expectEachRanOnce(fleet, [first.id], 30_000);
    const before = proxy.connections;
    expect(proxy.silence()).toBeGreaterThanOrEqual(1);

    const ids = (await fleet.submitBatch(echoes(20, 'after-silence'))).map((t: { id: string }) => t.id);
    await expectEachRanOnce(fleet, ids);
    expect(proxy.connections).toBeGreaterThan(before);
  }, 90_000);

  it('is reset: tasks are still dispatched', async () => {
    fleet = await Fleet.start({ env: { ...DEADLINES, TASKFLEET_REDIS_URL: proxy.url } });
    await fleet.spawnWorker({ id: 'direct-worker', concurrency: 4, env: { TASKFLEET_REDIS_URL: REDIS_URL } });
    expect(proxy.reset()).toBeGreaterThanOrEqual(1);
    const ids = (await fleet.submitBatch(echoes(20, 'after-reset'))).map((t: { id: string }) => t.id);
    await expectEachRanOnce(fleet, ids);
  }, 90_000);
});

describe('the blocking-read watchdog', () => {
  it('replaces a blocking connection whose read outlives its own timeout, and says so once', async () => {
    const dead: DeadConnection[] = [];
    // A command deadline far beyond the test: only the watchdog can free the read.
    const watch = { commandTimeoutMs: 120_000, onDead: (d: DeadConnection) => dead.push(d) };
    const consumer = createConsumerConnection(proxy.url, 'watchdog-test', watch);
    const blocking = consumer.redis.duplicate({ connectionName: 'watchdog-test-blocking' });
    try {
      await Promise.all([waitUntilReady(consumer.redis, proxy.url), waitUntilReady(blocking, proxy.url)]);
      expect(consumer.blocking.has(blocking)).toBe(true);
      const before = proxy.connections;
      proxy.silence();
      // Without the watchdog this read would never return: its socket is silent for good.
      const key = `tftest-watchdog-${process.pid}:marker`;
      await expect(blocking.bzpopmin(key, 1)).resolves.toBeNull();
      expect(proxy.connections).toBeGreaterThan(before);
      expect(dead.map((d) => [d.connection, d.saw])).toEqual([
        ['watchdog-test blocking watchdog-test-blocking', 'blocking-read watchdog'],
      ]);
    } finally {
      blocking.disconnect();
      consumer.redis.disconnect();
    }
  }, 30_000);
});

describe('WorkerRuntime.recycleRedis (a worker in this process, through the proxy)', () => {
  const hold = defineHandler({
    type: 'hold',
    input: z.unknown(),
    run: (_input, ctx) =>
      new Promise<string>((resolve, reject) => {
        releases.push(() => resolve('done'));
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  });
  let releases: Array<() => void> = [];
  const release = () => releases.splice(0).forEach((end) => end());
  let dir: string;
  let producer: Redis;
  let store: Store;
  let dispatcher: Dispatcher;
  let worker: WorkerRuntime;
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tf-recycle-'));
    const config = loadConfig({
      TASKFLEET_SQLITE_PATH: path.join(dir, 'taskfleet.db'),
      TASKFLEET_REDIS_URL: proxy.url,
      TASKFLEET_REDIS_PREFIX: `tftest-${path.basename(dir)}`,
      TASKFLEET_HEARTBEAT_INTERVAL_MS: '100',
      TASKFLEET_ROUTE_REFRESH_MS: '100',
      // Far beyond the test's wait: only the recycle can bring the command connection back in time.
      TASKFLEET_REDIS_COMMAND_TIMEOUT_MS: '120000',
    });
    store = await openSqliteStore({ path: config.sqlitePath });
    producer = new Redis(REDIS_URL);
    dispatcher = new Dispatcher(producer, config.redisPrefix);
    releases = [];
    lines.length = 0;
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    worker = new WorkerRuntime({ config, capabilities: [], concurrency: 2, handlers: [hold], id: 'recycler', log });
  });

  afterEach(async () => {
    if (worker.state === 'running') await worker.stop();
    await dispatcher.close();
    await producer.quit();
    await deleteKeysUnder(REDIS_URL, `tftest-${path.basename(dir)}`);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const submitHold = (): Promise<TaskRecord> => {
    const now = Date.now();
    return submitTask(store, { type: 'hold', payload: null, maxAttempts: 1, notBefore: now, createdAt: now });
  };

  it('replaces every Redis connection, says why once, and loses no job in flight', async () => {
    await worker.start();
    const running = await submitHold();
    const started = nextEvent(worker.events, 'task-started');
    await dispatcher.send([running], Date.now());
    await started;
    const before = proxy.connections;
    // Commands, producer and the consumer's blocking connection: all silenced, none noticed yet.
    expect(proxy.silence()).toBe(3);

    await worker.recycleRedis('the supervisor saw tasks waiting beside this idle agent');
    expect(proxy.connections).toBeGreaterThanOrEqual(before + 3);
    const warned = lines.filter((l) => l.level === 40 && /recycling every Redis connection/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.reason).toBe('the supervisor saw tasks waiting beside this idle agent');

    // The task that ran through the recycle is recorded once; tasks sent afterwards run.
    release();
    const next = await Promise.all([submitHold(), submitHold()]);
    await dispatcher.send(next, Date.now());
    await waitFor(
      async () => (await Promise.all(next.map((t) => store.getTask(t.id)))).every((t) => t?.status === 'running'),
      30_000,
      'the tasks sent after the recycle to start',
    );
    release();
    for (const task of [running, ...next]) {
      const kinds = async () => (await store.listTaskEvents(task.id)).map((e) => e.kind);
      await waitFor(async () => (await kinds()).includes('succeeded'), 30_000, 'a result');
      expect(await kinds()).toEqual(['submitted', 'started', 'succeeded']);
    }
  }, 60_000);

  it('recycles when the supervisor asks in the heartbeat answer (recycleRequestedAt), once per request', async () => {
    await worker.start();
    // A first task, so the route's consumer (and its blocking connection) is open.
    const first = await submitHold();
    await dispatcher.send([first], Date.now());
    await waitFor(async () => (await store.getTask(first.id))?.status === 'running', 30_000, 'the first task');
    release();
    await waitFor(async () => (await store.getTask(first.id))?.status === 'succeeded', 30_000, 'its result');
    const before = proxy.connections;
    expect(proxy.silence()).toBe(3);
    const asked = Date.now();
    expect(await store.setAgentRecycle({ agentId: 'recycler', expected: null, to: asked })).toBe(true);

    await waitFor(async () => proxy.connections >= before + 3, 30_000, 'the worker to open new connections');
    const warned = () => lines.filter((l) => l.level === 40 && /recycling every Redis connection/.test(l.msg));
    expect(warned()).toHaveLength(1);
    expect(warned()[0]!.reason).toContain(new Date(asked).toISOString());

    // The same request, seen again in later heartbeats, is acted on once.
    const beats = async () => (await store.getAgent('recycler'))?.lastHeartbeatAt ?? 0;
    const seen = await beats();
    await waitFor(async () => (await beats()) > seen + 300, 10_000, 'three more heartbeats');
    expect(warned()).toHaveLength(1);

    // And the worker consumes through its new connections.
    const task = await submitHold();
    await dispatcher.send([task], Date.now());
    await waitFor(async () => (await store.getTask(task.id))?.status === 'running', 30_000, 'the task to start');
    release();
    await waitFor(async () => (await store.getTask(task.id))?.status === 'succeeded', 30_000, 'its result');
  }, 60_000);
});
