/**
 * The executor when a store call throws with its outcome unknown: a real SQLite store underneath, and a
 * wrapper that applies the first call of one method and then throws, as a connection dropped between the
 * commit and the answer would (or throws without applying it, as a refused request would).
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { z } from 'zod';
import type { TaskRecord } from '../../src/domain/task';
import type { DispatchRow, Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { noTelemetry } from '../../src/telemetry/telemetry';
import { defineHandler, type AnyTaskHandler } from '../../workers/runtime/context';
import { Executor } from '../../workers/runtime/executor';
import { T0, submit as submitTask } from '../contract/fixtures';
import type { RunOutcome, WorkerEventMap } from '../../workers/runtime/lifecycle';

const AGENT = 'worker-1';

type FaultyMethod = 'claimTask' | 'completeTask' | 'failTask';

/**
 * `store` with its first call of `method` failing: `after-commit` applies it and then throws; `before-commit`
 * throws without applying it. Every other call passes through.
 */
function failFirstCall(store: Store, method: FaultyMethod, when: 'after-commit' | 'before-commit') {
  const calls = { count: 0 };
  const wrapped = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const call = (...args: unknown[]): unknown => (value as (...a: unknown[]) => unknown).apply(target, args);
      if (property !== method) return call;
      return async (...args: unknown[]) => {
        calls.count += 1;
        if (calls.count > 1) return call(...args);
        if (when === 'after-commit') await call(...args);
        throw new Error('Connection lost: the socket closed before the answer');
      };
    },
  });
  return { store: wrapped, calls };
}

describe('Executor: a store call that throws with its outcome unknown (real SQLite store)', () => {
  let real: Store;
  let handlerRuns: number;
  let sent: DispatchRow[];
  let outcomes: RunOutcome[];

  const handlers = new Map<string, AnyTaskHandler>([
    [
      'echo',
      defineHandler({
        type: 'echo',
        input: z.unknown(),
        run: async (input) => {
          handlerRuns += 1;
          return Promise.resolve(input);
        },
      }),
    ],
    [
      'fail',
      defineHandler({
        type: 'fail',
        input: z.unknown(),
        run: async () => {
          handlerRuns += 1;
          return Promise.reject(new Error('boom'));
        },
      }),
    ],
  ]);

  function executorOn(store: Store): Executor {
    const events = new EventEmitter<WorkerEventMap>();
    events.on('task-finished', (_task, outcome) => outcomes.push(outcome));
    return new Executor({
      store,
      dispatcher: {
        send: (rows) => {
          sent.push(...rows);
          return Promise.resolve();
        },
      },
      agentId: AGENT,
      handlers,
      leaseMs: 30_000,
      backoff: { baseMs: 50, maxMs: 400 },
      defaultTimeoutSeconds: 5,
      resultMaxBytes: 1024 * 1024,
      clock: { now: () => T0 },
      log: pino({ level: 'silent' }),
      telemetry: noTelemetry,
      events,
      retry: { attempts: 4, baseMs: 0 },
    });
  }

  const submit = (type: 'echo' | 'fail'): Promise<TaskRecord> => submitTask(real, { type, payload: { n: 1 } });

  const eventKinds = async (taskId: string) => (await real.listTaskEvents(taskId)).map((e) => e.kind);

  beforeEach(async () => {
    real = await openSqliteStore({ path: ':memory:' });
    handlerRuns = 0;
    sent = [];
    outcomes = [];
  });

  afterEach(async () => {
    await real.close();
  });

  it('does not send a completion again when the task shows it committed: no result_rejected', async () => {
    const task = await submit('echo');
    const faulty = failFirstCall(real, 'completeTask', 'after-commit');
    expect(await executorOn(faulty.store).execute({ taskId: task.id, attempt: 0 })).toBe('done');
    expect(faulty.calls.count).toBe(1);
    expect(await real.getTask(task.id)).toMatchObject({ status: 'succeeded', attempt: 1, result: { n: 1 } });
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'succeeded']);
    expect(outcomes).toEqual(['succeeded']);
  });

  it('sends a completion again when the task shows it was not applied', async () => {
    const task = await submit('echo');
    const faulty = failFirstCall(real, 'completeTask', 'before-commit');
    await executorOn(faulty.store).execute({ taskId: task.id, attempt: 0 });
    expect(faulty.calls.count).toBe(2);
    expect((await real.getTask(task.id))?.status).toBe('succeeded');
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'succeeded']);
  });

  it('does not send a failure again when the task shows it committed, and still queues the next attempt', async () => {
    const task = await submit('fail');
    const faulty = failFirstCall(real, 'failTask', 'after-commit');
    await executorOn(faulty.store).execute({ taskId: task.id, attempt: 0 });
    expect(faulty.calls.count).toBe(1);
    expect(await real.getTask(task.id)).toMatchObject({ status: 'queued', attempt: 1, error: { message: 'boom' } });
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'failed', 'retry_scheduled']);
    // The retry is sent at once, as when the first answer arrives.
    expect(sent.map((row) => [row.id, row.attempt])).toEqual([[task.id, 1]]);
  });

  it('runs a task whose claim was applied though its answer was lost, and does not claim again', async () => {
    const task = await submit('echo');
    const faulty = failFirstCall(real, 'claimTask', 'after-commit');
    expect(await executorOn(faulty.store).execute({ taskId: task.id, attempt: 0 })).toBe('done');
    expect(faulty.calls.count).toBe(1);
    expect(handlerRuns).toBe(1);
    expect(await real.getTask(task.id)).toMatchObject({ status: 'succeeded', attempt: 1, agentId: AGENT });
    expect(await eventKinds(task.id)).toEqual(['submitted', 'started', 'succeeded']);
  });

  it('leaves a claim that was not applied to the dispatch coming back, without repeating it', async () => {
    const task = await submit('echo');
    const faulty = failFirstCall(real, 'claimTask', 'before-commit');
    expect(await executorOn(faulty.store).execute({ taskId: task.id, attempt: 0 })).toBe('done');
    expect(faulty.calls.count).toBe(1);
    expect(handlerRuns).toBe(0);
    expect(await real.getTask(task.id)).toMatchObject({ status: 'queued', attempt: 0 });
    expect(outcomes).toEqual([]);
  });
});
