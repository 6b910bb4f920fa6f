/**
 * Contract: the retention purge (src/store/purgePort.ts). Each call deletes one batch of what is due, by status
 * (or state) and age, with every row that belongs to it, and nothing else. Times are far in the past (T0, 2023)
 * so the T-SQL audit procedure's 30-day floor holds.
 */
import { v7 as uuidv7 } from 'uuid';
import type { TaskRecord } from '../../src/domain/task';
import type { NewWebhookDelivery } from '../../src/domain/webhook';
import type { Store } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { claim, leaseOf, mustGet, submit, T0 } from './fixtures';

const ERROR = { message: 'boom', kind: 'handler' };
const DUE = T0 + 10_000;

/** A task that ran and succeeded at `at`, with a log line and a webhook delivery. */
async function succeededAt(store: Store, at: number): Promise<TaskRecord> {
  const running = await claim(store, await submit(store), 'agent-a', at - 500);
  await store.appendTaskLogs({
    taskId: running.id,
    attempt: running.attempt,
    lines: [{ seq: 0, at: at - 100, level: 'info', message: 'working', fields: null }],
    dropped: { lines: 1, bytes: 10 },
  });
  expect(await store.completeTask({ ...leaseOf(running, at), result: { ok: true } })).toBe(true);
  return mustGet(store, running.id);
}

async function deadAt(store: Store, at: number): Promise<TaskRecord> {
  const running = await claim(store, await submit(store, { maxAttempts: 1 }), 'agent-a', at - 500);
  expect(await store.failTask({ ...leaseOf(running, at), error: ERROR, decision: { status: 'dead' } })).toBe(true);
  return mustGet(store, running.id);
}

/** One delivery per task, under subscription `sub-p`, through the outbox cursor as the outbox writes them. */
async function deliver(store: Store, tasks: TaskRecord[]): Promise<void> {
  const lease = await store.leaseWebhookCursor({ owner: 'sup', now: T0, leaseMs: 60_000 });
  if (!lease) throw new Error('cursor lease not granted');
  const deliveries = tasks.map((t, i): NewWebhookDelivery => ({
    id: uuidv7(),
    eventSeq: lease.lastSeq + 1 + i,
    target: 'sub-p',
    subscriptionId: 'sub-p',
    keyId: 'key-a',
    taskId: t.id,
    event: 'task.succeeded',
    url: 'https://hooks.example.com/cb',
    host: 'hooks.example.com',
    body: '{"type":"task.succeeded"}',
    createdAt: T0,
  }));
  const toSeq = lease.lastSeq + tasks.length;
  expect(await store.advanceWebhookCursor({ owner: 'sup', now: T0, fromSeq: lease.lastSeq, toSeq, deliveries })).toBe(
    true,
  );
}

const deliveredTasks = async (store: Store) =>
  (await store.listWebhookDeliveries({ subscriptionId: 'sub-p', limit: 100 })).map((d) => d.taskId).sort();

