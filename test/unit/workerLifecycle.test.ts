/**
 * The worker's lifecycle: its transitions, and a WorkerRuntime in this process on a real SQLite file and
 * Redis (its own key prefix), driven by awaiting its events. The handler here ends when the test says so,
 * so nothing waits on a clock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import pino from 'pino';
import { z } from 'zod';
import { loadConfig, type Config } from '../../src/config/config';
import type { TaskRecord } from '../../src/domain/task';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { waitUntilReady } from '../../src/dispatch/redis';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { defineHandler } from '../../workers/runtime/context';
import {
  canMoveTo,
  Lifecycle,
  nextEvent,
  WORKER_STATES,
  WorkerStateError,
  type RunOutcome,
  type WorkerEventMap,
  type WorkerState,
} from '../../workers/runtime/lifecycle';
import { WorkerRuntime } from '../../workers/runtime/worker';
import { submit as submitTask } from '../contract/fixtures';

const REDIS_URL = process.env.TASKFLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('worker states', () => {
  it('allow only the documented transitions', () => {
    const allowed = WORKER_STATES.flatMap((from) =>
      WORKER_STATES.filter((to) => canMoveTo(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed).toEqual([
      'created→starting',
      'starting→running',
      'starting→stopping',
      'running→draining',
      'running→stopping',
      'draining→stopping',
      'stopping→stopped',
    ]);
  });

  it('refuse an illegal move, and emit every change', () => {
    const events = new EventEmitter<WorkerEventMap>();
    const seen: string[] = [];
    events.on('state', (to, from) => seen.push(`${from}→${to}`));
    const lifecycle = new Lifecycle(events);
    expect(() => lifecycle.moveTo('running')).toThrow('a worker cannot go from created to running');
    lifecycle.moveTo('starting');
    lifecycle.moveTo('running');
    expect(lifecycle.state).toBe('running');
    expect(seen).toEqual(['created→starting', 'starting→running']);
  });
});

describe('WorkerRuntime (real SQLite file and Redis)', () => {
  let dir: string;
  let config: Config;
  let store: Store;
  let redis: Redis;
  let dispatcher: Dispatcher;
  let worker: WorkerRuntime;
  /** Ends the running `hold` tasks successfully. */
  let finishHeld: Array<() => void>;

  const hold = defineHandler({
    type: 'hold',
    input: z.unknown(),
    run: (_input, ctx) =>
      new Promise<string>((resolve, reject) => {
        finishHeld.push(() => resolve('done'));
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  });

  function submitHold(): Promise<TaskRecord> {
    const now = Date.now();
    return submitTask(store, { type: 'hold', payload: null, maxAttempts: 1, notBefore: now, createdAt: now });
  }

  /** Starts the worker on a task it is running; resolves with the task once its handler runs. */
  async function startRunningOne(): Promise<TaskRecord> {
    const task = await submitHold();
    const started = nextEvent(worker.events, 'task-started');
    await worker.start();
    await dispatcher.send([task], Date.now());
    await started;
    return task;
  }

  const statesOf = (runtime: WorkerRuntime) => {
    const seen: WorkerState[] = [];
    runtime.events.on('state', (to) => seen.push(to));
    return seen;
  };
  const finishedAs = (runtime: WorkerRuntime) => {
    const seen: RunOutcome[] = [];
    runtime.events.on('task-finished', (_task, outcome) => seen.push(outcome));
    return seen;
  };
  const eventKinds = async (taskId: string) => (await store.listTaskEvents(taskId)).map((e) => e.kind);
  const redisClients = async () => (await redis.client('LIST')) as string;
  const agentStates = async () => (await store.listAgentEvents('w1')).map((e) => e.toState);

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tf-worker-'));
    config = loadConfig({
      TASKFLEET_SQLITE_PATH: path.join(dir, 'taskfleet.db'),
      TASKFLEET_REDIS_URL: REDIS_URL,
      TASKFLEET_REDIS_PREFIX: `tftest-${path.basename(dir)}`,
      TASKFLEET_HEARTBEAT_INTERVAL_MS: '100',
      TASKFLEET_ROUTE_REFRESH_MS: '100',
      TASKFLEET_LOG_LEVEL: 'warn',
    });
    store = await openSqliteStore({ path: config.sqlitePath });
    redis = new Redis(REDIS_URL);
    await waitUntilReady(redis, REDIS_URL);
    dispatcher = new Dispatcher(redis, config.redisPrefix);
    finishHeld = [];
    const log = pino({ level: 'silent' });
    worker = new WorkerRuntime({ config, capabilities: [], concurrency: 2, handlers: [hold], id: 'w1', log });
  });

  afterEach(async () => {
    if (worker.state === 'running' || worker.state === 'draining') await worker.stop();
    await dispatcher.close();
    const keys = await redis.keys(`${config.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drains: lets a running task finish, records the agent stopped, releases its connections', async () => {
    const states = statesOf(worker);
    const finished = finishedAs(worker);
    const task = await startRunningOne();
    expect(worker.status()).toMatchObject({ state: 'running', runningTasks: 1, freeSlots: 1, heldBy: null });
    expect(await redisClients()).toContain('taskfleet-worker-w1');
    const drained = worker.drain(30_000);
    await nextEvent(worker.events, 'state', (to) => to === 'draining');
    finishHeld.forEach((finish) => finish());
    await drained;
    expect(states).toEqual(['starting', 'running', 'draining', 'stopping', 'stopped']);
    expect(finished).toEqual(['succeeded']);
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'succeeded']);
    expect((await store.getAgent('w1'))?.state).toBe('stopped');
    expect((await agentStates()).slice(-2)).toEqual(['draining', 'stopped']);
    expect(await redisClients()).not.toContain('taskfleet-worker-w1');
    await expect(worker.start()).rejects.toThrow(WorkerStateError);
  });

  it('hands a running task back when the drain runs out of time', async () => {
    const finished = finishedAs(worker);
    const task = await startRunningOne();
    await worker.drain(50);
    expect(finished).toEqual(['released']);
    expect(await store.getTask(task.id)).toMatchObject({ status: 'queued', attempt: 1 });
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'released']);
  });

  it('stops at once: running tasks are aborted and handed back, without a draining state', async () => {
    const states = statesOf(worker);
    const task = await startRunningOne();
    await worker.stop();
    expect(states).toEqual(['starting', 'running', 'stopping', 'stopped']);
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'released']);
    expect((await agentStates()).at(-1)).toBe('stopped');
  });

  it('ends a drain’s wait when a stop is asked during it', async () => {
    const task = await startRunningOne();
    const drained = worker.drain(60_000);
    await nextEvent(worker.events, 'state', (to) => to === 'draining');
    await Promise.all([worker.stop(), drained]);
    expect(worker.state).toBe('stopped');
    expect((await store.getTask(task.id))?.status).toBe('queued');
  });

  it('refuses a drain before a start, and a second start', async () => {
    await expect(worker.drain()).rejects.toThrow('cannot drain a worker that is created');
    const starting = worker.start();
    await expect(worker.start()).rejects.toThrow('cannot start a worker that is starting');
    await starting;
    expect(worker.state).toBe('running');
  });

  it('ends stopped when its start fails, and refuses to start again', async () => {
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    const broken = { ...config, sqlitePath: path.join(dir, 'not-a-dir', 'taskfleet.db') };
    const log = pino({ level: 'silent' });
    const failing = new WorkerRuntime({ config: broken, capabilities: [], concurrency: 1, handlers: [hold], log });
    const states = statesOf(failing);
    await expect(failing.start()).rejects.toThrow();
    expect(states).toEqual(['starting', 'stopping', 'stopped']);
    await expect(failing.drain()).resolves.toBeUndefined();
    await expect(failing.start()).rejects.toThrow('cannot start a worker that is stopped');
  });

  it('takes no work while the registry refuses its claims, and takes work again after', async () => {
    const task = await submitHold();
    await worker.start();
    const order: string[] = [];
    worker.events.on('held', (state) => order.push(`held ${state}`));
    worker.events.on('task-started', () => order.push('task started'));
    const held = nextEvent(worker.events, 'held');
    await store.setAgentState({ agentId: 'w1', to: 'suspended', reason: 'test', now: Date.now(), source: 'admin' });
    expect(await held).toEqual(['suspended']);
    expect(worker.status().heldBy).toBe('suspended');
    await dispatcher.send([task], Date.now());
    const started = nextEvent(worker.events, 'task-started');
    await store.setAgentState({ agentId: 'w1', to: 'running', reason: 'test', now: Date.now(), source: 'admin' });
    await started;
    expect(order).toEqual(['held suspended', 'held null', 'task started']);
  });
});
