import { v7 as uuidv7 } from 'uuid';
import type { NewTask } from '../../src/store/port';
import { Fleet, waitFor } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';
import { openSse, type SseClient } from '../helpers/sse';

const auth = (fleet: Fleet) => ({ authorization: `Bearer ${fleet.adminKey}` });

describe('results without polling: ?wait= and the event streams, with a real worker', () => {
  let fleet: Fleet;
  const open: SseClient[] = [];
  const sse = async (path: string, headers: Record<string, string> = {}, base?: string) => {
    const client = await openSse(base ?? fleet.url, path, { ...auth(fleet), ...headers });
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_STREAM_STALL_MS: '300' } });
    await fleet.spawnWorker({ id: 'w1', concurrency: 4 });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(() => fleet?.stop());

  it('answers a wait once the result is recorded, well before the wait ends', async () => {
    const t = await fleet.submit({ type: 'sleep', payload: { ms: 400 } });
    const asked = Date.now();
    const res = await fleet.request('GET', `/v1/tasks/${t.id}?wait=30`);
    const answered = Date.now();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: t.id, status: 'succeeded' });
    // The answer came after the result was recorded, and not from the end of the 30 s wait.
    expect(Date.parse(res.body.finishedAt)).toBeLessThanOrEqual(answered);
    expect(answered - asked).toBeLessThan(20_000);
  });

  it('answers a terminal task at once, and a wait that runs out with the current state', async () => {
    const done = await fleet.submit({ type: 'echo', payload: 1 });
    await fleet.waitTerminal([done.id]);
    expect((await fleet.request('GET', `/v1/tasks/${done.id}?wait=60`)).body.status).toBe('succeeded');

    const slow = await fleet.submit({ type: 'sleep', payload: { ms: 10_000 } });
    const res = await fleet.request('GET', `/v1/tasks/${slow.id}?wait=1`);
    expect(res.status).toBe(200);
    expect(['queued', 'running']).toContain(res.body.status);
    await fleet.request('POST', `/v1/tasks/${slow.id}/cancel`);
  });

  it('refuses a wait outside 1..60 seconds, naming wait', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 2 });
    for (const wait of ['0', '61', '1.5', 'soon']) {
      expectProblem(await fleet.request('GET', `/v1/tasks/${t.id}?wait=${wait}`), 400, { field: 'wait' });
    }
  });

  it('answers a wait held by a second supervisor when the worker reports to SQL', async () => {
    const second = await fleet.startSecondSupervisor();
    try {
      const t = await fleet.submit({ type: 'sleep', payload: { ms: 300 } });
      const res = await second.request('GET', `/v1/tasks/${t.id}?wait=30`, undefined, auth(fleet));
      expect(res.body).toMatchObject({ id: t.id, status: 'succeeded' });
    } finally {
      await second.close();
    }
  });

  it('streams a task to its end, and a resume with Last-Event-ID has no gap and no repeat', async () => {
    const t = await fleet.submit({ type: 'fail', payload: { times: 2 }, maxAttempts: 3 });
    const first = await sse(`/v1/tasks/${t.id}/events?follow=true`);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(first.headers['x-accel-buffering']).toBe('no');
    const head = await first.waitFor(3);
    first.close();

    const rest = await sse(`/v1/tasks/${t.id}/events?follow=true`, { 'Last-Event-ID': head[2]!.id! });
    expect(await rest.closed).toBe('end');
    const seen = [...head, ...rest.events].map((e) => Number(e.id));
    const stored = (await fleet.sup.store.listTaskEvents(t.id)).map((e) => e.seq);
    expect(seen).toEqual(stored);
    expect(rest.events.map((e) => e.event).slice(-1)).toEqual(['succeeded']);
    expect(rest.events.every((e) => e.data.seq === Number(e.id))).toBe(true);
  });

  it('ends at once a stream resumed after the terminal event, and serves JSON without follow', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 3 });
    await fleet.waitTerminal([t.id]);
    const events = await fleet.sup.store.listTaskEvents(t.id);
    const last = String(events[events.length - 1]!.seq);
    const resumed = await sse(`/v1/tasks/${t.id}/events?follow=true&lastEventId=${last}`);
    expect(await resumed.closed).toBe('end');
    expect(resumed.events).toEqual([]);
    const json = await fleet.request('GET', `/v1/tasks/${t.id}/events`);
    expect(json.body.events.map((e: { seq: number }) => e.seq)).toEqual(events.map((e) => e.seq));
  });

  it('filters the fleet stream by type, status and agent, each event carrying its task type', async () => {
    const stream = await sse('/v1/events?follow=true&type=echo&status=succeeded&agent=w1');
    const tasks = [];
    for (let i = 0; i < 3; i++) {
      tasks.push(await fleet.submit({ type: 'echo', payload: i }));
      tasks.push(await fleet.submit({ type: 'sleep', payload: { ms: 1 } }));
    }
    const echoes = tasks.filter((t) => t.type === 'echo').map((t) => t.id);
    const got = await stream.waitFor(3);
    expect(got.map((e) => e.data.taskId).sort()).toEqual([...echoes].sort());
    expect(got.every((e) => e.event === 'succeeded' && e.data.type === 'echo' && e.data.agentId === 'w1')).toBe(true);

    const json = await fleet.request(
      'GET',
      `/v1/events?after=${Math.max(0, Number(got[0]!.id) - 100)}&limit=1000&type=sleep`,
    );
    expect(json.status).toBe(200);
    expect(json.body.events.length).toBeGreaterThan(0);
    expect(json.body.events.every((e: { type: string }) => e.type === 'sleep')).toBe(true);
    expect(json.body.nextCursor).toBeGreaterThanOrEqual(Number(got[2]!.id));
  });

  it('resumes the fleet stream after Last-Event-ID without gap or repeat', async () => {
    const from = await fleet.sup.store.lastTaskEventSeq();
    const t = await fleet.submit({ type: 'echo', payload: 'resume' });
    await fleet.waitTerminal([t.id]);
    const a = await sse(`/v1/events?follow=true&after=${from}`);
    const head = await a.waitFor(2);
    a.close();
    const b = await sse('/v1/events?follow=true', { 'Last-Event-ID': head[1]!.id! });
    const ids = (await fleet.sup.store.listTaskEventsAfter(from, 100)).map((e) => e.seq);
    await b.waitFor(ids.length - 2);
    expect([...head, ...b.events.slice(0, ids.length - 2)].map((e) => Number(e.id))).toEqual(ids);
  });
});

