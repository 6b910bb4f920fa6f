/**
 * The task API over real HTTP against a real supervisor (SQLite file + Redis under a private prefix), with
 * background loops off and no workers: every assertion on a response is paired with one on the store (and,
 * for dispatch, on the BullMQ job in Redis), so "nothing stored" is proven, not assumed.
 */
import type { Redis } from 'ioredis';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { QUEUE_PRIORITY } from '../../src/domain/task';
import { Fleet, inspector, keysUnder, stopAndVerifyClean } from '../helpers/fleet';
import { ISO, UUID, expectProblem } from '../helpers/http';

let redis: Redis;
let fleet: Fleet | undefined;

beforeAll(() => {
  redis = inspector();
});

afterAll(async () => {
  await redis.quit();
});

afterEach(async () => {
  const f = fleet;
  fleet = undefined;
  await stopAndVerifyClean(f, redis);
});

async function start(env: Record<string, string> = {}): Promise<Fleet> {
  fleet = await Fleet.start({ loops: false, env });
  return fleet;
}

/** The fleet stored nothing: no task, no route, and not a single key in Redis. */
async function expectNothingStored(f: Fleet): Promise<void> {
  expect(await f.storedTaskCount()).toBe(0);
  expect(await f.sup.store.listRoutes()).toEqual([]);
  expect(await keysUnder(redis, f.config.redisPrefix)).toEqual([]);
}

describe('POST /v1/tasks', () => {
  it('creates a queued task with defaults, stores it and enqueues a prioritised BullMQ job', async () => {
    const f = await start();
    const before = Date.now();
    const res = await f.request('POST', '/v1/tasks', { type: 'echo', payload: { hello: 'world', n: [1, 2] } });
    const after = Date.now();

    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const t = res.body;
    expect(t.id).toMatch(UUID);
    expect(res.headers.get('location')).toBe(`/v1/tasks/${t.id}`);
    expect(t).toMatchObject({
      type: 'echo',
      status: 'queued',
      routable: false,
      attempt: 0,
      maxAttempts: f.config.defaultMaxAttempts,
      requiredCapabilities: [],
      priority: 'normal',
      payload: { hello: 'world', n: [1, 2] },
    });
    expect(t.createdAt).toMatch(ISO);
    const createdAt = Date.parse(t.createdAt);
    expect(createdAt).toBeGreaterThanOrEqual(before);
    expect(createdAt).toBeLessThanOrEqual(after);
    expect(t.notBefore).toBe(t.createdAt);
    for (const absent of [
      'result',
      'error',
      'agentId',
      'deadline',
      'startedAt',
      'finishedAt',
      'leaseExpiresAt',
      'timeoutSeconds',
    ]) {
      expect(t).not.toHaveProperty(absent);
    }

    // The store holds exactly this task, with its `submitted` event.
    const stored = await f.storedTasks();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      id: t.id,
      type: 'echo',
      status: 'queued',
      attempt: 0,
      maxAttempts: f.config.defaultMaxAttempts,
      priority: 'normal',
      requiredCapabilities: [],
      payload: { hello: 'world', n: [1, 2] },
      idempotencyKey: null,
      createdAt,
      notBefore: createdAt,
      deadline: null,
    });
    expect((await f.sup.store.listTaskEvents(t.id)).map((e) => e.kind)).toEqual(['submitted']);

    // The BullMQ job exists under the route key, carries a pointer (never the task) and has a priority.
    const job = await redis.hgetall(f.jobKey(t));
    expect(job.name).toBe('echo');
    // A pointer into SQL and the task's trace, never the task itself.
    const withTrace = await f.sup.store.getTask(t.id);
    expect(JSON.parse(job.data ?? 'null')).toEqual({ taskId: t.id, attempt: 0, traceParent: withTrace?.traceParent });
    expect(withTrace?.traceParent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(job.priority).toBe(String(QUEUE_PRIORITY.normal));
    expect(await redis.zscore(f.queueKey('echo', [], 'delayed'), `${t.id}-0`)).toBeNull();
  });

  it('stores and echoes every optional field, and maps each priority onto the BullMQ job', async () => {
    const f = await start();
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    const res = await f.request('POST', '/v1/tasks', {
      type: 'sleep',
      payload: 'plain string',
      priority: 'critical',
      maxAttempts: 7,
      timeoutSeconds: 42,
      deadline,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      priority: 'critical',
      maxAttempts: 7,
      timeoutSeconds: 42,
      deadline,
      payload: 'plain string',
    });
    const stored = await f.sup.store.getTask(res.body.id);
    expect(stored).toMatchObject({
      priority: 'critical',
      maxAttempts: 7,
      timeoutSeconds: 42,
      deadline: Date.parse(deadline),
    });
    expect((await redis.hgetall(f.jobKey(res.body))).priority).toBe(String(QUEUE_PRIORITY.critical));

    const low = await f.submit({ type: 'sleep', priority: 'low' });
    expect((await redis.hgetall(f.jobKey(low))).priority).toBe(String(QUEUE_PRIORITY.low));
    expect(await f.storedTaskCount()).toBe(2);
  });

  it('normalises required capabilities (trim, lowercase, dedupe, sort) and routes on the normalised set', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', { type: 'echo', requiredCapabilities: [' GPU ', 'cuda', 'gpu'] });
    expect(res.status).toBe(201);
    expect(res.body.requiredCapabilities).toEqual(['cuda', 'gpu']);
    expect((await f.sup.store.getTask(res.body.id))?.requiredCapabilities).toEqual(['cuda', 'gpu']);
    expect(await f.sup.store.listRoutes()).toEqual([{ type: 'echo', capabilities: ['cuda', 'gpu'] }]);
    const key = `${f.config.redisPrefix}:echo~cuda+gpu:${res.body.id}-0`;
    expect(f.jobKey(res.body)).toBe(key);
    expect(await redis.exists(key)).toBe(1);
  });
});

