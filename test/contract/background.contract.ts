/** Contract: the supervisor's background work (expired leases, overdue tasks, re-dispatch). */
import type { RetryDecision } from '../../src/domain/transitions';
import type { DispatchRow } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { claim, eventKinds, LEASE_MS, leaseOf, mustGet, newTask, submit, T0 } from './fixtures';

export function backgroundContract(store: CurrentStore): void {
  describe('listExpiredLeases and requeueExpiredLease', () => {
    it('lists running tasks whose lease expired strictly before now', async () => {
      const early = await claim(store(), await submit(store(), { maxAttempts: 4 }), 'agent-a', T0);
      const late = await claim(store(), await submit(store()), 'agent-b', T0 + 10_000);
      await claim(store(), await submit(store()), 'agent-c', T0).then((t) =>
        store().completeTask({ ...leaseOf(t, T0 + 1), result: null }),
      );
      const earlyExpiry = T0 + LEASE_MS;
      expect(await store().listExpiredLeases(earlyExpiry, 10)).toEqual([]);
      expect(await store().listExpiredLeases(earlyExpiry + 1, 10)).toEqual([
        { id: early.id, attempt: 1, maxAttempts: 4, agentId: 'agent-a' },
      ]);
      const both = await store().listExpiredLeases(T0 + 10_000 + LEASE_MS + 1, 10);
      expect(both.map((l) => l.id).sort()).toEqual([early.id, late.id].sort());
      expect(await store().listExpiredLeases(T0 + 10_000 + LEASE_MS + 1, 1)).toHaveLength(1);
    });

    it('requeues an expired lease as decided, recording lease_expired then retry_scheduled', async () => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      const now = T0 + LEASE_MS + 5;
      const decision: RetryDecision = { status: 'queued', notBefore: now, delayMs: 0 };
      expect(await store().requeueExpiredLease({ taskId: running.id, attempt: 1, now, decision })).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'queued',
        attempt: 1,
        agentId: null,
        leaseExpiresAt: null,
        notBefore: now,
        updatedAt: now,
      });
      const events = await store().listTaskEvents(running.id);
      expect(events.slice(2)).toMatchObject([
        { kind: 'lease_expired', attempt: 1, agentId: 'agent-a', at: now },
        { kind: 'retry_scheduled', attempt: 1, at: now, data: { notBefore: now, delayMs: 0 } },
      ]);
      expect(await store().listExpiredLeases(now + LEASE_MS * 10, 10)).toEqual([]);
    });

    it('kills an expired lease whose attempts are spent', async () => {
      const running = await claim(store(), await submit(store(), { maxAttempts: 1 }), 'agent-a', T0);
      const now = T0 + LEASE_MS + 5;
      expect(
        await store().requeueExpiredLease({ taskId: running.id, attempt: 1, now, decision: { status: 'dead' } }),
      ).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'dead',
        leaseExpiresAt: null,
        finishedAt: now,
        error: { kind: 'lease_expired' },
      });
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started', 'lease_expired', 'dead']);
    });

    it('refuses while the lease holds, after a renewal, or when the attempt moved on', async () => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      const requeue = (attempt: number, now: number) =>
        store().requeueExpiredLease({ taskId: running.id, attempt, now, decision: { status: 'dead' } });
      expect(await requeue(1, T0 + LEASE_MS)).toBe(false);
      await store().renewLease({ ...leaseOf(running, T0 + 20_000), leaseMs: LEASE_MS });
      expect(await requeue(1, T0 + LEASE_MS + 1)).toBe(false);
      expect(await requeue(2, T0 + 20_000 + LEASE_MS + 1)).toBe(false);
      expect(await requeue(1, T0 + 20_000 + LEASE_MS + 1)).toBe(true);
      expect(await requeue(1, T0 + 20_000 + LEASE_MS + 2)).toBe(false);
      expect(
        await store().requeueExpiredLease({ taskId: 'missing', attempt: 1, now: T0, decision: { status: 'dead' } }),
      ).toBe(false);
    });
  });

  describe('listOverdue and expireTask', () => {
    it('lists queued tasks whose deadline is at or before now, and expires them', async () => {
      const overdue = await submit(store(), { deadline: T0 + 1_000 });
      await submit(store(), { deadline: T0 + 5_000 });
      await submit(store(), { deadline: null });
      await claim(store(), await submit(store(), { deadline: T0 + 500 }), 'agent-a', T0 + 100);
      expect(await store().listOverdue(T0 + 999, 10)).toEqual([]);
      expect(await store().listOverdue(T0 + 1_000, 10)).toEqual([{ id: overdue.id, attempt: 0 }]);

      const claimAfter = await store().claimTask({
        taskId: overdue.id,
        attempt: 0,
        agentId: 'a',
        now: T0 + 1_000,
        leaseMs: 1,
      });
      expect(claimAfter.claimed).toBe(false);
      expect(await store().expireTask({ taskId: overdue.id, attempt: 0, now: T0 + 1_000 })).toBe(true);
      expect(await mustGet(store(), overdue.id)).toMatchObject({ status: 'expired', finishedAt: T0 + 1_000 });
      expect(await eventKinds(store(), overdue.id)).toEqual(['submitted', 'expired']);
      expect(await store().listOverdue(T0 + 1_000, 10)).toEqual([]);
      expect(await store().expireTask({ taskId: overdue.id, attempt: 0, now: T0 + 2_000 })).toBe(false);
    });

    it('refuses before the deadline, on another attempt, or when the task is not queued', async () => {
      const task = await submit(store(), { deadline: T0 + 1_000 });
      expect(await store().expireTask({ taskId: task.id, attempt: 0, now: T0 + 999 })).toBe(false);
      expect(await store().expireTask({ taskId: task.id, attempt: 1, now: T0 + 1_000 })).toBe(false);
      await claim(store(), task, 'agent-a', T0 + 500);
      expect(await store().expireTask({ taskId: task.id, attempt: 1, now: T0 + 1_000 })).toBe(false);
      expect((await mustGet(store(), task.id)).status).toBe('running');
      expect(await store().listOverdue(T0 + 2_000, 10)).toEqual([]);
    });
  });

  describe('expireUnroutable', () => {
    it('expires a queued task due since the given time, with the reason, and refuses otherwise', async () => {
      const old = await submit(store(), { notBefore: T0 });
      const recent = await submit(store(), { notBefore: T0 + 5_000 });
      const running = await claim(store(), await submit(store(), { notBefore: T0 }), 'agent-a', T0 + 100);
      const at = T0 + 10_000;
      expect(await store().expireUnroutable({ taskId: recent.id, attempt: 0, dueBefore: T0 + 1_000, now: at })).toBe(
        false,
      );
      expect(await store().expireUnroutable({ taskId: old.id, attempt: 1, dueBefore: T0 + 1_000, now: at })).toBe(
        false,
      );
      expect(await store().expireUnroutable({ taskId: running.id, attempt: 1, dueBefore: T0 + 1_000, now: at })).toBe(
        false,
      );
      expect(await store().expireUnroutable({ taskId: old.id, attempt: 0, dueBefore: T0 + 1_000, now: at })).toBe(true);
      expect(await mustGet(store(), old.id)).toMatchObject({ status: 'expired', finishedAt: at });
      const events = await store().listTaskEvents(old.id);
      expect(events.map((e) => [e.kind, e.data ?? null])).toEqual([
        ['submitted', null],
        ['expired', { reason: 'unroutable' }],
      ]);
      expect(await store().expireUnroutable({ taskId: old.id, attempt: 0, dueBefore: T0 + 1_000, now: at })).toBe(
        false,
      );
      expect((await mustGet(store(), recent.id)).status).toBe('queued');
    });
  });

  describe('listQueuedForDispatch and markDispatched', () => {
    const ids = (rows: DispatchRow[]) => rows.map((r) => r.id);

    it('lists queued tasks by id ascending, paged by afterId', async () => {
      const a = await submit(store(), { type: 'resize', requiredCapabilities: ['gpu'], priority: 'critical' });
      const b = await submit(store());
      const c = await submit(store());
      const d = await submit(store());
      await claim(store(), b);
      await store().requestCancel(c.id, T0 + 1);
      const all = await store().listQueuedForDispatch({ limit: 10 });
      expect(all).toEqual([
        { id: a.id, attempt: 0, type: 'resize', requiredCapabilities: ['gpu'], priority: 'critical', notBefore: T0 },
        { id: d.id, attempt: 0, type: 'echo', requiredCapabilities: [], priority: 'normal', notBefore: T0 },
      ]);
      expect(ids(await store().listQueuedForDispatch({ limit: 1 }))).toEqual([a.id]);
      expect(ids(await store().listQueuedForDispatch({ limit: 1, afterId: a.id }))).toEqual([d.id]);
      expect(await store().listQueuedForDispatch({ limit: 1, afterId: d.id })).toEqual([]);
    });

    it('with dueBefore, lists only tasks last dispatched and due by then', async () => {
      const now = await submit(store(), { createdAt: T0, notBefore: T0 });
      const later = await submit(store(), { createdAt: T0, notBefore: T0 + 60_000 });
      const fresh = await submit(store(), { createdAt: T0 + 5_000, notBefore: T0 + 5_000 });
      expect(ids(await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 1_000 }))).toEqual([now.id]);
      expect(ids(await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 5_000 }))).toEqual([
        now.id,
        fresh.id,
      ]);
      expect(ids(await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 60_000 }))).toEqual([
        now.id,
        later.id,
        fresh.id,
      ]);
      expect(ids(await store().listQueuedForDispatch({ limit: 1, dueBefore: T0 + 60_000, afterId: now.id }))).toEqual([
        later.id,
      ]);
    });

    it('markDispatched pushes the tasks back until their next due time', async () => {
      const a = await submit(store());
      const b = await submit(store());
      await store().markDispatched([a.id], T0 + 10_000);
      await store().markDispatched([], T0 + 10_000);
      expect(ids(await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 9_999 }))).toEqual([b.id]);
      expect(ids(await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 10_000 }))).toEqual([a.id, b.id]);
      expect(ids(await store().listQueuedForDispatch({ limit: 10 }))).toEqual([a.id, b.id]);
    });

    it('treats a requeue or release as a fresh dispatch, even when not_before is earlier', async () => {
      const failed = await claim(store(), await submit(store()), 'agent-a', T0);
      const expired = await claim(store(), await submit(store()), 'agent-a', T0);
      const released = await claim(store(), await submit(store()), 'agent-a', T0);
      const error = { message: 'x', kind: 'handler' };
      const retryAt = (notBefore: number): RetryDecision => ({ status: 'queued', notBefore, delayMs: 0 });
      await store().failTask({ ...leaseOf(failed, T0 + 5_000), error, decision: retryAt(T0 + 4_000) });
      const reapAt = T0 + LEASE_MS + 1;
      await store().requeueExpiredLease({ taskId: expired.id, attempt: 1, now: reapAt, decision: retryAt(T0 + 4_000) });
      await store().releaseTask(leaseOf(released, reapAt + 1_000));
      const due = (at: number) => store().listQueuedForDispatch({ limit: 10, dueBefore: at }).then(ids);
      expect(await due(T0 + 4_999)).toEqual([]);
      expect(await due(T0 + 5_000)).toEqual([failed.id]);
      expect(await due(reapAt)).toEqual([failed.id, expired.id]);
      expect(await due(reapAt + 1_000)).toEqual([failed.id, expired.id, released.id]);
      const rows = await store().listQueuedForDispatch({ limit: 10 });
      expect(rows.map((r) => [r.attempt, r.notBefore])).toEqual([
        [1, T0 + 4_000],
        [1, T0 + 4_000],
        [1, reapAt + 1_000],
      ]);
    });

    it('ignores unknown ids and tasks that are not queued', async () => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      await expect(store().markDispatched([running.id, 'missing'], T0 + 50_000)).resolves.toBeUndefined();
      expect(await mustGet(store(), running.id)).toEqual(running);
    });
  });

  describe('listClaimable', () => {
    const ids = (rows: DispatchRow[]) => rows.map((r) => r.id);
    const gpu = { type: 'resize', capabilities: ['fs', 'gpu'] };
    const plain = { type: 'echo', capabilities: [] };

    it('lists the due queued tasks of the given routes, critical first, then oldest, then id, each route by its own time', async () => {
      const low = await submit(store(), { type: 'echo', priority: 'low' });
      const [smaller, larger] = [newTask().id, newTask().id];
      const tieSecond = await submit(store(), { id: larger, type: 'echo', notBefore: T0 + 100 });
      const tieFirst = await submit(store(), { id: smaller, type: 'echo', notBefore: T0 + 100 });
      const critical = await submit(store(), {
        type: 'resize',
        requiredCapabilities: ['gpu', 'fs'],
        priority: 'critical',
        notBefore: T0 + 500,
      });
      const gpuLate = await submit(store(), {
        type: 'resize',
        requiredCapabilities: ['gpu', 'fs'],
        notBefore: T0 + 900,
      });
      const notDue = await submit(store(), { type: 'echo', notBefore: T0 + 5_000 });
      await submit(store(), { type: 'echo', requiredCapabilities: ['gpu'] });
      await claim(store(), await submit(store(), { type: 'echo' }));
      await store().requestCancel((await submit(store(), { type: 'echo' })).id, T0 + 1);

      const both = [
        { route: plain, dueBefore: T0 + 1_000 },
        { route: gpu, dueBefore: T0 + 1_000 },
      ];
      const rows = await store().listClaimable({ routes: both, limit: 10 });
      expect(ids(rows)).toEqual([critical.id, tieFirst.id, tieSecond.id, gpuLate.id, low.id]);
      expect(rows[0]).toEqual({
        id: critical.id,
        attempt: 0,
        type: 'resize',
        requiredCapabilities: ['fs', 'gpu'],
        priority: 'critical',
        notBefore: T0 + 500,
      });
      expect(ids(await store().listClaimable({ routes: both, limit: 2 }))).toEqual([critical.id, tieFirst.id]);
      // Each route is due by its own time: the gpu route only up to T0 + 600 here.
      const spilled = await store().listClaimable({
        routes: [
          { route: plain, dueBefore: T0 + 10_000 },
          { route: gpu, dueBefore: T0 + 600 },
        ],
        limit: 10,
      });
      expect(ids(spilled)).toEqual([critical.id, tieFirst.id, tieSecond.id, notDue.id, low.id]);
    });

    it('gives nothing for no routes, or for a route no task was submitted on', async () => {
      await submit(store(), { type: 'echo' });
      expect(await store().listClaimable({ routes: [], limit: 10 })).toEqual([]);
      const unknown = [{ route: { type: 'never', capabilities: ['x'] }, dueBefore: T0 + 1_000 }];
      expect(await store().listClaimable({ routes: unknown, limit: 10 })).toEqual([]);
    });
  });

  describe('listQueuedOnRoute', () => {
    const ids = (rows: DispatchRow[]) => rows.map((r) => r.id);
    const route = { type: 'resize', capabilities: ['fs', 'gpu'] };
    const onRoute = (overrides: Parameters<typeof submit>[1] = {}) =>
      submit(store(), { type: 'resize', requiredCapabilities: ['gpu', 'fs'], ...overrides });

    it('lists the queued tasks of that route only, due and last sent by the given times, by notBefore then id', async () => {
      const late = await onRoute({ notBefore: T0 + 2_000 });
      // Inserted against id order: ties sort by id, not by insertion.
      const [smaller, larger] = [newTask().id, newTask().id];
      const tieSecond = await onRoute({ id: larger, notBefore: T0 + 1_000 });
      const tieFirst = await onRoute({ id: smaller, notBefore: T0 + 1_000 });
      const oldest = await onRoute({ priority: 'high' });
      await submit(store(), { type: 'echo', requiredCapabilities: ['fs', 'gpu'] });
      await submit(store(), { type: 'resize', requiredCapabilities: ['gpu'] });
      await submit(store(), { type: 'resize', requiredCapabilities: ['fs', 'gpu', 'ssd'] });
      const notDue = await onRoute({ notBefore: T0 + 10_001 });
      const resent = await onRoute();
      await store().markDispatched([resent.id], T0 + 20_000);
      await claim(store(), await onRoute());
      await store().requestCancel((await onRoute()).id, T0 + 1);

      const rows = await store().listQueuedOnRoute({
        route,
        dueBefore: T0 + 10_000,
        sentBefore: T0 + 10_000,
        limit: 10,
      });
      expect(ids(rows)).toEqual([oldest.id, tieFirst.id, tieSecond.id, late.id]);
      expect(rows[0]).toEqual({
        id: oldest.id,
        attempt: 0,
        type: 'resize',
        requiredCapabilities: ['fs', 'gpu'],
        priority: 'high',
        notBefore: T0,
      });
      const later = await store().listQueuedOnRoute({
        route,
        dueBefore: T0 + 20_000,
        sentBefore: T0 + 20_000,
        limit: 10,
      });
      expect(ids(later)).toEqual([oldest.id, resent.id, tieFirst.id, tieSecond.id, late.id, notDue.id]);
      const dueOnly = await store().listQueuedOnRoute({
        route,
        dueBefore: T0 + 1_000,
        sentBefore: T0 + 20_000,
        limit: 10,
      });
      expect(ids(dueOnly)).toEqual([oldest.id, resent.id, tieFirst.id, tieSecond.id]);
    });

    it('pages by the (notBefore, id) keyset without overlap, at most limit a page', async () => {
      const expected: string[] = [];
      for (const notBefore of [T0, T0, T0 + 1, T0 + 1, T0 + 1, T0 + 2])
        expected.push((await onRoute({ notBefore })).id);
      const query = { route, dueBefore: T0 + 5, sentBefore: T0 + 5, limit: 2 };
      const pages: string[][] = [];
      let after: { notBefore: number; id: string } | undefined;
      // Bounded: a keyset that does not move on would otherwise page forever.
      for (let turn = 0; turn < 10; turn++) {
        const page = await store().listQueuedOnRoute({ ...query, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        pages.push(ids(page));
        const last = page[page.length - 1]!;
        after = { notBefore: last.notBefore, id: last.id };
      }
      expect(pages).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4, 6)]);
      const midTie = { notBefore: T0 + 1, id: expected[2]! };
      expect(ids(await store().listQueuedOnRoute({ ...query, limit: 10, after: midTie }))).toEqual(expected.slice(3));
    });

    it('gives nothing for a route no task was submitted on', async () => {
      await onRoute();
      await submit(store());
      const query = { dueBefore: T0 + 1_000, sentBefore: T0 + 1_000, limit: 10 };
      expect(await store().listQueuedOnRoute({ ...query, route: { type: 'unknown', capabilities: [] } })).toEqual([]);
      expect(await store().listQueuedOnRoute({ ...query, route: { type: 'resize', capabilities: ['ssd'] } })).toEqual(
        [],
      );
      const generic = await store().listQueuedOnRoute({ ...query, route: { type: 'echo', capabilities: [] } });
      expect(generic.map((r) => [r.type, r.requiredCapabilities])).toEqual([['echo', []]]);
    });
  });
}