describe('the watcher without notifications, and slow readers (no worker)', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start({ loops: false, env: { TASKFLEET_STREAM_STALL_MS: '300' } });
  });
  afterAll(() => fleet?.stop());

  it('answers a wait by its periodic read when the transition was never published', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 'silent' });
    const waiting = fleet.request('GET', `/v1/tasks/${t.id}?wait=30`);
    await waitFor(async () => fleet.sup.watcher.listeners > 0, 10_000, 'the wait to register');
    // Written straight to the store: nothing rings the watcher.
    const now = Date.now();
    const claim = await fleet.sup.store.claimTask({ taskId: t.id, attempt: 0, agentId: 'ghost', now, leaseMs: 60_000 });
    expect(claim.claimed).toBe(true);
    expect(await fleet.sup.store.completeTask({ taskId: t.id, attempt: 1, agentId: 'ghost', now, result: 7 })).toBe(
      true,
    );
    const res = await waiting;
    expect(res.body).toMatchObject({ id: t.id, status: 'succeeded', result: 7 });
  });

  it('disconnects a reader that stops reading, and forgets it', async () => {
    const now = Date.now();
    const tasks: NewTask[] = Array.from({ length: 30_000 }, () => ({
      id: uuidv7(),
      type: 'echo',
      requiredCapabilities: [],
      priority: 'normal',
      payload: null,
      maxAttempts: 1,
      timeoutSeconds: null,
      notBefore: now + 3_600_000,
      deadline: null,
      idempotencyKey: null,
      requestHash: null,
      submittedBy: null,
      createdAt: now,
    }));
    for (let i = 0; i < tasks.length; i += 1000) await fleet.sup.store.insertTasks(tasks.slice(i, i + 1000));
    const slow = await openSse(fleet.url, '/v1/events?follow=true&after=0', auth(fleet));
    slow.pause();
    await waitFor(async () => fleet.sup.watcher.listeners === 0, 30_000, 'the slow stream to be dropped');
    slow.resume();
    // What reaches it is cut short: never the end of a stream the server finished.
    expect(await slow.closed).toBe('cut');
    expect(slow.events.length).toBeLessThan(tasks.length);
  });

  it('ends open streams when the supervisor stops', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 'shutdown' });
    const stream = await openSse(fleet.url, `/v1/tasks/${t.id}/events?follow=true`, auth(fleet));
    await stream.waitFor(1);
    await fleet.sup.stop();
    expect(['end', 'cut']).toContain(await stream.closed);
    await fleet.startSupervisor(false);
  });
});