describe('trace context, with telemetry off', () => {
  it('makes every task a child of the request trace: the caller’s traceparent, else the one answered', async () => {
    const f = await start();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const given = await f.request(
      'POST',
      '/v1/tasks',
      { type: 'echo' },
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    expect(given.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-`));
    const batch = await f.request('POST', '/v1/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo' }] });
    const answered = /^00-([0-9a-f]{32})-/.exec(batch.headers.get('traceparent') ?? '')?.[1];
    expect(answered).toMatch(/^[0-9a-f]{32}$/);
    const traceOf = async (id: string) => (await f.sup.store.getTask(id))?.traceParent?.split('-')[1];
    expect(await traceOf(given.body.id)).toBe(traceId);
    for (const t of batch.body.tasks) expect(await traceOf(t.id)).toBe(answered);
  });
});

describe('Idempotency-Key', () => {
  it('replays the same key with the same body as 200 with the same task, storing one task and one job', async () => {
    const f = await start();
    const body = { type: 'echo', payload: { a: 1, b: 2 } };
    const first = await f.request('POST', '/v1/tasks', body, { 'Idempotency-Key': 'order-42' });
    expect(first.status).toBe(201);
    const second = await f.request('POST', '/v1/tasks', body, { 'Idempotency-Key': 'order-42' });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(`/v1/tasks/${first.body.id}`);
    expect(second.body).toMatchObject({ status: 'queued', attempt: 0, payload: { a: 1, b: 2 } });

    // The same JSON with its keys in another order is the same request.
    const reordered = await f.request('POST', '/v1/tasks', '{"payload":{"b":2,"a":1},"type":"echo"}', {
      'Idempotency-Key': 'order-42',
    });
    expect(reordered.status).toBe(200);
    expect(reordered.body.id).toBe(first.body.id);

    const stored = await f.storedTasks();
    expect(stored.map((t) => t.id)).toEqual([first.body.id]);
    expect((await f.sup.store.listTaskEvents(first.body.id)).map((e) => e.kind)).toEqual(['submitted']);
    const jobs = (await keysUnder(redis, f.config.redisPrefix)).filter((k) => /-\d+$/.test(k));
    expect(jobs).toEqual([f.jobKey(first.body)]);
  });

  it('rejects the same key with a different body as 409 problem+json and keeps the original task', async () => {
    const f = await start();
    const first = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 1 }, { 'Idempotency-Key': 'k-1' });
    expect(first.status).toBe(201);
    const conflict = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 2 }, { 'Idempotency-Key': 'k-1' });
    expectProblem(conflict, 409, { code: 'conflict' });
    const stored = await f.storedTasks();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: first.body.id, payload: 1 });
  });

  it('answers concurrent requests with one key with one 201 and the rest 200, all the same task', async () => {
    const f = await start();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        f.request('POST', '/v1/tasks', { type: 'echo', payload: 'p' }, { 'Idempotency-Key': 'par' }),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect((await f.storedTasks()).map((t) => t.id)).toEqual([...ids]);
  });

  it('creates different tasks for different keys', async () => {
    const f = await start();
    const body = { type: 'echo', payload: 'same' };
    const a = await f.request('POST', '/v1/tasks', body, { 'Idempotency-Key': 'key-a' });
    const b = await f.request('POST', '/v1/tasks', body, { 'Idempotency-Key': 'key-b' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
    expect((await f.storedTasks()).map((t) => t.id).sort()).toEqual([a.body.id, b.body.id].sort());
  });

  it('rejects an invalid key (with a space) as 400 naming the header, storing nothing', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', { type: 'echo' }, { 'Idempotency-Key': 'has space' });
    expectProblem(res, 400, { code: 'validation_failed', field: 'Idempotency-Key' });
    await expectNothingStored(f);
  });
});

describe('validation: a 4xx problem naming the field, and nothing stored', () => {
  const JSON_TYPE = { 'content-type': 'application/json' };
  const future = () => new Date(Date.now() + 3_600_000).toISOString();
  const past = () => new Date(Date.now() - 60_000).toISOString();

  const cases: Array<[string, () => unknown, Record<string, string>, number, string]> = [
    ['malformed JSON', () => '{"type": "echo",', JSON_TYPE, 400, '(body)'],
    ['a body that is an array', () => [{ type: 'echo' }], {}, 400, '(body)'],
    ['an unknown field', () => ({ type: 'echo', priorty: 'high' }), {}, 400, 'priorty'],
    ['a missing type', () => ({ payload: { x: 1 } }), {}, 400, 'type'],
    ['a type that is not a token', () => ({ type: 'Echo Task' }), {}, 400, 'type'],
    [
      'an invalid capability token',
      () => ({ type: 'echo', requiredCapabilities: ['gpu', 'no spaces!'] }),
      {},
      400,
      'requiredCapabilities[1]',
    ],
    ['a negative delaySeconds', () => ({ type: 'echo', delaySeconds: -1 }), {}, 400, 'delaySeconds'],
    ['a bad priority', () => ({ type: 'echo', priority: 'urgent' }), {}, 400, 'priority'],
    ['maxAttempts 0', () => ({ type: 'echo', maxAttempts: 0 }), {}, 400, 'maxAttempts'],
    ['a deadline that is not ISO-8601', () => ({ type: 'echo', deadline: 'tomorrow at noon' }), {}, 400, 'deadline'],
    ['a deadline in the past', () => ({ type: 'echo', deadline: past() }), {}, 400, 'deadline'],
    [
      'a deadline before the delay ends',
      () => ({ type: 'echo', deadline: future(), delaySeconds: 7_200 }),
      {},
      400,
      'deadline',
    ],
  ];

  it.each(cases)('rejects %s', async (_name, body, headers, status, field) => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', body(), headers);
    expectProblem(res, status, { field });
    await expectNothingStored(f);
  });

  it('rejects a body that is not application/json', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', JSON.stringify({ type: 'echo' }), {
      'content-type': 'text/plain',
    });
    expect([400, 415]).toContain(res.status);
    expectProblem(res, res.status, { field: '(body)' });
    await expectNothingStored(f);
  });

  describe('size limits (payload limit 1000 bytes, body limit 16 KiB)', () => {
    const limits = { TASKFLEET_MAX_PAYLOAD_BYTES: '1000', TASKFLEET_MAX_BODY_BYTES: '16384' };

    it('accepts a payload of exactly the limit', async () => {
      const f = await start(limits);
      const payload = 'x'.repeat(998); // JSON-encoded: 1000 bytes
      const res = await f.request('POST', '/v1/tasks', { type: 'echo', payload });
      expect(res.status).toBe(201);
      expect(await f.storedTaskCount()).toBe(1);
    });

    it('rejects a payload over the limit as 413 naming payload', async () => {
      const f = await start(limits);
      const res = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 'x'.repeat(999) });
      expectProblem(res, 413, { code: 'payload_too_large', field: 'payload' });
      await expectNothingStored(f);
    });

    it('rejects a batch whose task 1 has a payload over the limit, storing none of it', async () => {
      const f = await start(limits);
      const res = await f.request('POST', '/v1/tasks/batch', {
        tasks: [{ type: 'echo' }, { type: 'echo', payload: { blob: 'y'.repeat(2_000) } }, { type: 'echo' }],
      });
      expectProblem(res, 413, { code: 'payload_too_large', field: 'tasks[1].payload' });
      await expectNothingStored(f);
    });

    it('rejects a body over the body limit as 413 naming the body', async () => {
      const f = await start(limits);
      const res = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 'z'.repeat(20_000) });
      await expectNothingStored(f);
      expectProblem(res, 413, { code: 'payload_too_large' });
      // Like every other rejected body (malformed JSON names `(body)`), it must name the failing field.
      expectProblem(res, 413, { field: '(body)' });
    });
  });
});

describe('POST /v1/tasks/batch', () => {
  it('creates every task in order, stores and enqueues each', async () => {
    const f = await start();
    const bodies = [
      { type: 'echo', payload: 0 },
      { type: 'sleep', payload: 1, requiredCapabilities: ['gpu'] },
      { type: 'echo', payload: 2, priority: 'high' },
    ];
    const res = await f.request('POST', '/v1/tasks/batch', { tasks: bodies });
    expect(res.status).toBe(201);
    const tasks = res.body.tasks;
    expect(tasks).toHaveLength(3);
    expect(tasks.map((t: any) => [t.type, t.payload, t.status, t.attempt, t.routable])).toEqual([
      ['echo', 0, 'queued', 0, false],
      ['sleep', 1, 'queued', 0, false],
      ['echo', 2, 'queued', 0, false],
    ]);
    expect(new Set(tasks.map((t: any) => t.id)).size).toBe(3);
    expect((await f.storedTasks()).map((t) => t.id).sort()).toEqual(tasks.map((t: any) => t.id).sort());
    for (const t of tasks) expect(await redis.exists(f.jobKey(t))).toBe(1);
    expect((await redis.hgetall(f.jobKey(tasks[2]))).priority).toBe(String(QUEUE_PRIORITY.high));
  });

  it('sends due tasks of one route and priority in jobs of TASKFLEET_DISPATCH_BATCH, each task marked with its job', async () => {
    const f = await start({ TASKFLEET_DISPATCH_BATCH: '4' });
    const bodies = [
      ...Array.from({ length: 9 }, (_, i) => ({ type: 'echo', payload: i })),
      { type: 'echo', payload: 'later', delaySeconds: 60 },
      { type: 'echo', payload: 'urgent', priority: 'critical' },
    ];
    const tasks: any[] = (await f.request('POST', '/v1/tasks/batch', { tasks: bodies })).body.tasks;
    const markers = await redis.hgetall(f.queueKey('echo', [], 'taskfleet-batches'));
    const jobOf = (t: any) => markers[`${t.id}-0`];
    // 9 normal tasks: jobs of 4, 4 and 1; the lone one, the delayed one and the critical one under their own ids.
    const batches = [0, 4].map((start) => tasks.slice(start, start + 4));
    for (const batch of batches) {
      const id = jobOf(batch[0]);
      expect(id).toMatch(new RegExp(`^${batch[0].id}-0~[0-9a-f]{8}$`));
      for (const t of batch) expect(jobOf(t)).toBe(id);
      const job = await redis.hgetall(`${f.queueKey('echo', [], id!)}`);
      const data = JSON.parse(job.data!);
      expect([data, ...data.more].map((r: any) => r.taskId)).toEqual(batch.map((t: any) => t.id));
      expect(job.priority).toBe(String(QUEUE_PRIORITY.normal));
    }
    for (const t of [tasks[8], tasks[9], tasks[10]]) {
      expect(jobOf(t)).toBeUndefined();
      expect(await redis.exists(f.jobKey(t))).toBe(1);
    }
    expect(await redis.zscore(f.queueKey('echo', [], 'delayed'), `${tasks[9].id}-0`)).not.toBeNull();

    // The reconciler's question, per task: a batched task is present while its batch's job is.
    const dispatcher = new Dispatcher(redis, f.config.redisPrefix);
    const rows = await f.sup.store.listQueuedForDispatch({ limit: 100 });
    expect(rows).toHaveLength(11);
    expect(await dispatcher.missing(rows)).toEqual([]);
    await redis.del(f.queueKey('echo', [], jobOf(batches[1]![0])!));
    expect((await dispatcher.missing(rows)).map((r) => r.id).sort()).toEqual(batches[1]!.map((t: any) => t.id).sort());
    // Their markers, which named the lost job, are gone: they will be sent again under new ones.
    const left = await redis.hgetall(f.queueKey('echo', [], 'taskfleet-batches'));
    expect(Object.keys(left).sort()).toEqual(batches[0]!.map((t: any) => `${t.id}-0`).sort());
  });

  it('rejects the whole batch when task 3 is invalid, naming tasks[3]…, and stores none of it', async () => {
    const f = await start();
    const bodies = [
      { type: 'echo' },
      { type: 'echo' },
      { type: 'echo' },
      { type: 'echo', requiredCapabilities: ['ok', 'NOT OK'] },
      { type: 'echo' },
    ];
    const res = await f.request('POST', '/v1/tasks/batch', { tasks: bodies });
    expectProblem(res, 400, { code: 'validation_failed', field: 'tasks[3].requiredCapabilities[1]' });
    for (const e of res.body.errors) expect(e.field).toMatch(/^tasks\[3\]\./);
    await expectNothingStored(f);
  });

  it('rejects 1001 tasks as 400 naming tasks, storing nothing', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks/batch', {
      tasks: Array.from({ length: 1001 }, () => ({ type: 'echo' })),
    });
    expectProblem(res, 400, { field: 'tasks' });
    await expectNothingStored(f);
  });

  it('rejects an empty batch and an unknown top-level field', async () => {
    const f = await start();
    expectProblem(await f.request('POST', '/v1/tasks/batch', { tasks: [] }), 400, { field: 'tasks' });
    expectProblem(await f.request('POST', '/v1/tasks/batch', { tasks: [{ type: 'echo' }], extra: 1 }), 400, {
      field: 'extra',
    });
    await expectNothingStored(f);
  });

  it('replays a batch with the same Idempotency-Key as 200 with the same ids; another body conflicts', async () => {
    const f = await start();
    const body = { tasks: [{ type: 'echo', payload: 'a' }, { type: 'echo', payload: 'b' }, { type: 'sleep' }] };
    const first = await f.request('POST', '/v1/tasks/batch', body, { 'Idempotency-Key': 'batch-7' });
    expect(first.status).toBe(201);
    const replay = await f.request('POST', '/v1/tasks/batch', body, { 'Idempotency-Key': 'batch-7' });
    expect(replay.status).toBe(200);
    const ids = first.body.tasks.map((t: any) => t.id);
    expect(replay.body.tasks.map((t: any) => t.id)).toEqual(ids);

    const changed = {
      tasks: [{ type: 'echo', payload: 'a' }, { type: 'echo', payload: 'CHANGED' }, { type: 'sleep' }],
    };
    expectProblem(await f.request('POST', '/v1/tasks/batch', changed, { 'Idempotency-Key': 'batch-7' }), 409, {
      code: 'conflict',
    });
    expect((await f.storedTasks()).map((t) => t.id).sort()).toEqual([...ids].sort());
  });

  it('treats the same batch key with a shorter or longer task list as a different request (409), storing nothing new', async () => {
    const f = await start();
    const a = { type: 'echo', payload: 'a' };
    const b = { type: 'echo', payload: 'b' };
    const first = await f.request('POST', '/v1/tasks/batch', { tasks: [a, b] }, { 'Idempotency-Key': 'batch-8' });
    expect(first.status).toBe(201);
    const ids: string[] = first.body.tasks.map((t: any) => t.id);

    const shorter = await f.request('POST', '/v1/tasks/batch', { tasks: [a] }, { 'Idempotency-Key': 'batch-8' });
    const longer = await f.request(
      'POST',
      '/v1/tasks/batch',
      { tasks: [a, b, { type: 'echo', payload: 'c' }] },
      {
        'Idempotency-Key': 'batch-8',
      },
    );
    const stored = (await f.storedTasks()).map((t) => t.id).sort();
    expect({ shorter: shorter.status, longer: longer.status, stored }).toEqual({
      shorter: 409,
      longer: 409,
      stored: [...ids].sort(),
    });
    expectProblem(shorter, 409, { code: 'conflict' });
    expectProblem(longer, 409, { code: 'conflict' });
  });

  it('keeps batch keys apart from single-task keys (a batch keyed "abc" is not the task keyed "abc#0")', async () => {
    const f = await start();
    const single = await f.request('POST', '/v1/tasks', { type: 'echo' }, { 'Idempotency-Key': 'abc#0' });
    expect(single.status).toBe(201);
    const batch = await f.request(
      'POST',
      '/v1/tasks/batch',
      { tasks: [{ type: 'echo' }] },
      { 'Idempotency-Key': 'abc' },
    );
    expect({ status: batch.status, sameTask: batch.body.tasks?.[0]?.id === single.body.id }).toEqual({
      status: 201,
      sameTask: false,
    });
    expect(await f.storedTaskCount()).toBe(2);
  });
});

describe('GET /v1/tasks/:id and /v1/tasks/:id/events', () => {
  it('returns the task as submitted, and 404 problem+json for an unknown id', async () => {
    const f = await start();
    const created = await f.submit({ type: 'echo', payload: { k: 'v' }, requiredCapabilities: ['linux'] });
    const res = await f.request('GET', `/v1/tasks/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created);

    const unknown = await f.request('GET', '/v1/tasks/01890000-0000-7000-8000-000000000000');
    expectProblem(unknown, 404, { code: 'not_found' });
    expect(await f.storedTaskCount()).toBe(1);
  });

  it('lists the submitted event, and 404 for the events of an unknown task', async () => {
    const f = await start();
    const created = await f.submit({ type: 'echo' });
    const res = await f.request('GET', `/v1/tasks/${created.id}/events`);
    expect(res.status).toBe(200);
    expect(res.body.events).toHaveLength(1);
    expect(res.body.events[0]).toEqual({
      seq: expect.any(Number),
      at: created.createdAt,
      kind: 'submitted',
      attempt: 0,
    });
    expectProblem(await f.request('GET', '/v1/tasks/no-such-task/events'), 404, { code: 'not_found' });
  });
});

describe('GET /v1/tasks', () => {
  it('filters by status, type and capability, newest first', async () => {
    const f = await start();
    const a = await f.submit({ type: 'echo' });
    const b = await f.submit({ type: 'echo', requiredCapabilities: ['gpu', 'cuda'] });
    const c = await f.submit({ type: 'sleep', requiredCapabilities: ['gpu'] });
    const d = await f.submit({ type: 'sleep' });
    expect((await f.request('POST', `/v1/tasks/${d.id}/cancel`)).status).toBe(202);

    const ids = async (query: string) => {
      const res = await f.request('GET', `/v1/tasks${query}`);
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('nextCursor');
      return res.body.tasks.map((t: any) => t.id);
    };
    expect(await ids('')).toEqual([d.id, c.id, b.id, a.id]);
    expect(await ids('?status=queued')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?status=cancelled')).toEqual([d.id]);
    expect(await ids('?status=running')).toEqual([]);
    expect(await ids('?type=sleep')).toEqual([d.id, c.id]);
    expect(await ids('?capability=gpu')).toEqual([c.id, b.id]);
    expect(await ids('?capability=cuda')).toEqual([b.id]);
    expect(await ids('?type=echo&capability=gpu')).toEqual([b.id]);
    expect(await ids('?type=sleep&status=queued&capability=gpu')).toEqual([c.id]);
  });

  it('pages through 25 tasks with limit 10 by keyset cursor: no duplicates, no gaps, no cursor on the last page', async () => {
    const f = await start();
    const created = (await f.submitBatch(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: i })))).map(
      (t) => t.id,
    );
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await f.request('GET', `/v1/tasks?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(res.body.tasks.map((t: any) => t.id));
      cursor = res.body.nextCursor;
      if (cursor !== undefined) expect(cursor).toBe(pages[pages.length - 1]?.at(-1));
    } while (cursor !== undefined && pages.length < 10);

    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    const all = pages.flat();
    expect(new Set(all).size).toBe(25);
    expect([...all].sort()).toEqual([...created].sort());
    expect(all).toEqual([...all].sort().reverse()); // newest (highest id) first, across pages
    expect((await f.storedTasks()).map((t) => t.id)).toEqual(all);
  });

  it('ends without an empty trailing page when the count is a multiple of the limit', async () => {
    const f = await start();
    await f.submitBatch(Array.from({ length: 20 }, () => ({ type: 'echo' })));
    const first = await f.request('GET', '/v1/tasks?limit=10');
    expect(first.body.tasks).toHaveLength(10);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await f.request('GET', `/v1/tasks?limit=10&cursor=${first.body.nextCursor}`);
    expect(second.body.tasks).toHaveLength(10);
    expect(second.body).not.toHaveProperty('nextCursor');
  });

  it.each([
    ['status=bogus', 'status'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['capability=Not%20A%20Token', 'capability'],
    ['unknown=1', 'unknown'],
  ])('rejects the query %s as 400 naming %s', async (query, field) => {
    const f = await start();
    expectProblem(await f.request('GET', `/v1/tasks?${query}`), 400, { code: 'validation_failed', field });
  });
});

describe('POST /v1/tasks/:id/cancel', () => {
  it('cancels a queued task (202), then answers 409 already_terminal; 404 for an unknown id', async () => {
    const f = await start();
    const t = await f.submit({ type: 'sleep', payload: { ms: 10 } });
    const res = await f.request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body.outcome).toBe('cancelled');
    expect(res.body.task).toMatchObject({ id: t.id, status: 'cancelled', attempt: 0 });
    expect(res.body.task.finishedAt).toMatch(ISO);

    const stored = await f.sup.store.getTask(t.id);
    expect(stored).toMatchObject({ status: 'cancelled', attempt: 0 });
    expect(stored?.finishedAt).toEqual(expect.any(Number));
    const kinds = async () => (await f.sup.store.listTaskEvents(t.id)).map((e) => e.kind);
    expect(await kinds()).toEqual(['submitted', 'cancelled']);
    const events = await f.request('GET', `/v1/tasks/${t.id}/events`);
    expect(events.body.events.map((e: any) => e.kind)).toEqual(['submitted', 'cancelled']);

    const again = await f.request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ outcome: 'already_terminal', task: { id: t.id, status: 'cancelled' } });
    expect(await kinds()).toEqual(['submitted', 'cancelled']);

    expectProblem(await f.request('POST', '/v1/tasks/01890000-0000-7000-8000-000000000000/cancel'), 404, {
      code: 'not_found',
    });
    expect(await f.storedTaskCount()).toBe(1);
  });
});

describe('delaySeconds', () => {
  it('sets notBefore in the future and enqueues a delayed BullMQ job', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', { type: 'echo', delaySeconds: 120 });
    expect(res.status).toBe(201);
    const t = res.body;
    expect(Date.parse(t.notBefore) - Date.parse(t.createdAt)).toBe(120_000);
    expect(Date.parse(t.notBefore)).toBeGreaterThan(Date.now() + 100_000);
    const stored = await f.sup.store.getTask(t.id);
    expect(stored!.notBefore - stored!.createdAt).toBe(120_000);

    const job = await redis.hgetall(f.jobKey(t));
    expect(job.delay).toBe('120000');
    expect(await redis.zscore(f.queueKey('echo', [], 'delayed'), `${t.id}-0`)).not.toBeNull();
    expect(await redis.zscore(f.queueKey('echo', [], 'prioritized'), `${t.id}-0`)).toBeNull();
    expect(await redis.lrange(f.queueKey('echo', [], 'wait'), 0, -1)).not.toContain(`${t.id}-0`);
  });
});

describe('routes and probes', () => {
  it('answers an unknown route with 404 problem+json', async () => {
    const f = await start();
    expectProblem(await f.request('GET', '/v1/nothing-here'), 404, { code: 'not_found' });
    expectProblem(await f.request('DELETE', '/v1/tasks'), 404, { code: 'not_found' });
    expectProblem(await f.request('POST', '/v2/tasks', { type: 'echo' }), 404, { code: 'not_found' });
    await expectNothingStored(f);
  });

  it('reports health and readiness', async () => {
    const f = await start();
    const health = await f.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await f.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', sql: 'ok', redis: 'ok' });
  });
});
