/**
 * What waiting and streaming cost, the parts waitAndStreams.test.ts leaves out: an idle stream gets the SSE
 * keep-alive comment (a short interval through the supervisor's `streams` override), and fifty `?wait=` requests
 * cost no SQL query per request per tick (a counting wrapper of the store: the reads stay one per watcher read).
 * A second supervisor in this process on the fleet's SQLite file and Redis prefix, real HTTP, no worker.
 */
import pino from 'pino';
import type { Store } from '../../src/store/port';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { fileInspector, fleetFor, waitFor } from '../helpers/fleet';
import { httpRequest } from '../helpers/http';
import { openSse, type SseClient } from '../helpers/sse';

const redis = fileInspector();
const COUNTED = ['getTask', 'listTaskEventsAfter'] as const;
type Counted = (typeof COUNTED)[number];

/** The store, counting the calls of getTask and listTaskEventsAfter. */
function counting(store: Store): { store: Store; calls: Record<Counted, number> } {
  const calls: Record<Counted, number> = { getTask: 0, listTaskEventsAfter: 0 };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (!(COUNTED as readonly (string | symbol)[]).includes(prop)) return fn.bind(target);
      return (...args: unknown[]) => {
        calls[prop as Counted] += 1;
        return fn.apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

describe('streams and waits: keep-alive, and the cost of many waits', () => {
  const supervisors: Supervisor[] = [];
  const streams: SseClient[] = [];
  // Declared before the fleet's: the second supervisor stops before the fleet closes the store they share.
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await Promise.all(supervisors.splice(0).map((s) => s.stop()));
  });
  // Loops off: nothing runs the queued tasks. The watcher reads the log every 50 ms (its floor).
  const fleet = fleetFor(redis, { each: true, env: { TASKFLEET_WATCH_POLL_MS: '50' } });
  const auth = () => ({ authorization: `Bearer ${fleet().adminKey}` });

  const second = async (store: Store, keepAliveMs?: number): Promise<Supervisor> => {
    const sup = await buildSupervisor(fleet().config, {
      store,
      loops: false,
      listen: { port: 0 },
      log: pino({ level: 'silent' }),
      ...(keepAliveMs === undefined ? {} : { streams: { keepAliveMs } }),
    });
    supervisors.push(sup);
    return sup;
  };

  it('sends keep-alive comments on an idle task stream', async () => {
    const sup = await second(fleet().sup.store, 100);
    const t = await fleet().submit({ type: 'echo', payload: 'idle' });
    const stream = await openSse(sup.url, `/v1/tasks/${t.id}/events?follow=true`, auth());
    streams.push(stream);
    await stream.waitFor(1);
    await waitFor(() => stream.comments.length >= 3, 10_000, 'three keep-alive comments');
    expect(new Set(stream.comments)).toEqual(new Set(['keep-alive']));
    // Comments only: nothing happened to the task, and the stream is still open.
    expect(stream.events.map((e) => e.event)).toEqual(['submitted']);
    expect((await fleet().sup.store.getTask(t.id))?.status).toBe('queued');
  });

  it('sends keep-alive comments on an idle fleet stream', async () => {
    const sup = await second(fleet().sup.store, 100);
    const after = await fleet().sup.store.lastTaskEventSeq();
    const stream = await openSse(sup.url, `/v1/events?follow=true&after=${after}`, auth());
    streams.push(stream);
    await waitFor(() => stream.comments.length >= 2, 10_000, 'two keep-alive comments');
    expect(stream.events).toEqual([]);
  });

  it('fifty waiting requests cost no query per request per tick', async () => {
    const { store, calls } = counting(fleet().sup.store);
    const sup = await second(store);
    const tasks = await fleet().submitBatch(Array.from({ length: 50 }, (_, i) => ({ type: 'echo', payload: i })));
    const waits = tasks.map((t) => httpRequest(sup.url, 'GET', `/v1/tasks/${t.id}?wait=60`, undefined, auth()));
    await waitFor(() => sup.watcher.listeners === 50, 20_000, 'fifty waits registered');

    // A window of twenty watcher reads (each one listTaskEventsAfter, a read of the whole log for every waiter).
    const start = { ...calls };
    await waitFor(() => calls.listTaskEventsAfter - start.listTaskEventsAfter >= 20, 20_000, 'twenty watcher reads');
    const reads = calls.listTaskEventsAfter - start.listTaskEventsAfter;
    const taskReads = calls.getTask - start.getTask;
    // A query per request per tick would be 50 per read: here no task is read while nothing happens.
    expect(taskReads).toBe(0);
    expect(sup.watcher.listeners).toBe(50);

    // Cancelled through the fleet's supervisor: the second one learns it from the log, and answers every wait.
    for (const t of tasks) expect((await fleet().request('POST', `/v1/tasks/${t.id}/cancel`)).status).toBe(202);
    const answers = await Promise.all(waits);
    expect(answers.map((a) => a.body.status)).toEqual(tasks.map(() => 'cancelled'));
    // Answering reads each task once more, at most: still nothing like a query per request per tick.
    expect(calls.getTask - start.getTask).toBeLessThanOrEqual(50 + reads);
    expect(sup.watcher.listeners).toBe(0);
  });
});
