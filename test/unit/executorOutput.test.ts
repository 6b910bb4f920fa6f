/**
 * What a handler hands back besides its result, in the executor on a real SQLite store: progress that is not
 * small JSON is dropped (it would land in the task row, or throw, on every call) while the task runs on, and the
 * last one kept lands before the outcome; log lines are kept per attempt with their levels, capped, and never
 * for a sensitive task; a result whose toJSON throws fails the task for good, like any result JSON cannot hold;
 * a huge error message is cut.
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
import { MAX_LOG_LINES_PER_ATTEMPT, MAX_LOG_MESSAGE_CHARS } from '../../src/domain/taskLog';
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
    'logger',
    defineHandler({
      type: 'logger',
      input: z.object({ lines: z.number() }),
      run: async ({ lines }, ctx) => {
        ctx.log('plain', { file: 'a.png' });
        ctx.log.warn('careful');
        ctx.log.error('x'.repeat(10_000));
        ctx.log.debug('with odd fields', { big: 1n });
        ctx.log.info('with a throwing getter', {
          get boom(): never {
            throw new Error('no');
          },
        });
        for (let i = 0; i < lines; i++) ctx.log.info(`line ${i}`);
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

  it('keeps small JSON progress and drops the rest; the last value lands before the outcome', async () => {
    const task = await submit(store, { type: 'chatty' });
    await executor().execute({ taskId: task.id, attempt: 0 });
    expect(await store.getTask(task.id)).toMatchObject({
      status: 'succeeded',
      result: { ok: true },
      progress: { step: 'b' },
      progressAt: T0,
    });
  });

  it('keeps log lines with their levels and fields, cuts a long message and counts what the cap drops', async () => {
    const task = await submit(store, { type: 'logger', payload: { lines: MAX_LOG_LINES_PER_ATTEMPT } });
    await executor().execute({ taskId: task.id, attempt: 0 });
    const logs = await store.listTaskLogs(task.id, 1);
    expect(logs.lines).toHaveLength(MAX_LOG_LINES_PER_ATTEMPT);
    expect(logs.lines.slice(0, 4)).toEqual([
      { seq: 0, at: T0, level: 'info', message: 'plain', fields: { file: 'a.png' } },
      { seq: 1, at: T0, level: 'warn', message: 'careful', fields: null },
      {
        seq: 2,
        at: T0,
        level: 'error',
        message: expect.stringMatching(/^x+… \(cut from 10000 characters\)$/) as unknown,
        fields: null,
      },
      {
        seq: 3,
        at: T0,
        level: 'debug',
        message: 'with odd fields',
        fields: { fieldsDropped: expect.stringContaining('BigInt') as unknown },
      },
    ]);
    expect(logs.lines[2]?.message).toHaveLength(MAX_LOG_MESSAGE_CHARS);
    expect(logs.lines[4]?.fields).toEqual({ fieldsDropped: 'the log fields could not be serialised: Error: no' });
    expect(logs.lines.at(-1)?.message).toBe(`line ${MAX_LOG_LINES_PER_ATTEMPT - 6}`);
    // Five lines over the cap, each counted with its bytes ("line 195" … "line 199").
    expect(logs.dropped).toEqual({ lines: 5, bytes: 5 * 'line 195'.length });
  });

  it('keeps neither the progress nor the lines of a sensitive task', async () => {
    const chatty = await submit(store, { type: 'chatty', sensitive: true });
    const logger = await submit(store, { type: 'logger', payload: { lines: 3 }, sensitive: true });
    await executor().execute({ taskId: chatty.id, attempt: 0 });
    await executor().execute({ taskId: logger.id, attempt: 0 });
    const stored = await store.getTask(chatty.id);
    expect(stored).toMatchObject({ status: 'succeeded' });
    expect(stored?.progress).toBeUndefined();
    expect(await store.getTask(logger.id)).toMatchObject({ status: 'succeeded' });
    expect(await store.listTaskLogs(logger.id, 1)).toEqual({ lines: [], dropped: { lines: 0, bytes: 0 } });
  });

  it('fails a task for good when its result’s toJSON throws', async () => {
    const task = await submit(store, { type: 'sly', maxAttempts: 3 });
    await executor().execute({ taskId: task.id, attempt: 0 });
    expect(await store.getTask(task.id)).toMatchObject({
      status: 'dead',
      attempt: 1,
      error: { kind: 'unserialisable_result', message: 'the result could not be serialised: Error: not today' },
    });
  });

  it('keeps at most MAX_ERROR_MESSAGE_CHARS of a handler error, saying how long it was', async () => {
    const task = await submit(store, { type: 'verbose', maxAttempts: 1 });
    await executor().execute({ taskId: task.id, attempt: 0 });
    const stored = await store.getTask(task.id);
    expect(stored).toMatchObject({ status: 'dead', error: { kind: 'handler', name: 'Error' } });
    expect(stored?.error?.message).toBe(`${'y'.repeat(MAX_ERROR_MESSAGE_CHARS)}… (cut from 100000 characters)`);
  });
});
