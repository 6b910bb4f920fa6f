import { backoffDelayMs } from '../../src/domain/backoff';
import { TASK_STATUSES, TERMINAL_STATUSES, type TaskStatus } from '../../src/domain/task';
import { afterFailure, afterLeaseExpiry, canTransition } from '../../src/domain/transitions';

const policy = { baseMs: 1_000, maxMs: 60_000 };
const NOW = 1_700_000_000_000;
const fixed = (r: number) => () => r;

describe('afterFailure', () => {
  it('requeues with a backoff delay while attempts remain', () => {
    expect(afterFailure({ attempt: 1, maxAttempts: 3 }, NOW, policy, { random: fixed(0) })).toEqual({
      status: 'queued',
      delayMs: 500,
      notBefore: NOW + 500,
    });
  });

  it('bases the delay on the attempt that failed, so it grows attempt by attempt', () => {
    const delays = [1, 2, 3, 4].map((attempt) => {
      const d = afterFailure({ attempt, maxAttempts: 10 }, NOW, policy, { random: fixed(0.5) });
      if (d.status !== 'queued') throw new Error('expected a retry');
      expect(d.notBefore).toBe(NOW + d.delayMs);
      return d.delayMs;
    });
    expect(delays).toEqual([750, 1_500, 3_000, 6_000]);
  });

  it('uses exactly the backoff policy (with the same random source)', () => {
    for (const attempt of [1, 2, 5, 9]) {
      const d = afterFailure({ attempt, maxAttempts: 10 }, NOW, policy, { random: fixed(0.3) });
      expect(d).toEqual({
        status: 'queued',
        delayMs: backoffDelayMs(attempt, policy, fixed(0.3)),
        notBefore: NOW + backoffDelayMs(attempt, policy, fixed(0.3)),
      });
    }
  });

  it('caps the delay at the policy maximum', () => {
    const d = afterFailure({ attempt: 30, maxAttempts: 100 }, NOW, policy, { random: fixed(0.999_999_9) });
    expect(d).toEqual({ status: 'queued', delayMs: 60_000, notBefore: NOW + 60_000 });
  });

  it('keeps the jitter within [half, full] of the exponential delay', () => {
    for (const r of [0, 0.1, 0.5, 0.9, 0.999]) {
      const d = afterFailure({ attempt: 3, maxAttempts: 5 }, NOW, policy, { random: fixed(r) });
      if (d.status !== 'queued') throw new Error('expected a retry');
      expect(d.delayMs).toBeGreaterThanOrEqual(2_000);
      expect(d.delayMs).toBeLessThanOrEqual(4_000);
    }
  });

  it('is dead once the last attempt fails', () => {
    expect(afterFailure({ attempt: 3, maxAttempts: 3 }, NOW, policy)).toEqual({ status: 'dead' });
    expect(afterFailure({ attempt: 1, maxAttempts: 1 }, NOW, policy)).toEqual({ status: 'dead' });
  });

  it('is dead when the attempt count is somehow past the maximum', () => {
    expect(afterFailure({ attempt: 4, maxAttempts: 3 }, NOW, policy)).toEqual({ status: 'dead' });
  });

  it('retries the second-to-last attempt', () => {
    expect(afterFailure({ attempt: 2, maxAttempts: 3 }, NOW, policy, { random: fixed(0) }).status).toBe('queued');
  });

  it('never retries a permanent failure, even with attempts left', () => {
    expect(afterFailure({ attempt: 1, maxAttempts: 10 }, NOW, policy, { permanent: true })).toEqual({ status: 'dead' });
  });

  it('treats permanent: false like an ordinary failure', () => {
    const d = afterFailure({ attempt: 1, maxAttempts: 2 }, NOW, policy, { permanent: false, random: fixed(0) });
    expect(d.status).toBe('queued');
  });

  it('does not consume randomness when the task is dead', () => {
    const random = jest.fn(() => 0.5);
    afterFailure({ attempt: 3, maxAttempts: 3 }, NOW, policy, { random });
    afterFailure({ attempt: 1, maxAttempts: 3 }, NOW, policy, { permanent: true, random });
    expect(random).not.toHaveBeenCalled();
  });
});

describe('afterLeaseExpiry', () => {
  it('requeues immediately (no backoff) while attempts remain', () => {
    expect(afterLeaseExpiry({ attempt: 1, maxAttempts: 3 }, NOW)).toEqual({
      status: 'queued',
      notBefore: NOW,
      delayMs: 0,
    });
    expect(afterLeaseExpiry({ attempt: 2, maxAttempts: 3 }, NOW)).toEqual({
      status: 'queued',
      notBefore: NOW,
      delayMs: 0,
    });
  });

  it('is dead when the expired attempt was the last', () => {
    expect(afterLeaseExpiry({ attempt: 3, maxAttempts: 3 }, NOW)).toEqual({ status: 'dead' });
    expect(afterLeaseExpiry({ attempt: 1, maxAttempts: 1 }, NOW)).toEqual({ status: 'dead' });
    expect(afterLeaseExpiry({ attempt: 5, maxAttempts: 3 }, NOW)).toEqual({ status: 'dead' });
  });
});

describe('canTransition', () => {
  const allowed: Record<TaskStatus, TaskStatus[]> = {
    queued: ['running', 'cancelled', 'expired'],
    running: ['succeeded', 'queued', 'dead', 'cancelled'],
    succeeded: [],
    dead: ['queued'],
    cancelled: ['queued'],
    expired: ['queued'],
  };

  const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to] as const));

  it.each(pairs)('%s → %s follows the lifecycle table', (from, to) => {
    expect(canTransition(from, to)).toBe(allowed[from].includes(to));
  });

  it('allows no self-transition', () => {
    for (const s of TASK_STATUSES) expect(canTransition(s, s)).toBe(false);
  });

  it('claims only from queued, and a task can only succeed from running', () => {
    expect(TASK_STATUSES.filter((s) => canTransition(s, 'running'))).toEqual(['queued']);
    expect(TASK_STATUSES.filter((s) => canTransition(s, 'succeeded'))).toEqual(['running']);
  });

  it('expires only a task that was never claimed', () => {
    expect(TASK_STATUSES.filter((s) => canTransition(s, 'expired'))).toEqual(['queued']);
  });

  it('leaves a terminal status only by a retry on demand, back to queued, and never a succeeded task', () => {
    for (const s of TERMINAL_STATUSES) {
      expect(TASK_STATUSES.filter((to) => canTransition(s, to))).toEqual(s === 'succeeded' ? [] : ['queued']);
    }
  });

  it('lets both a failure retry and a lease expiry return a running task to queued or dead', () => {
    expect(canTransition('running', 'queued')).toBe(true);
    expect(canTransition('running', 'dead')).toBe(true);
    expect(canTransition('queued', 'dead')).toBe(false);
  });
});
