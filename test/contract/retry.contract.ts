/** Contract: retry on demand (retryTask) and the bulk pages (retryTasks, cancelTasks). */
import type { TaskError, TaskRecord } from '../../src/domain/task';
import type { Store } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { claim, eventKinds, leaseOf, mustGet, submit, T0 } from './fixtures';

const ERROR: TaskError = { message: 'boom', name: 'Error', kind: 'handler' };

/** A task that ran `maxAttempts` times and failed each time: dead at attempt `maxAttempts`. */
async function deadTask(store: Store, maxAttempts = 2, overrides: Parameters<typeof submit>[1] = {}) {
  let task: TaskRecord = await submit(store, { maxAttempts, ...overrides });
  for (let i = 1; i <= maxAttempts; i++) {
    const running = await claim(store, task, 'agent-a', T0 + i * 10);
    const last = i === maxAttempts;
    const decision = last
      ? ({ status: 'dead' } as const)
      : ({ status: 'queued', notBefore: T0 + i * 10 + 1, delayMs: 1 } as const);
    await store.failTask({ ...leaseOf(running, T0 + i * 10 + 1), error: ERROR, decision });
    task = await mustGet(store, task.id);
  }
  return task;
}

const NOW = T0 + 60_000;

export function retryContract(store: CurrentStore): void {
  describe('retryTask', () => {
    it('takes a dead task back to queued, raising maxAttempts by the submitted budget, keeping the attempt', async () => {
      const dead = await deadTask(store(), 2);
      expect(dead).toMatchObject({ status: 'dead', attempt: 2, maxAttempts: 2 });
      const retried = await store().retryTask({ taskId: dead.id, attempt: 2, now: NOW, by: 'ops' });
      expect(retried).toMatchObject({
        id: dead.id,
        status: 'queued',
        attempt: 2,
        maxAttempts: 4,
        result: null,
        error: null,
        agentId: null,
        leaseExpiresAt: null,
        cancelRequested: false,
        notBefore: NOW,
        startedAt: null,
        finishedAt: null,
        updatedAt: NOW,
      });
      expect(await mustGet(store(), dead.id)).toEqual(retried);
      const events = await store().listTaskEvents(dead.id);
      expect(events[events.length - 1]).toMatchObject({
        kind: 'retried',
        attempt: 2,
        agentId: null,
        at: NOW,
        data: { by: 'ops', from: 'dead', maxAttempts: 4 },
      });
      // The last failure stays visible in the log.
      expect(events.filter((e) => e.kind === 'failed').pop()?.data).toMatchObject(ERROR);
    });

    it('raises by the original budget each time, not by the raised one', async () => {
      const dead = await deadTask(store(), 1);
      await store().retryTask({ taskId: dead.id, attempt: 1, now: NOW, by: 'a' });
      const again = await claim(store(), await mustGet(store(), dead.id), 'agent-a', NOW + 1);
      expect(again.attempt).toBe(2);
      await store().failTask({ ...leaseOf(again, NOW + 2), error: ERROR, decision: { status: 'dead' } });
      expect(await store().retryTask({ taskId: dead.id, attempt: 2, now: NOW + 3, by: 'b' })).toMatchObject({
        attempt: 2,
        maxAttempts: 3,
      });
    });

    it('retries a cancelled task and an expired one, dropping a deadline that has passed', async () => {
      const cancelled = await submit(store());
      await store().requestCancel(cancelled.id, T0 + 1);
      const overdue = await submit(store(), { deadline: T0 + 5 });
      expect(await store().expireTask({ taskId: overdue.id, attempt: 0, now: T0 + 6 })).toBe(true);
      const later = await submit(store(), { deadline: NOW + 1_000 });
      await store().requestCancel(later.id, T0 + 1);

      expect(await store().retryTask({ taskId: cancelled.id, attempt: 0, now: NOW, by: 'x' })).toMatchObject({
        status: 'queued',
        maxAttempts: 6,
      });
      expect(await store().retryTask({ taskId: overdue.id, attempt: 0, now: NOW, by: 'x' })).toMatchObject({
        status: 'queued',
        deadline: null,
      });
      expect(await store().retryTask({ taskId: later.id, attempt: 0, now: NOW, by: 'x' })).toMatchObject({
        deadline: NOW + 1_000,
      });
      const from = async (id: string) => ((await store().listTaskEvents(id)).pop()?.data as { from: string }).from;
      expect([await from(cancelled.id), await from(overdue.id)]).toEqual(['cancelled', 'expired']);
    });

    it('changes nothing for a queued, running or succeeded task, a stale attempt, or an unknown id', async () => {
      const queued = await submit(store());
      const running = await claim(store(), await submit(store()));
      const done = await claim(store(), await submit(store()));
      await store().completeTask({ ...leaseOf(done, T0 + 2_000), result: 1 });
      const dead = await deadTask(store(), 1);
      for (const t of [queued, running, done]) {
        expect(await store().retryTask({ taskId: t.id, attempt: t.attempt, now: NOW, by: 'x' })).toBeNull();
        expect(await eventKinds(store(), t.id)).not.toContain('retried');
      }
      expect(await store().retryTask({ taskId: dead.id, attempt: 0, now: NOW, by: 'x' })).toBeNull();
      expect(await store().retryTask({ taskId: 'no-such-task', attempt: 0, now: NOW, by: 'x' })).toBeNull();
      expect(await mustGet(store(), dead.id)).toEqual(dead);
    });

    it('applies once when two retries of one task race', async () => {
      const dead = await deadTask(store(), 1);
      const both = await Promise.all([
        store().retryTask({ taskId: dead.id, attempt: 1, now: NOW, by: 'a' }),
        store().retryTask({ taskId: dead.id, attempt: 1, now: NOW, by: 'b' }),
      ]);
      expect(both.filter((t) => t !== null)).toHaveLength(1);
      expect((await eventKinds(store(), dead.id)).filter((k) => k === 'retried')).toHaveLength(1);
      expect(await mustGet(store(), dead.id)).toMatchObject({ status: 'queued', maxAttempts: 2 });
    });
  });

  describe('retryTasks', () => {
    it('retries one page of one status by id, with the filters, answering the keyset for the next page', async () => {
      const a = await deadTask(store(), 1, { type: 'echo', requiredCapabilities: ['gpu'] });
      const b = await deadTask(store(), 1, { type: 'echo', requiredCapabilities: ['gpu', 'fs'] });
      const c = await deadTask(store(), 1, { type: 'echo', requiredCapabilities: ['fs'] });
      const other = await deadTask(store(), 1, { type: 'sleep', requiredCapabilities: ['gpu'] });
      const young = await deadTask(store(), 1, { type: 'echo', requiredCapabilities: ['gpu'], createdAt: T0 + 50 });
      const cancelled = await submit(store(), { type: 'echo', requiredCapabilities: ['gpu'] });
      await store().requestCancel(cancelled.id, T0 + 1);

      const query = { status: 'dead' as const, type: 'echo', capability: 'gpu', createdBefore: T0 + 50, now: NOW };
      const first = await store().retryTasks({ ...query, limit: 1, by: 'ops' });
      expect(first).toMatchObject({ matched: 1, lastId: a.id });
      expect(first.retried).toEqual([
        { id: a.id, attempt: 1, type: 'echo', requiredCapabilities: ['gpu'], priority: 'normal', notBefore: NOW },
      ]);
      const second = await store().retryTasks({ ...query, afterId: a.id, limit: 10, by: 'ops' });
      expect(second).toMatchObject({ matched: 1, lastId: b.id });
      expect(second.retried.map((r) => r.id)).toEqual([b.id]);
      expect(await store().retryTasks({ ...query, afterId: b.id, limit: 10, by: 'ops' })).toEqual({
        matched: 0,
        lastId: null,
        retried: [],
      });
      for (const t of [c, other, young, cancelled]) expect(await eventKinds(store(), t.id)).not.toContain('retried');
      expect(await mustGet(store(), b.id)).toMatchObject({ status: 'queued', maxAttempts: 2 });
      expect((await store().listTaskEvents(b.id)).pop()).toMatchObject({ kind: 'retried', data: { by: 'ops' } });
    });

    it("keeps to one key's tasks when asked (submittedBy)", async () => {
      const mine = await deadTask(store(), 1, { submittedBy: 'k1' });
      await deadTask(store(), 1, { submittedBy: 'k2' });
      const page = await store().retryTasks({ status: 'dead', submittedBy: 'k1', limit: 10, now: NOW, by: 'k1' });
      expect(page).toMatchObject({ matched: 1, lastId: mine.id });
      const queued = await submit(store(), { submittedBy: 'k2' });
      expect(await store().cancelTasks({ status: 'queued', submittedBy: 'k1', limit: 10, now: NOW })).toMatchObject({
        matched: 1,
        cancelled: [mine.id],
      });
      expect((await mustGet(store(), queued.id)).status).toBe('queued');
    });
  });

  describe('cancelTasks', () => {
    it('cancels the queued tasks of a page and flags the running ones once', async () => {
      const queued = await submit(store());
      const running = await claim(store(), await submit(store()), 'agent-b');
      const flagged = await claim(store(), await submit(store()), 'agent-c');
      await store().requestCancel(flagged.id, T0 + 2_000);

      const q = await store().cancelTasks({ status: 'queued', limit: 10, now: NOW });
      expect(q).toEqual({ matched: 1, lastId: queued.id, cancelled: [queued.id], cancelRequested: [] });
      const r = await store().cancelTasks({ status: 'running', limit: 10, now: NOW });
      expect(r).toEqual({
        matched: 2,
        lastId: flagged.id,
        cancelled: [],
        cancelRequested: [running.id],
      });
      expect(await mustGet(store(), queued.id)).toMatchObject({ status: 'cancelled', finishedAt: NOW });
      expect(await mustGet(store(), running.id)).toMatchObject({ status: 'running', cancelRequested: true });
      expect((await store().listTaskEvents(running.id)).pop()).toMatchObject({
        kind: 'cancel_requested',
        agentId: 'agent-b',
        attempt: 1,
      });
      expect((await eventKinds(store(), flagged.id)).filter((k) => k === 'cancel_requested')).toHaveLength(1);
    });
  });
}
