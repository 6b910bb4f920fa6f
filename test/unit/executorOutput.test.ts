/**
 * What a handler hands back besides its result, in the executor on a real SQLite store: progress that is not
 * small JSON is dropped (it would land in Redis, or throw, on every call) while the task runs on; a result whose
 * toJSON throws fails the task for good, like any result JSON cannot hold; a huge error message is cut.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { z } from 'zod';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { noTelemetry } from '../../src/telemetry/telemetry';
import { defineHandler, type AnyTaskHandler } from '../../workers/runtime/context';
import { Executor, MAX_PROGRESS_BYTES } from '../../workers/runtime/executor';
import { MAX_ERROR_MESSAGE_CHARS } from '../../src/domain/result';
import type { WorkerEventMap } from '../../workers/runtime/lifecycle';
import { T0, submit } from '../contract/fixtures';

const handlers = new Map<string, AnyTaskHandler>([
  [
    'chatty',
    defineHandler({
      type: 'chatty',
      input: z.unknown(),
      run: async (_, ctx) => {
        ctx.progress(10);
        ctx.progress({ total: 2n ** 64n });
        ctx.progress({ blob: 'x'.repeat(MAX_PROGRESS_BYTES) });
        ctx.progress({ step: 'b' });
        return Promise.resolve({ ok: true });
      },
    }),
  ],
  [
    'verbose',
    defineHandler({
      type: 'verbose',
      input: z.unknown(),
      run: async () => Promise.reject(new Error('y'.repeat(100_000))),
    }),
  ],
  [
    'sly',
    defineHandler({
      type: 'sly',
      input: z.unknown(),
      run: async () =>
        Promise.resolve({
          toJSON() {
            throw new Error('not today');
          },
        }),
    }),
  ],
]);

describe('Executor: progress and results a handler hands back', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
  });
  afterEach(() => store.close());

  const executor = () =>
    new Executor({
      store,
      dispatcher: { send: () => Promise.resolve() },
      agentId: 'worker-1',
      handlers,
      leaseMs: 30_000,
      backoff: { baseMs: 50, maxMs: 400 },
      defaultTimeoutSeconds: 5,
      resultMaxBytes: 1024 * 1024,
      clock: { now: () => T0 },
      log: pino({ level: 'silent' }),
      telemetry: noTelemetry,
      events: new EventEmitter<WorkerEventMap>(),
      retry: { attempts: 2, baseMs: 0 },
    });

  it('passes small JSON progress on and drops the rest, and the task still succeeds', async () => {
    const task = await submit(store, { type: 'chatty' });
    const reported: unknown[] = [];
    await executor().execute({ taskId: task.id, attempt: 0 }, (v) => reported.push(v));
    expect(reported).toEqual([10, { step: 'b' }]);
    expect(await store.getTask(task.id)).toMatchObject({ status: 'succeeded', result: { ok: true } });
  });

  it('fails a task for good when its result’s toJSON throws', async () => {
    const task = await submit(store, { type: 'sly', maxAttempts: 3 });
    await executor().execute({ taskId: task.id, attempt: 0 }, () => undefined);
    expect(await store.getTask(task.id)).toMatchObject({
      status: 'dead',
      attempt: 1,
      error: { kind: 'unserialisable_result', message: 'the result could not be serialised: Error: not today' },
    });
  });

  it('keeps at most MAX_ERROR_MESSAGE_CHARS of a handler error, saying how long it was', async () => {
    const task = await submit(store, { type: 'verbose', maxAttempts: 1 });
    await executor().execute({ taskId: task.id, attempt: 0 }, () => undefined);
    const stored = await store.getTask(task.id);
    expect(stored).toMatchObject({ status: 'dead', error: { kind: 'handler', name: 'Error' } });
    expect(stored?.error?.message).toBe(`${'y'.repeat(MAX_ERROR_MESSAGE_CHARS)}… (cut from 100000 characters)`);
  });
});
