/**
 * Submitting a task (POST /v1/tasks): defaults, trace context, Idempotency-Key, validation, delays over real HTTP
 * against a real supervisor (SQLite file + Redis under a private prefix), with background loops off and no
 * workers: every assertion on a response is paired with one on the store (and, for dispatch, on the BullMQ job in
 * Redis), so "nothing stored" is proven, not assumed. Each test starts its own fleet.
 */
import { QUEUE_PRIORITY } from '../../src/domain/task';
import { expectNothingStored, fleetPerTest, keysUnder } from '../helpers/fleet';
import { ISO, UUID, expectProblem } from '../helpers/http';

const { redis, start } = fleetPerTest();

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
    expect(job.name).toBe('echo~'); // named by its route
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
    await expectNothingStored(f, redis);
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
    await expectNothingStored(f, redis);
  });

  it('rejects a body that is not application/json', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks', JSON.stringify({ type: 'echo' }), {
      'content-type': 'text/plain',
    });
    expect([400, 415]).toContain(res.status);
    expectProblem(res, res.status, { field: '(body)' });
    await expectNothingStored(f, redis);
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
      await expectNothingStored(f, redis);
    });

    it('rejects a batch whose task 1 has a payload over the limit, storing none of it', async () => {
      const f = await start(limits);
      const res = await f.request('POST', '/v1/tasks/batch', {
        tasks: [{ type: 'echo' }, { type: 'echo', payload: { blob: 'y'.repeat(2_000) } }, { type: 'echo' }],
      });
      expectProblem(res, 413, { code: 'payload_too_large', field: 'tasks[1].payload' });
      await expectNothingStored(f, redis);
    });

    it('rejects a body over the body limit as 413 naming the body', async () => {
      const f = await start(limits);
      const res = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 'z'.repeat(20_000) });
      await expectNothingStored(f, redis);
      expectProblem(res, 413, { code: 'payload_too_large' });
      // Like every other rejected body (malformed JSON names `(body)`), it must name the failing field.
      expectProblem(res, 413, { field: '(body)' });
    });
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
