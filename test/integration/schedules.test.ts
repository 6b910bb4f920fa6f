/**
 * Schedules end to end: the API (validation, pause, resume, runs, audit) and the firing by two supervisors on
 * one store, first with a controlled clock and the loops driven by hand (a daylight-saving change, downtime
 * with each catchUp, overlap skip), then with the real loops and an every-second schedule.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Config } from '../../src/config/config';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { slotIdempotencyKey } from '../../src/domain/schedule';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { fileInspector, keysUnder, testConfig, waitFor } from '../helpers/fleet';
import { expectProblem, httpRequest } from '../helpers/http';

const redis = fileInspector();

class ManualClock {
  constructor(public t: number) {}
  now = () => this.t;
  set(iso: string) {
    this.t = Date.parse(iso);
  }
}

/** Two supervisors on one SQLite store and Redis prefix; the first owns the store. */
interface Pair {
  config: Config;
  dir: string;
  a: Supervisor;
  b: Supervisor;
  request(method: string, p: string, body?: unknown): ReturnType<typeof httpRequest>;
}

let pair: Pair | undefined;

async function startPair(opts: { clock?: ManualClock; env?: Record<string, string> } = {}): Promise<Pair> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tf-sched-'));
  const config = testConfig(dir, opts.env);
  const log = pino({ level: process.env.TASKFLEET_TEST_LOG ?? 'silent' });
  const loops = opts.clock === undefined;
  const clock = opts.clock ? { clock: opts.clock } : {};
  const a = await buildSupervisor(config, { log, loops, ...clock });
  const b = await buildSupervisor(config, { log, loops, ...clock, store: a.store, listen: { port: 0 } });
  const auth = { authorization: `Bearer ${config.adminApiKey ?? ''}` };
  pair = { config, dir, a, b, request: (method, p, body) => httpRequest(a.url, method, p, body, auth) };
  return pair;
}

afterEach(async () => {
  const p = pair;
  pair = undefined;
  if (!p) return;
  await p.b.stop();
  await p.a.stop();
  await deleteKeysUnder(p.config.redisUrl, p.config.redisPrefix);
  expect(await keysUnder(redis, p.config.redisPrefix)).toEqual([]);
  rmSync(p.dir, { recursive: true, force: true });
});

/** Both supervisors take a pass at once, as their loops would. */
async function bothPass(p: Pair): Promise<void> {
  await Promise.all([p.a.scheduler.pass(), p.b.scheduler.pass()]);
}

async function runs(p: Pair, name: string) {
  const res = await p.request('GET', `/v1/schedules/${name}/runs?limit=100`);
  expect(res.status).toBe(200);
  return (res.body as { runs: Array<{ slotAt: string; taskId: string | null; skippedReason: string | null }> }).runs
    .slice()
    .reverse();
}

const create = (p: Pair, body: Record<string, unknown>) =>
  p.request('POST', '/v1/schedules', { task: { type: 'echo', payload: { n: 1 } }, ...body });

describe('the schedules API', () => {
  it('validates the cron expression, the zone and the task, naming the field; refuses a second name', async () => {
    const p = await startPair({ clock: new ManualClock(Date.parse('2026-05-01T10:00:00Z')) });
    expectProblem(await create(p, { name: 'bad', cron: '61 * * * *' }), 400, { field: 'cron' });
    expectProblem(await create(p, { name: 'bad', cron: '* * * * *', timezone: 'Mars/Base' }), 400, {
      field: 'timezone',
    });
    expectProblem(await create(p, { name: 'bad', cron: '* * * * *', task: { payload: {} } }), 400, {
      field: 'task.type',
    });
    expectProblem(await create(p, { name: 'Bad Name', cron: '* * * * *' }), 400, { field: 'name' });
    const ok = await create(p, { name: 'hourly', cron: '0 * * * *', timezone: 'Europe/Berlin' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ name: 'hourly', paused: false, nextAt: '2026-05-01T11:00:00.000Z' });
    expectProblem(await create(p, { name: 'hourly', cron: '* * * * *' }), 409);

    expect((await p.request('POST', '/v1/schedules/hourly/pause')).body).toMatchObject({ paused: true });
    const resumed = await p.request('POST', '/v1/schedules/hourly/resume');
    expect(resumed.body).toMatchObject({ paused: false, nextAt: '2026-05-01T11:00:00.000Z' });
    expect((await p.request('GET', '/v1/schedules')).body).toMatchObject({ schedules: [{ name: 'hourly' }] });
    expect((await p.request('DELETE', '/v1/schedules/hourly')).status).toBe(204);
    expectProblem(await p.request('GET', '/v1/schedules/hourly'), 404);

    const audit = await p.request('GET', '/v1/audit?limit=10');
    const actions = (audit.body as { entries: Array<{ action: string }> }).entries.map((e) => e.action);
    expect(actions).toEqual(['schedule.delete', 'schedule.resume', 'schedule.pause', 'schedule.create']);
  });
});

