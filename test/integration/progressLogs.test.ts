/**
 * Progress and log lines of real worker processes, read over HTTP: visible while the task runs (a handler that
 * reports, then waits on a gate file), written at most once a second with the last value landing, capped per
 * attempt with the drops counted, refused for a zombie attempt, never kept for a sensitive task, and scoped to
 * the caller's own tasks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dataKeyEnv } from '../../src/config/config';
import { MAX_LOG_LINES_PER_ATTEMPT } from '../../src/domain/taskLog';
import type { TelemetryItem } from '../../src/telemetry/telemetry';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { Fleet, fileInspector, ROOT, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { bearer, expectProblem, ISO } from '../helpers/http';
import { openSse } from '../helpers/sse';

const HANDLERS = path.join(ROOT, 'test', 'fixtures', 'reporting.js');
const DATA_KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const redis = fileInspector();

interface LogsBody {
  taskId: string;
  attempt: number;
  lines: Array<{ at: string; level: string; message: string; fields?: unknown }>;
  dropped: { lines: number; bytes: number };
}

describe('progress and logs of a running task, through the API', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;
  let telemetryFile: string;
  const f = () => fleet!;
  const gateFile = (name: string) => path.join(f().dir, `${name}.gate`);
  const task = async (id: string) => (await f().request('GET', `/v1/tasks/${id}`)).body as Record<string, unknown>;
  const logs = async (id: string, query = '') =>
    (await f().request('GET', `/v1/tasks/${id}/logs${query}`)).body as LogsBody;
  /** The worker's store calls named `name` inside the task's trace (TASKFLEET_TELEMETRY_FILE). */
  const storeCalls = async (id: string, name: string) => {
    const traceId = (await f().sup.store.getTask(id))?.traceParent?.split('-')[1];
    return fs
      .readFileSync(telemetryFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as TelemetryItem)
      .filter((i) => i.kind === 'dependency' && i.name === name && i.traceId === traceId).length;
  };

  beforeAll(async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_DATA_KEY: DATA_KEY } });
    keys = await makeKeys(fleet);
    telemetryFile = path.join(fleet.dir, 'worker-telemetry.jsonl');
    await fleet.spawnWorker({
      id: 'reporting-w1',
      args: ['--handlers', HANDLERS],
      env: { ...dataKeyEnv(fleet.config), TASKFLEET_TELEMETRY_FILE: telemetryFile },
    });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('shows progress and log lines while the task runs, and the last of them once it is done', async () => {
    const t = await f().submit({ type: 'report', payload: { gate: gateFile('visible'), steps: 3, lines: 2 } });
    expect(t).toMatchObject({ progress: null, progressAt: null });
    await waitFor(async () => (await logs(t.id)).lines.length === 4, 10_000, 'the lines of the running attempt');
    await waitFor(async () => (await task(t.id)).progressAt !== null, 10_000, 'the progress of the running attempt');
    const running = await task(t.id);
    expect(running).toMatchObject({ status: 'running', attempt: 1, progressAt: expect.stringMatching(ISO) });
    const seen = await logs(t.id);
    expect(seen).toEqual({
      taskId: t.id,
      attempt: 1,
      lines: [
        { at: expect.stringMatching(ISO), level: 'info', message: 'started', fields: { steps: 3 } },
        { at: expect.stringMatching(ISO), level: 'warn', message: 'a warning' },
        { at: expect.stringMatching(ISO), level: 'debug', message: 'line 0' },
        { at: expect.stringMatching(ISO), level: 'debug', message: 'line 1' },
      ],
      dropped: { lines: 0, bytes: 0 },
    });
    fs.writeFileSync(gateFile('visible'), '');
    const [done] = await f().waitTerminal([t.id]);
    expect(done?.status).toBe('succeeded');
    expect(await task(t.id)).toMatchObject({
      status: 'succeeded',
      progress: 100,
      progressAt: expect.stringMatching(ISO),
    });
    expect((await logs(t.id, '?attempt=1')).lines.map((l) => l.message)).toEqual([
      'started',
      'a warning',
      'line 0',
      'line 1',
      'done',
    ]);
    expect(await logs(t.id, '?attempt=2')).toEqual({
      taskId: t.id,
      attempt: 2,
      lines: [],
      dropped: { lines: 0, bytes: 0 },
    });
  });

  it("streams a running task's progress as events without an id, and ends after the terminal event", async () => {
    const t = await f().submit({ type: 'report', payload: { gate: gateFile('streamed'), steps: 2, lines: 0 } });
    await waitFor(async () => (await task(t.id)).progressAt !== null, 10_000, 'the first progress');
    const stream = await openSse(f().url, `/v1/tasks/${t.id}/events?follow=true`, bearer(f().adminKey));
    // On connect: the events so far, then the current progress (state, so no id: a resume does not skip it).
    const [first] = (await stream.waitFor(3)).filter((e) => e.event === 'progress');
    expect(first).toEqual({ event: 'progress', data: expect.objectContaining({ taskId: t.id }) });
    fs.writeFileSync(gateFile('streamed'), '');
    expect(await stream.closed).toBe('end');
    const progress = stream.events.filter((e) => e.event === 'progress');
    expect(progress.every((e) => e.id === undefined && e.data.taskId === t.id)).toBe(true);
    expect(stream.events[stream.events.length - 1]).toMatchObject({ event: 'succeeded', id: expect.any(String) });
  });

  it('writes progress at most once a second, and the last value reported lands', async () => {
    const t = await f().submit({ type: 'report', payload: { gate: gateFile('burst'), steps: 1000, lines: 0 } });
    await waitFor(
      async () => JSON.stringify((await task(t.id)).progress) === JSON.stringify({ step: 1000, of: 1000 }),
      10_000,
      'the last of 1000 progress values',
    );
    // 1000 values in one turn of the event loop: the first written at once, the last a second later.
    expect(await storeCalls(t.id, 'setTaskProgress')).toBe(2);
    expect((await task(t.id)).status).toBe('running');
    fs.writeFileSync(gateFile('burst'), '');
    await f().waitTerminal([t.id]);
    expect((await task(t.id)).progress).toBe(100);
    expect(await storeCalls(t.id, 'setTaskProgress')).toBe(3);
  });

  it('keeps at most 200 lines of an attempt and counts the ones it dropped', async () => {
    const lines = 300;
    const t = await f().submit({ type: 'report', payload: { gate: gateFile('capped'), steps: 0, lines } });
    fs.writeFileSync(gateFile('capped'), '');
    await f().waitTerminal([t.id]);
    const body = await logs(t.id);
    expect(body.lines).toHaveLength(MAX_LOG_LINES_PER_ATTEMPT);
    expect(body.lines.at(-1)?.message).toBe(`line ${MAX_LOG_LINES_PER_ATTEMPT - 3}`);
    // Two lines before the loop, 300 in it and 'done': 303 written, 200 kept.
    const droppedLines = lines + 3 - MAX_LOG_LINES_PER_ATTEMPT;
    const droppedBytes =
      Array.from({ length: lines - (MAX_LOG_LINES_PER_ATTEMPT - 2) }, (_, i) => `line ${i + 198}`.length).reduce(
        (a, b) => a + b,
        0,
      ) + 'done'.length;
    expect(body.dropped).toEqual({ lines: droppedLines, bytes: droppedBytes });
    // A few batches, not a write per line.
    expect(await storeCalls(t.id, 'appendTaskLogs')).toBeLessThanOrEqual(10);
  });

  it('keeps neither the progress nor the lines of a sensitive task', async () => {
    const payload = { gate: gateFile('sensitive'), steps: 2, lines: 2 };
    const t = await f().submit({ type: 'report', payload, sensitive: true });
    fs.writeFileSync(gateFile('sensitive'), '');
    await f().waitTerminal([t.id]);
    expect(await task(t.id)).toMatchObject({ status: 'succeeded', progress: null, progressAt: null });
    expect(await logs(t.id)).toEqual({ taskId: t.id, attempt: 1, lines: [], dropped: { lines: 0, bytes: 0 } });
    expect(await storeCalls(t.id, 'setTaskProgress')).toBe(0);
    expect(await storeCalls(t.id, 'appendTaskLogs')).toBe(0);
  });

  it('shows a task’s logs only to whoever may see the task, and refuses a bad attempt', async () => {
    const payload = { gate: gateFile('scoped'), steps: 0, lines: 0 };
    const mine = await f().submit({ type: 'report', payload }, {}, { key: keys.submitter.key });
    fs.writeFileSync(gateFile('scoped'), '');
    await f().waitTerminal([mine.id]);
    const own = await f().request('GET', `/v1/tasks/${mine.id}/logs`, undefined, bearer(keys.submitter.key));
    expect(own.status).toBe(200);
    expect((own.body as LogsBody).lines.map((l) => l.message)).toEqual(['started', 'a warning', 'done']);
    expect((await f().request('GET', `/v1/tasks/${mine.id}/logs`, undefined, bearer(keys.reader.key))).status).toBe(
      200,
    );
    expectProblem(await f().request('GET', `/v1/tasks/${mine.id}/logs`, undefined, bearer(keys.submitter2.key)), 404);
    expectProblem(await f().request('GET', `/v1/tasks/${mine.id}/logs?attempt=0`), 400, { field: 'attempt' });
    expectProblem(await f().request('GET', '/v1/tasks/no-such-task/logs'), 404);
  });

  it('refuses the lines of a zombie attempt: only what it sent while it held the task is kept', async () => {
    // Attempt 1 sends a line, then blocks its worker past the 1.5 s lease; the task is taken back (by the lease
    // reaper or the heartbeat enforcer, which also holds the silent worker) and another worker runs attempt 2.
    // Attempt 1's later line and progress are refused. Last: the first worker may stay held.
    await f().spawnWorker({ id: 'reporting-w2', args: ['--handlers', HANDLERS], env: dataKeyEnv(f().config) });
    const t = await f().submit({ type: 'zombie-logger', payload: { ms: 4000 } });
    const [done] = await f().waitTerminal([t.id], 20_000);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect((await logs(t.id, '?attempt=1')).lines.map((l) => l.message)).toEqual(['attempt 1 before the stall']);
    expect((await logs(t.id)).lines.map((l) => l.message)).toEqual(['attempt 2']);
    // Progress belongs to the attempt that ran last (attempt 2 reported none; attempt 1's 99 was refused).
    expect(await task(t.id)).toMatchObject({ progress: null, progressAt: null });
  }, 30_000);
});
