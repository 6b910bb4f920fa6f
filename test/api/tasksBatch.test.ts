/**
 * Submitting tasks in a batch (POST /v1/tasks/batch) over real HTTP against a real supervisor (SQLite file + Redis
 * under a private prefix), with background loops off and no workers: every assertion on a response is paired with
 * one on the store (and, for dispatch, on the BullMQ job in Redis), so "nothing stored" is proven, not assumed.
 * Each test starts its own fleet.
 */
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { QUEUE_PRIORITY } from '../../src/domain/task';
import { expectNothingStored, fleetPerTest } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const { redis, start } = fleetPerTest();

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
    await expectNothingStored(f, redis);
  });

  it('rejects 1001 tasks as 400 naming tasks, storing nothing', async () => {
    const f = await start();
    const res = await f.request('POST', '/v1/tasks/batch', {
      tasks: Array.from({ length: 1001 }, () => ({ type: 'echo' })),
    });
    expectProblem(res, 400, { field: 'tasks' });
    await expectNothingStored(f, redis);
  });

  it('rejects an empty batch and an unknown top-level field', async () => {
    const f = await start();
    expectProblem(await f.request('POST', '/v1/tasks/batch', { tasks: [] }), 400, { field: 'tasks' });
    expectProblem(await f.request('POST', '/v1/tasks/batch', { tasks: [{ type: 'echo' }], extra: 1 }), 400, {
      field: 'extra',
    });
    await expectNothingStored(f, redis);
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