describe('firing with two supervisors and a controlled clock', () => {
  it('fires a daily 02:30 Europe/Berlin once per slot across the spring change', async () => {
    const clock = new ManualClock(Date.parse('2026-03-27T12:00:00Z'));
    const p = await startPair({ clock });
    expect((await create(p, { name: 'daily', cron: '30 2 * * *', timezone: 'Europe/Berlin' })).status).toBe(201);
    // Every half hour for three days: both supervisors pass at each step.
    for (let t = clock.t; t <= Date.parse('2026-03-30T12:00:00Z'); t += 30 * 60_000) {
      clock.t = t;
      await bothPass(p);
    }
    const fired = await runs(p, 'daily');
    expect(fired.map((r) => r.slotAt)).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    const tasks = await p.a.store.listTasks({ limit: 100 });
    expect(tasks).toHaveLength(3);
    expect(new Set(fired.map((r) => r.taskId))).toEqual(new Set(tasks.map((t) => t.id)));
  });

  it.each([
    ['none', [{ slotAt: '2026-05-01T10:01:00.000Z', taskId: null, skippedReason: 'missed' }]],
    ['one', [{ slotAt: '2026-05-01T10:01:00.000Z', taskId: expect.any(String), skippedReason: null }]],
  ])('after downtime, catchUp %s', async (catchUp, afterDowntime) => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const p = await startPair({ clock });
    await create(p, { name: 'minutely', cron: '* * * * *', catchUp });
    clock.set('2026-05-01T10:20:30Z'); // 20 slots went by with no supervisor up
    await bothPass(p);
    expect(await runs(p, 'minutely')).toMatchObject(afterDowntime);
    expect((await p.a.store.getSchedule('minutely'))?.nextAt).toBe(Date.parse('2026-05-01T10:21:00Z'));
    clock.set('2026-05-01T10:21:01Z'); // on time again: fired
    await bothPass(p);
    const all = await runs(p, 'minutely');
    expect(all.at(-1)).toMatchObject({ slotAt: '2026-05-01T10:21:00.000Z', skippedReason: null });
    expect(await p.a.store.listTasks({ limit: 100 })).toHaveLength(all.filter((r) => r.taskId).length);
  });

  it('overlap skip: skips while the last task is not terminal, fires again once it is', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const p = await startPair({ clock });
    await create(p, { name: 'exclusive', cron: '* * * * *', overlap: 'skip' });
    clock.set('2026-05-01T10:01:00Z');
    await bothPass(p);
    clock.set('2026-05-01T10:02:00Z'); // the first task is still queued: no worker runs it
    await bothPass(p);
    const [first] = await runs(p, 'exclusive');
    expect((await p.request('POST', `/v1/tasks/${first?.taskId ?? ''}/cancel`)).status).toBe(202);
    clock.set('2026-05-01T10:03:00Z');
    await bothPass(p);
    const all = await runs(p, 'exclusive');
    expect(all.map((r) => [r.slotAt.slice(11, 16), r.skippedReason])).toEqual([
      ['10:01', null],
      ['10:02', 'overlap'],
      ['10:03', null],
    ]);
    const task = await p.a.store.getTask(all[2]?.taskId ?? '');
    expect(task?.idempotencyKey).toContain(slotIdempotencyKey('exclusive', Date.parse('2026-05-01T10:03:00Z')));
  });
});

describe('firing with two supervisors and their loops', () => {
  it('gives each slot of an every-second schedule exactly one task', async () => {
    const p = await startPair({ env: { TASKFLEET_SCHEDULER_INTERVAL_MS: '100' } });
    expect((await create(p, { name: 'every-second', cron: '*/1 * * * * *' })).status).toBe(201);
    await waitFor(async () => (await p.a.store.listScheduleRuns({ name: 'every-second', limit: 10 })).length >= 4);
    expect((await p.request('POST', '/v1/schedules/every-second/pause')).status).toBe(200);
    // A pass that read the schedule before the pause may still submit its slot; its advance then fails.
    await Promise.all([p.a.scheduler.pass(), p.b.scheduler.pass()]);
    const fired = await runs(p, 'every-second');
    const tasks = await p.a.store.listTasks({ limit: 1000 });
    const bySlot = new Map<string, string[]>();
    for (const t of tasks) {
      const slot = /schedule:every-second:(.*)$/.exec(t.idempotencyKey ?? '')?.[1] ?? 'none';
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), t.id]);
    }
    for (const ids of bySlot.values()) expect(ids).toHaveLength(1);
    for (const r of fired.filter((x) => x.taskId)) expect(bySlot.get(r.slotAt)).toEqual([r.taskId]);
    expect(fired.filter((r) => r.taskId).length).toBeGreaterThanOrEqual(4);
  }, 20_000);
});
