/** Contract: insertTasks, getTask, listTasks, listTaskEvents, listRoutes. */
import { ConflictError } from '../../src/domain/errors';
import type { TaskRecord } from '../../src/domain/task';
import type { CurrentStore } from './store.contract';
import { claim, eventKinds, leaseOf, newTask, submit, T0 } from './fixtures';

export function submissionContract(store: CurrentStore): void {
  describe('insertTasks and reads', () => {
    it('round-trips every field of a new task', async () => {
      const input = newTask({
        type: 'resize',
        requiredCapabilities: ['gpu', 'linux'],
        priority: 'high',
        payload: { image: 's3://bucket/a.png', sizes: [64, 128], nested: { ok: true, none: null } },
        maxAttempts: 5,
        timeoutSeconds: 90,
        notBefore: T0 + 5_000,
        deadline: T0 + 60_000,
        idempotencyKey: 'caller-1:key-1',
        requestHash: 'hash-1',
        submittedBy: 'key-7',
        traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      const [outcome] = await store().insertTasks([input]);
      const expected: TaskRecord = {
        id: input.id,
        type: 'resize',
        status: 'queued',
        attempt: 0,
        maxAttempts: 5,
        requiredCapabilities: ['gpu', 'linux'],
        priority: 'high',
        payload: input.payload,
        result: null,
        error: null,
        agentId: null,
        leaseExpiresAt: null,
        cancelRequested: false,
        timeoutSeconds: 90,
        notBefore: T0 + 5_000,
        deadline: T0 + 60_000,
        idempotencyKey: 'caller-1:key-1',
        requestHash: 'hash-1',
        submittedBy: 'key-7',
        traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        sensitive: false,
        callbackUrl: null,
        createdAt: T0,
        startedAt: null,
        finishedAt: null,
        updatedAt: T0,
      };
      expect(outcome).toEqual({ created: true, task: expected });
      expect(await store().getTask(input.id)).toEqual(expected);
    });

    it('stores submittedBy null for a task submitted without a key', async () => {
      const task = await submit(store());
      expect(task.submittedBy).toBeNull();
      expect((await store().getTask(task.id))?.submittedBy).toBeNull();
    });

    it('round-trips payloads of every JSON shape', async () => {
      for (const payload of ['text', 42, [1, 'two', { three: 3 }], null, { unicode: 'ü ✓ 😀' }]) {
        const task = await submit(store(), { payload });
        expect((await store().getTask(task.id))?.payload).toEqual(payload);
      }
    });

    it('stores the required capability set sorted', async () => {
      const task = await submit(store(), { requiredCapabilities: ['linux', 'cuda', 'gpu'] });
      expect(task.requiredCapabilities).toEqual(['cuda', 'gpu', 'linux']);
    });

    it('returns null for an unknown task', async () => {
      expect(await store().getTask(newTask().id)).toBeNull();
    });

    it('appends a submitted event for each inserted task', async () => {
      const [a, b] = await store().insertTasks([newTask(), newTask({ createdAt: T0 + 1 })]);
      const events = await store().listTaskEvents(b!.task.id);
      expect(events).toEqual([
        {
          seq: expect.any(Number),
          taskId: b!.task.id,
          at: T0 + 1,
          kind: 'submitted',
          attempt: 0,
          agentId: null,
          data: null,
        },
      ]);
      expect(await eventKinds(store(), a!.task.id)).toEqual(['submitted']);
    });

    it('replays an idempotency key with the same request hash as the stored task', async () => {
      const first = await submit(store(), { idempotencyKey: 'k', requestHash: 'h' });
      const again = newTask({ idempotencyKey: 'k', requestHash: 'h', createdAt: T0 + 10 });
      const [outcome] = await store().insertTasks([again]);
      expect(outcome).toEqual({ created: false, task: first });
      expect(await store().getTask(again.id)).toBeNull();
      expect(await eventKinds(store(), first.id)).toEqual(['submitted']);
    });

    it('treats a key repeated within one batch as a replay of the first', async () => {
      const [a, b] = await store().insertTasks([
        newTask({ idempotencyKey: 'k', requestHash: 'h' }),
        newTask({ idempotencyKey: 'k', requestHash: 'h' }),
      ]);
      expect(a?.created).toBe(true);
      expect(b).toEqual({ created: false, task: a?.task });
    });

    it('rejects a whole batch when a key is reused with another request hash', async () => {
      const existing = await submit(store(), { idempotencyKey: 'dup-key', requestHash: 'h1' });
      const fresh = newTask({ type: 'never-stored', requiredCapabilities: ['gpu'] });
      const conflicting = newTask({ idempotencyKey: 'dup-key', requestHash: 'h2' });
      const attempt = store().insertTasks([fresh, conflicting]);
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      await expect(attempt).rejects.toThrow(/dup-key/);
      expect(await store().getTask(fresh.id)).toBeNull();
      expect(await store().listTaskEvents(fresh.id)).toEqual([]);
      expect(await store().getTask(conflicting.id)).toBeNull();
      expect(await store().getTask(existing.id)).toEqual(existing);
      expect((await store().listRoutes()).some((r) => r.type === 'never-stored')).toBe(false);
    });

    it('lists every route tasks were submitted on, once each', async () => {
      await store().insertTasks([
        newTask({ type: 'echo' }),
        newTask({ type: 'echo', requiredCapabilities: ['gpu'] }),
        newTask({ type: 'resize', requiredCapabilities: ['gpu', 'linux'] }),
      ]);
      await submit(store(), { type: 'echo', requiredCapabilities: ['gpu'] });
      const routes = await store().listRoutes();
      const keys = routes.map((r) => `${r.type}:${r.capabilities.join('+')}`).sort();
      expect(keys).toEqual(['echo:', 'echo:gpu', 'resize:gpu+linux']);
    });
  });

  describe('listTasks', () => {
    async function fixture(): Promise<TaskRecord[]> {
      const created: TaskRecord[] = [];
      const specs = [
        { type: 'echo', requiredCapabilities: [] },
        { type: 'resize', requiredCapabilities: ['gpu'] },
        { type: 'echo', requiredCapabilities: ['gpu', 'linux'] },
        { type: 'resize', requiredCapabilities: ['linux'] },
        { type: 'echo', requiredCapabilities: ['gpu'] },
      ];
      for (const [i, spec] of specs.entries()) created.push(await submit(store(), { ...spec, createdAt: T0 + i }));
      await claim(store(), created[1]!);
      await claim(store(), created[2]!);
      return created;
    }
    const ids = (tasks: TaskRecord[]) => tasks.map((t) => t.id);

    it('lists newest first, with keyset paging by beforeId', async () => {
      const [a, b, c, d, e] = await fixture();
      const page1 = await store().listTasks({ limit: 2 });
      expect(ids(page1)).toEqual([e!.id, d!.id]);
      const page2 = await store().listTasks({ limit: 2, beforeId: page1[1]!.id });
      expect(ids(page2)).toEqual([c!.id, b!.id]);
      const page3 = await store().listTasks({ limit: 2, beforeId: page2[1]!.id });
      expect(ids(page3)).toEqual([a!.id]);
      expect(page2[0]).toEqual(await store().getTask(c!.id));
    });

    it('filters by status, type and capability, alone and combined', async () => {
      const [a, b, c, d, e] = await fixture();
      expect(ids(await store().listTasks({ limit: 10, status: 'running' }))).toEqual([c!.id, b!.id]);
      expect(ids(await store().listTasks({ limit: 10, type: 'echo' }))).toEqual([e!.id, c!.id, a!.id]);
      expect(ids(await store().listTasks({ limit: 10, capability: 'gpu' }))).toEqual([e!.id, c!.id, b!.id]);
      expect(ids(await store().listTasks({ limit: 10, capability: 'linux', status: 'queued' }))).toEqual([d!.id]);
      expect(ids(await store().listTasks({ limit: 10, type: 'echo', status: 'queued', capability: 'gpu' }))).toEqual([
        e!.id,
      ]);
      expect(ids(await store().listTasks({ limit: 1, type: 'echo', beforeId: e!.id }))).toEqual([c!.id]);
      expect(await store().listTasks({ limit: 10, capability: 'tpu' })).toEqual([]);
    });

    it('lists only the tasks one key submitted, with the other filters and paging', async () => {
      const by = ['key-a', 'key-b', 'key-a', null, 'key-a', 'key-b'];
      const t: TaskRecord[] = [];
      for (const [i, submittedBy] of by.entries()) {
        t.push(await submit(store(), { type: i % 2 === 0 ? 'echo' : 'resize', submittedBy, createdAt: T0 + i }));
      }
      await claim(store(), t[2]!);
      expect(ids(await store().listTasks({ limit: 10, submittedBy: 'key-a' }))).toEqual([t[4]!.id, t[2]!.id, t[0]!.id]);
      expect(ids(await store().listTasks({ limit: 10, submittedBy: 'key-b' }))).toEqual([t[5]!.id, t[1]!.id]);
      expect(await store().listTasks({ limit: 10, submittedBy: 'key-c' })).toEqual([]);
      // A page is full of the key's own tasks, however many of others lie between them.
      const page1 = await store().listTasks({ limit: 2, submittedBy: 'key-a' });
      expect(ids(page1)).toEqual([t[4]!.id, t[2]!.id]);
      const page2 = await store().listTasks({ limit: 2, submittedBy: 'key-a', beforeId: page1[1]!.id });
      expect(ids(page2)).toEqual([t[0]!.id]);
      expect(ids(await store().listTasks({ limit: 10, submittedBy: 'key-a', status: 'queued' }))).toEqual([
        t[4]!.id,
        t[0]!.id,
      ]);
      expect(ids(await store().listTasks({ limit: 10, submittedBy: 'key-b', type: 'resize' }))).toEqual([
        t[5]!.id,
        t[1]!.id,
      ]);
      expect(await store().listTasks({ limit: 10, submittedBy: 'key-b', type: 'echo' })).toEqual([]);
    });
  });

  describe('listTaskEventsAfter and lastTaskEventSeq', () => {
    it('tails every task event in seq order after a cursor', async () => {
      expect(await store().lastTaskEventSeq()).toBe(0);
      const a = await submit(store());
      const b = await submit(store());
      const all = await store().listTaskEventsAfter(0, 100);
      expect(all.map((e) => [e.taskId, e.kind])).toEqual([
        [a.id, 'submitted'],
        [b.id, 'submitted'],
      ]);
      const last = await store().lastTaskEventSeq();
      expect(last).toBe(all[1]?.seq);
      expect(await store().listTaskEventsAfter(last, 100)).toEqual([]);
      expect((await store().listTaskEventsAfter(0, 1)).map((e) => e.taskId)).toEqual([a.id]);
      await claim(store(), a, 'agent-a', T0 + 10);
      const next = await store().listTaskEventsAfter(last, 100);
      expect(next.map((e) => e.kind)).toEqual(['started']);
      expect(await store().lastTaskEventSeq()).toBeGreaterThan(last);
    });
  });

  describe('listTaskEventsOfKinds', () => {
    it('answers the events of the kinds asked within (afterSeq, upToSeq], oldest first, at most limit', async () => {
      const start = await store().lastTaskEventSeq();
      const done = await claim(store(), await submit(store()), 'agent-a', T0);
      await store().completeTask({ ...leaseOf(done, T0 + 1), result: 1 });
      const other = await claim(store(), await submit(store()), 'agent-a', T0);
      await store().completeTask({ ...leaseOf(other, T0 + 2), result: 2 });
      const end = await store().lastTaskEventSeq();
      const ask = (o: { afterSeq?: number; upToSeq?: number; limit?: number }) =>
        store().listTaskEventsOfKinds({ afterSeq: start, upToSeq: end, kinds: ['succeeded'], limit: 10, ...o });
      const both = await ask({});
      expect(both.map((e) => [e.kind, e.taskId])).toEqual([
        ['succeeded', done.id],
        ['succeeded', other.id],
      ]);
      expect((await ask({ limit: 1 })).map((e) => e.taskId)).toEqual([done.id]);
      expect((await ask({ afterSeq: both[0]!.seq })).map((e) => e.taskId)).toEqual([other.id]);
      expect(await ask({ upToSeq: both[1]!.seq - 1 })).toHaveLength(1);
      expect(await ask({ afterSeq: end })).toEqual([]);
      const kinds = await store().listTaskEventsOfKinds({
        afterSeq: start,
        upToSeq: end,
        kinds: ['submitted', 'started'],
        limit: 10,
      });
      expect(kinds.map((e) => e.kind)).toEqual(['submitted', 'started', 'submitted', 'started']);
    });
  });

  describe('listTaskHeads', () => {
    it('answers the type, submitter and callback URL of each known task, leaving unknown ids out', async () => {
      const a = await submit(store());
      const b = await submit(store(), {
        type: 'resize',
        submittedBy: 'key-b',
        callbackUrl: 'https://hooks.example.com/b',
      });
      const heads = await store().listTaskHeads([a.id, b.id, 'no-such-task', a.id]);
      expect(heads.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [
          { id: a.id, type: a.type, routeKey: 'echo~', submittedBy: a.submittedBy ?? null, callbackUrl: null },
          {
            id: b.id,
            type: 'resize',
            routeKey: 'resize~',
            submittedBy: 'key-b',
            callbackUrl: 'https://hooks.example.com/b',
          },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      expect(await store().listTaskHeads([])).toEqual([]);
    });
  });

  describe('listTaskEvents', () => {
    it('lists a task life in order: attempts, agents and data', async () => {
      const task = await submit(store());
      const first = await claim(store(), task, 'agent-a', T0 + 100);
      const error = { message: 'boom', name: 'Error', kind: 'handler' };
      const decision = { status: 'queued' as const, notBefore: T0 + 1_200, delayMs: 1_000 };
      await store().failTask({ ...leaseOf(first, T0 + 200), error, decision });
      const second = await claim(store(), { id: task.id, attempt: 1 }, 'agent-b', T0 + 1_300);
      await store().completeTask({ ...leaseOf(second, T0 + 1_400), result: { ok: 1 } });

      const events = await store().listTaskEvents(task.id);
      expect(events.map((e) => [e.kind, e.attempt, e.at])).toEqual([
        ['submitted', 0, T0],
        ['started', 1, T0 + 100],
        ['failed', 1, T0 + 200],
        ['retry_scheduled', 1, T0 + 200],
        ['started', 2, T0 + 1_300],
        ['succeeded', 2, T0 + 1_400],
      ]);
      expect([0, 1, 2, 4, 5].map((i) => events[i]?.agentId)).toEqual([
        null,
        'agent-a',
        'agent-a',
        'agent-b',
        'agent-b',
      ]);
      expect(events[2]?.data).toEqual({ ...error, runMs: 100 });
      expect(events[5]?.data).toEqual({ runMs: 100, totalMs: 1_400 });
      expect(events[3]?.data).toEqual({ notBefore: T0 + 1_200, delayMs: 1_000 });
      const seqs = events.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('is empty for an unknown task', async () => {
      expect(await store().listTaskEvents(newTask().id)).toEqual([]);
    });
  });
}
