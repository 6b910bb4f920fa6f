/** Contract: the lease-bound life of an attempt (claim, renew, complete, fail, cancel, release) and fencing. */
import type { TaskError } from '../../src/domain/task';
import type { RetryDecision } from '../../src/domain/transitions';
import type { CurrentStore } from './store.contract';
import { claim, eventKinds, LEASE_MS, leaseOf, mustGet, submit, T0 } from './fixtures';

const ERROR: TaskError = { message: 'boom', name: 'Error', kind: 'handler' };
const RETRY: RetryDecision = { status: 'queued', notBefore: T0 + 10_000, delayMs: 8_000 };

export function leaseContract(store: CurrentStore): void {
  describe('claimTask', () => {
    it('claims a queued dispatch: running, attempt + 1, lease, started event', async () => {
      const task = await submit(store());
      const now = T0 + 1_000;
      const result = await store().claimTask({
        taskId: task.id,
        attempt: 0,
        agentId: 'agent-a',
        now,
        leaseMs: LEASE_MS,
      });
      const expected = {
        ...task,
        status: 'running',
        attempt: 1,
        agentId: 'agent-a',
        leaseExpiresAt: now + LEASE_MS,
        startedAt: now,
        updatedAt: now,
      };
      expect(result).toEqual({ claimed: true, task: expected });
      expect(await store().getTask(task.id)).toEqual(expected);
      const events = await store().listTaskEvents(task.id);
      expect(events[1]).toMatchObject({ kind: 'started', attempt: 1, agentId: 'agent-a', at: now });
    });

    it('lets only one claim of a dispatch win', async () => {
      const task = await submit(store());
      const winner = await claim(store(), task, 'agent-a');
      const loser = await store().claimTask({
        taskId: task.id,
        attempt: 0,
        agentId: 'agent-b',
        now: T0 + 2_000,
        leaseMs: LEASE_MS,
      });
      expect(loser).toEqual({ claimed: false, current: winner });
      expect(await eventKinds(store(), task.id)).toEqual(['submitted', 'started']);
    });

    it('refuses a stale or future attempt without writing', async () => {
      const task = await submit(store());
      const result = await store().claimTask({ taskId: task.id, attempt: 1, agentId: 'a', now: T0 + 1, leaseMs: 1 });
      expect(result).toEqual({ claimed: false, current: task });
      expect(await eventKinds(store(), task.id)).toEqual(['submitted']);
    });

    it('returns current null for an unknown task', async () => {
      const result = await store().claimTask({ taskId: 'missing', attempt: 0, agentId: 'a', now: T0, leaseMs: 1 });
      expect(result).toEqual({ claimed: false, current: null });
    });

    it('refuses a task whose deadline has passed', async () => {
      const task = await submit(store(), { deadline: T0 + 500 });
      const result = await store().claimTask({ taskId: task.id, attempt: 0, agentId: 'a', now: T0 + 500, leaseMs: 1 });
      expect(result).toEqual({ claimed: false, current: task });
      await expect(claim(store(), task, 'a', T0 + 499)).resolves.toMatchObject({ status: 'running' });
    });

    it('clears the error of the previous attempt', async () => {
      const running = await claim(store(), await submit(store()));
      await store().failTask({ ...leaseOf(running, T0 + 2_000), error: ERROR, decision: RETRY });
      expect((await mustGet(store(), running.id)).error).toEqual(ERROR);
      const again = await claim(store(), { id: running.id, attempt: 1 }, 'agent-b', T0 + 11_000);
      expect(again).toMatchObject({ attempt: 2, error: null, agentId: 'agent-b' });
    });
  });

  describe('renewLease', () => {
    it('extends a held lease and reports a cancel request', async () => {
      const running = await claim(store(), await submit(store()));
      const renewed = await store().renewLease({ ...leaseOf(running, T0 + 20_000), leaseMs: LEASE_MS });
      expect(renewed).toEqual({ held: true, cancelRequested: false });
      expect((await mustGet(store(), running.id)).leaseExpiresAt).toBe(T0 + 20_000 + LEASE_MS);
      await store().requestCancel(running.id, T0 + 21_000);
      const after = await store().renewLease({ ...leaseOf(running, T0 + 22_000), leaseMs: LEASE_MS });
      expect(after).toEqual({ held: true, cancelRequested: true });
    });

    it('is not held by another agent, another attempt, or after the attempt ended', async () => {
      const running = await claim(store(), await submit(store()));
      const lease = leaseOf(running, T0 + 2_000);
      const leaseMs = LEASE_MS;
      expect((await store().renewLease({ ...lease, agentId: 'other', leaseMs })).held).toBe(false);
      expect((await store().renewLease({ ...lease, attempt: 2, leaseMs })).held).toBe(false);
      await store().completeTask({ ...lease, result: null });
      expect((await store().renewLease({ ...lease, leaseMs })).held).toBe(false);
      expect((await mustGet(store(), running.id)).leaseExpiresAt).toBeNull();
    });
  });

  describe('completeTask', () => {
    it('completes the current attempt of its holder', async () => {
      const running = await claim(store(), await submit(store()));
      expect(await store().completeTask({ ...leaseOf(running, T0 + 5_000), result: { rows: [1, 2] } })).toBe(true);
      expect(await mustGet(store(), running.id)).toEqual({
        ...running,
        status: 'succeeded',
        result: { rows: [1, 2] },
        leaseExpiresAt: null,
        finishedAt: T0 + 5_000,
        updatedAt: T0 + 5_000,
      });
      expect((await store().listTaskEvents(running.id))[2]).toMatchObject({
        kind: 'succeeded',
        attempt: 1,
        agentId: 'agent-a',
        at: T0 + 5_000,
      });
      // runMs: from the claim (T0 + 1_000) to the outcome.
      expect((await store().listTaskEvents(running.id))[2]?.data).toEqual({ runMs: 4_000, totalMs: 5_000 });
      // waitMs on the start: from when it was due (submitted at T0) to the claim.
      expect((await store().listTaskEvents(running.id))[1]?.data).toEqual({ waitMs: 1_000 });
    });

    it('rejects a zombie whose attempt was requeued and reclaimed, recording result_rejected', async () => {
      const zombie = await claim(store(), await submit(store()), 'agent-a');
      await store().failTask({ ...leaseOf(zombie, T0 + 2_000), error: ERROR, decision: RETRY });
      const current = await claim(store(), { id: zombie.id, attempt: 1 }, 'agent-b', T0 + 11_000);
      expect(await store().completeTask({ ...leaseOf(zombie, T0 + 12_000), result: 'stale' })).toBe(false);
      expect(await mustGet(store(), zombie.id)).toEqual(current);
      const events = await store().listTaskEvents(zombie.id);
      expect(events.at(-1)).toMatchObject({
        kind: 'result_rejected',
        attempt: 1,
        agentId: 'agent-a',
        at: T0 + 12_000,
        data: { outcome: 'succeeded' },
      });
    });

    it('rejects a holder whose expired lease was requeued', async () => {
      const zombie = await claim(store(), await submit(store()), 'agent-a', T0);
      const expiredAt = T0 + LEASE_MS + 1;
      const decision: RetryDecision = { status: 'queued', notBefore: expiredAt, delayMs: 0 };
      expect(await store().requeueExpiredLease({ taskId: zombie.id, attempt: 1, now: expiredAt, decision })).toBe(true);
      expect(await store().completeTask({ ...leaseOf(zombie, expiredAt + 1), result: 'late' })).toBe(false);
      expect(await mustGet(store(), zombie.id)).toMatchObject({ status: 'queued', result: null, attempt: 1 });
      expect((await eventKinds(store(), zombie.id)).at(-1)).toBe('result_rejected');
    });

    it('rejects a second completion and a non-holder, keeping the first result', async () => {
      const running = await claim(store(), await submit(store()));
      const lease = leaseOf(running, T0 + 2_000);
      expect(await store().completeTask({ ...lease, agentId: 'impostor', result: 'x' })).toBe(false);
      expect(await store().completeTask({ ...lease, result: 'first' })).toBe(true);
      expect(await store().completeTask({ ...lease, result: 'second' })).toBe(false);
      expect(await mustGet(store(), running.id)).toMatchObject({ status: 'succeeded', result: 'first' });
      const kinds = await eventKinds(store(), running.id);
      expect(kinds).toEqual(['submitted', 'started', 'result_rejected', 'succeeded', 'result_rejected']);
    });

    it('records nothing for an unknown task', async () => {
      const ref = { taskId: 'missing', attempt: 1, agentId: 'a', now: T0 };
      expect(await store().completeTask({ ...ref, result: 1 })).toBe(false);
      expect(await store().failTask({ ...ref, error: ERROR, decision: RETRY })).toBe(false);
      expect(await store().listTaskEvents('missing')).toEqual([]);
    });
  });

  describe('failTask', () => {
    it('requeues with not_before when the decision is queued', async () => {
      const running = await claim(store(), await submit(store()));
      expect(await store().failTask({ ...leaseOf(running, T0 + 2_000), error: ERROR, decision: RETRY })).toBe(true);
      expect(await mustGet(store(), running.id)).toEqual({
        ...running,
        status: 'queued',
        error: ERROR,
        agentId: null,
        leaseExpiresAt: null,
        notBefore: T0 + 10_000,
        updatedAt: T0 + 2_000,
      });
      const events = await store().listTaskEvents(running.id);
      expect(events[2]?.data).toEqual({ ...ERROR, runMs: 1_000 });
      expect(events.slice(2)).toMatchObject([
        { kind: 'failed', attempt: 1, agentId: 'agent-a', data: ERROR },
        { kind: 'retry_scheduled', attempt: 1, data: { notBefore: T0 + 10_000, delayMs: 8_000 } },
      ]);
    });

    it('kills the task when the decision is dead', async () => {
      const running = await claim(store(), await submit(store(), { maxAttempts: 1 }));
      const ok = await store().failTask({
        ...leaseOf(running, T0 + 2_000),
        error: ERROR,
        decision: { status: 'dead' },
      });
      expect(ok).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'dead',
        error: ERROR,
        leaseExpiresAt: null,
        finishedAt: T0 + 2_000,
      });
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started', 'failed', 'dead']);
      expect((await store().listTaskEvents(running.id))[2]?.data).toEqual({ ...ERROR, runMs: 1_000 });
    });

    it('rejects a stale attempt, recording result_rejected and keeping the stored error', async () => {
      const running = await claim(store(), await submit(store()));
      await store().failTask({ ...leaseOf(running, T0 + 2_000), error: ERROR, decision: RETRY });
      const other: TaskError = { message: 'late', kind: 'timeout' };
      const stale = await store().failTask({
        ...leaseOf(running, T0 + 3_000),
        error: other,
        decision: { status: 'dead' },
      });
      expect(stale).toBe(false);
      expect(await mustGet(store(), running.id)).toMatchObject({ status: 'queued', error: ERROR });
      expect((await store().listTaskEvents(running.id)).at(-1)).toMatchObject({
        kind: 'result_rejected',
        attempt: 1,
        agentId: 'agent-a',
        data: { outcome: 'failed' },
      });
    });
  });

  describe('requestCancel and finishCancelled', () => {
    it('cancels a queued task at once', async () => {
      const task = await submit(store());
      const { outcome, task: after } = await store().requestCancel(task.id, T0 + 1_000);
      expect(outcome).toBe('cancelled');
      expect(after).toEqual({ ...task, status: 'cancelled', finishedAt: T0 + 1_000, updatedAt: T0 + 1_000 });
      expect(await eventKinds(store(), task.id)).toEqual(['submitted', 'cancelled']);
      expect(
        (await store().claimTask({ taskId: task.id, attempt: 0, agentId: 'a', now: T0 + 2_000, leaseMs: 1 })).claimed,
      ).toBe(false);
    });

    it('flags a running task once, then the holder finishes it as cancelled', async () => {
      const running = await claim(store(), await submit(store()));
      const first = await store().requestCancel(running.id, T0 + 2_000);
      expect(first.outcome).toBe('requested');
      expect(first.task).toMatchObject({ status: 'running', cancelRequested: true, attempt: 1 });
      expect((await store().requestCancel(running.id, T0 + 2_500)).outcome).toBe('requested');
      expect(await store().finishCancelled(leaseOf(running, T0 + 3_000))).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'cancelled',
        leaseExpiresAt: null,
        finishedAt: T0 + 3_000,
      });
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started', 'cancel_requested', 'cancelled']);
    });

    it('leaves terminal tasks unchanged and reports unknown ones', async () => {
      const running = await claim(store(), await submit(store()));
      await store().completeTask({ ...leaseOf(running, T0 + 2_000), result: 1 });
      const done = await mustGet(store(), running.id);
      expect(await store().requestCancel(running.id, T0 + 3_000)).toEqual({ outcome: 'already_terminal', task: done });
      expect(await store().requestCancel('missing', T0)).toEqual({ outcome: 'not_found', task: null });
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started', 'succeeded']);
    });

    it('finishes only a requested cancel of the current attempt', async () => {
      const running = await claim(store(), await submit(store()));
      expect(await store().finishCancelled(leaseOf(running, T0 + 2_000))).toBe(false);
      await store().requestCancel(running.id, T0 + 2_000);
      expect(await store().finishCancelled({ ...leaseOf(running, T0 + 2_000), attempt: 2 })).toBe(false);
      expect(await store().finishCancelled({ ...leaseOf(running, T0 + 2_000), agentId: 'other' })).toBe(false);
      expect((await mustGet(store(), running.id)).status).toBe('running');
    });
  });

  describe('releaseTask', () => {
    it('hands a running task back to the queue without a failure', async () => {
      const running = await claim(store(), await submit(store()));
      expect(await store().releaseTask({ ...leaseOf(running, T0 + 2_000), agentId: 'other' })).toBe(false);
      expect(await store().releaseTask(leaseOf(running, T0 + 2_000))).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'queued',
        attempt: 1,
        agentId: null,
        leaseExpiresAt: null,
        error: null,
        notBefore: T0 + 2_000,
      });
      expect((await store().listTaskEvents(running.id)).at(-1)).toMatchObject({
        kind: 'released',
        attempt: 1,
        agentId: 'agent-a',
      });
      expect(await store().releaseTask(leaseOf(running, T0 + 2_500))).toBe(false);
      await expect(claim(store(), { id: running.id, attempt: 1 }, 'agent-b', T0 + 3_000)).resolves.toMatchObject({
        attempt: 2,
      });
    });
  });
}
