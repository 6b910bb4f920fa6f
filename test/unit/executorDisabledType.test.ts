/**
 * The executor on a real SQLite store when an admin disabled a type the worker has a handler for: a task of that
 * type it claims anyway (a doorbell sent before the change) is released unrun, queued again with its attempt
 * budget kept, and sent to be placed again; a type without a handler still fails as `no_handler`.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { z } from 'zod';
import type { DispatchRow, Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { noTelemetry } from '../../src/telemetry/telemetry';
import { defineHandler, type AnyTaskHandler } from '../../workers/runtime/context';
import { Executor } from '../../workers/runtime/executor';
import type { WorkerEventMap } from '../../workers/runtime/lifecycle';
import { T0, submit } from '../contract/fixtures';

const ran: string[] = [];
const handler = (type: string): [string, AnyTaskHandler] => [
  type,
  defineHandler({
    type,
    input: z.unknown(),
    run: async () => {
      ran.push(type);
      return Promise.resolve({ ok: true });
    },
  }),
];
const handlers = new Map<string, AnyTaskHandler>([handler('echo'), handler('sleep')]);

describe('Executor: a task of a disabled type', () => {
  let store: Store;
  let sent: DispatchRow[];
  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    sent = [];
    ran.length = 0;
  });
  afterEach(() => store.close());

  const executor = (disabled: string[]) =>
    new Executor({
      store,
      dispatcher: {
        send: (rows: readonly DispatchRow[]) => {
          sent.push(...rows);
          return Promise.resolve();
        },
      },
      agentId: 'worker-1',
      handlers,
      serves: (type) => !handlers.has(type) || !disabled.includes(type),
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

  it('is released unrun, queued again, and sent on to be placed again', async () => {
    const task = await submit(store, { type: 'sleep', maxAttempts: 1 });
    expect(await executor(['sleep']).execute({ taskId: task.id, attempt: 0 })).toBe('done');
    expect(ran).toEqual([]);
    const after = await store.getTask(task.id);
    expect(after).toMatchObject({ status: 'queued', agentId: null });
    expect(sent.map((r) => r.id)).toEqual([task.id]);
    // Its attempt budget is kept: the next claim may still run it, on a worker that serves the type.
    expect(await executor([]).execute({ taskId: task.id, attempt: after!.attempt })).toBe('done');
    expect(await store.getTask(task.id)).toMatchObject({ status: 'succeeded', agentId: 'worker-1' });
    expect(ran).toEqual(['sleep']);
  });

  it('leaves the types still served, and types without a handler, as they were', async () => {
    const echo = await submit(store, { type: 'echo' });
    await executor(['sleep']).execute({ taskId: echo.id, attempt: 0 });
    expect(await store.getTask(echo.id)).toMatchObject({ status: 'succeeded' });
    const unknown = await submit(store, { type: 'resize', maxAttempts: 1 });
    await executor(['sleep']).execute({ taskId: unknown.id, attempt: 0 });
    expect(await store.getTask(unknown.id)).toMatchObject({ status: 'dead', error: { kind: 'no_handler' } });
  });
});