export function purgeContract(store: CurrentStore): void {
  describe('retention purge', () => {
    it('deletes finished tasks due by status and end, in batches, with their events, logs and deliveries', async () => {
      const s = store();
      const oldSucceeded = await succeededAt(s, T0 + 2_000);
      const oldDead = await deadAt(s, T0 + 2_000);
      const queued = await submit(s);
      const cancelled = (await s.requestCancel((await submit(s)).id, T0 + 3_000)).task!;
      const overdue = await submit(s, { deadline: T0 + 100 });
      expect(await s.expireTask({ taskId: overdue.id, attempt: 0, now: T0 + 4_000 })).toBe(true);
      const recent = await succeededAt(s, DUE + 1);
      const running = await claim(s, await submit(s), 'agent-b', T0 + 1_000);
      await deliver(s, [oldSucceeded, recent]);
      expect(cancelled.status).toBe('cancelled');

      const kept = ['succeeded', 'cancelled', 'expired'] as const;
      const batch = { statuses: [...kept], finishedBefore: DUE, limit: 2 };
      expect(await s.purgeTasks(batch)).toBe(2);
      expect(await s.purgeTasks(batch)).toBe(1);
      expect(await s.purgeTasks(batch)).toBe(0);
      for (const gone of [oldSucceeded, cancelled, overdue]) {
        expect({ id: gone.id, task: await s.getTask(gone.id) }).toEqual({ id: gone.id, task: null });
        expect(await s.listTaskEvents(gone.id)).toEqual([]);
      }
      expect(await s.listTaskLogs(oldSucceeded.id, 1)).toEqual({ lines: [], dropped: { lines: 0, bytes: 0 } });
      expect(await deliveredTasks(s)).toEqual([recent.id]);

      // Dead tasks have their own retention; what is not finished, or finished later, stays.
      expect(await s.purgeTasks({ statuses: ['dead'], finishedBefore: DUE, limit: 10 })).toBe(1);
      expect(await s.getTask(oldDead.id)).toBeNull();
      for (const stays of [queued, recent, running]) expect((await mustGet(s, stays.id)).status).toBe(stays.status);
      expect((await s.listTaskEvents(recent.id)).map((e) => e.kind)).toEqual(['submitted', 'started', 'succeeded']);
      expect((await s.listTaskLogs(recent.id, 1)).lines).toHaveLength(1);
    });

    it('never deletes a queued or running task, whatever statuses it is asked for', async () => {
      const s = store();
      const queued = await submit(s);
      const running = await claim(s, await submit(s), 'agent-a', T0 + 1_000);
      const all = { statuses: ['queued', 'running'] as const, finishedBefore: DUE * 2, limit: 10 };
      expect(await s.purgeTasks({ ...all, statuses: [...all.statuses] })).toBe(0);
      expect((await mustGet(s, queued.id)).status).toBe('queued');
      expect((await mustGet(s, running.id)).status).toBe('running');
    });

    it('deletes stopped and failed agents last heard from before the cutoff, with their events', async () => {
      const s = store();
      const register = (id: string, at: number) =>
        s.registerAgent(
          { id, capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 'v' },
          at,
        );
      const stop = (id: string, to: 'stopped' | 'failed', at: number) =>
        s.setAgentState({ agentId: id, to, reason: 'test', now: at });
      for (const id of ['old-stopped', 'old-failed', 'old-running', 'recent-stopped']) {
        await register(id, id.startsWith('recent') ? DUE + 1 : T0);
      }
      await stop('old-stopped', 'stopped', T0 + 1);
      await stop('old-failed', 'failed', T0 + 1);
      await stop('recent-stopped', 'stopped', DUE + 2);

      const batch = { states: ['stopped' as const, 'failed' as const], before: DUE, limit: 1 };
      expect(await s.purgeAgents(batch)).toBe(1);
      expect(await s.purgeAgents(batch)).toBe(1);
      expect(await s.purgeAgents(batch)).toBe(0);
      expect((await s.listAgents()).map((a) => a.id).sort()).toEqual(['old-running', 'recent-stopped']);
      expect(await s.listAgentEvents('old-stopped')).toEqual([]);
      expect((await s.listAgentEvents('recent-stopped')).length).toBeGreaterThan(0);
    });

    it('deletes audit entries written before the cutoff, oldest first, in batches', async () => {
      const s = store();
      const entry = (at: number, target: string) =>
        s.appendAudit({ at, actor: 'k', actorName: 'n', action: 'keys.create', target, ip: null, detail: null });
      for (let i = 0; i < 5; i++) await entry(T0 + i, `old-${i}`);
      await entry(DUE + 1, 'recent');

      expect(await s.purgeAudit({ before: DUE, limit: 3 })).toBe(3);
      expect((await s.listAudit({ limit: 10 })).map((e) => e.target).sort()).toEqual(['old-3', 'old-4', 'recent']);
      expect(await s.purgeAudit({ before: DUE, limit: 3 })).toBe(2);
      expect(await s.purgeAudit({ before: DUE, limit: 3 })).toBe(0);
      expect((await s.listAudit({ limit: 10 })).map((e) => e.target)).toEqual(['recent']);
    });
  });
}
