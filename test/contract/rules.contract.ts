/**
 * Contract: the rules decided once in src/domain (agent.ts, storeRules.ts) are what every store writes. The
 * other suites check the same behaviour against literal values; these check that a store takes the value from
 * the domain, so a rule changed there changes every store at once.
 */
import { AGENT_STATES, CLAIM_REFUSED_STATES, type AgentState } from '../../src/domain/agent';
import { ConflictError } from '../../src/domain/errors';
import {
  idempotencyConflictMessage,
  LEASE_EXPIRED_ERROR,
  LEASE_RECLAIMED_ERROR,
  RESULT_REJECTED,
  resultRejectedData,
  retryScheduledData,
} from '../../src/domain/storeRules';
import type { RetryDecision } from '../../src/domain/transitions';
import type { CurrentStore } from './store.contract';
import { claim, LEASE_MS, leaseOf, mustGet, newTask, submit, T0 } from './fixtures';

const REQUEUE: Extract<RetryDecision, { status: 'queued' }> = {
  status: 'queued',
  notBefore: T0 + 9_000,
  delayMs: 4_000,
};
const DEAD: RetryDecision = { status: 'dead' };

export function rulesContract(store: CurrentStore): void {
  describe('rules decided in src/domain', () => {
    /** Registers agent-1 (running) and moves it to `state`. */
    async function agentIn(state: AgentState): Promise<void> {
      await store().registerAgent(
        { id: 'agent-1', capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: '0' },
        T0,
      );
      if (state !== 'running') {
        const moved = await store().setAgentState({ agentId: 'agent-1', to: state, reason: 'test', now: T0 + 1 });
        expect(moved).toBe(true);
      }
    }

    it.each(AGENT_STATES.map((state) => [state, CLAIM_REFUSED_STATES.includes(state)] as const))(
      'a claim by a %s agent: refused = %s, as CLAIM_REFUSED_STATES says',
      async (state, refused) => {
        await agentIn(state);
        const task = await submit(store());
        const result = await store().claimTask({
          taskId: task.id,
          attempt: 0,
          agentId: 'agent-1',
          now: T0 + 2_000,
          leaseMs: LEASE_MS,
        });
        expect(result.claimed).toBe(!refused);
        expect((await mustGet(store(), task.id)).status).toBe(refused ? 'queued' : 'running');
      },
    );

    it('records a refused completion and a refused failure as RESULT_REJECTED with resultRejectedData', async () => {
      const running = await claim(store(), await submit(store()));
      const stale = leaseOf(running, T0 + 2_000);
      expect(await store().completeTask({ ...stale, agentId: 'impostor', result: 1 })).toBe(false);
      const error = { message: 'late', kind: 'handler' };
      expect(await store().failTask({ ...stale, agentId: 'impostor', error, decision: DEAD })).toBe(false);
      const rejected = (await store().listTaskEvents(running.id)).filter((event) => event.kind === RESULT_REJECTED);
      expect(rejected.map((event) => event.data)).toEqual([
        resultRejectedData('succeeded'),
        resultRejectedData('failed'),
      ]);
    });

    it.each([
      ['requeued', REQUEUE],
      ['killed', DEAD],
    ] as const)('writes LEASE_EXPIRED_ERROR on an expired lease %s', async (_outcome, decision) => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      const now = T0 + LEASE_MS + 1;
      expect(await store().requeueExpiredLease({ taskId: running.id, attempt: 1, now, decision })).toBe(true);
      expect((await mustGet(store(), running.id)).error).toEqual(LEASE_EXPIRED_ERROR);
    });

    it.each([
      ['requeued', REQUEUE],
      ['killed', DEAD],
    ] as const)('writes LEASE_RECLAIMED_ERROR on a reclaimed lease %s', async (_outcome, decision) => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      expect(await store().reclaimLease({ ...leaseOf(running, T0 + 5), decision })).toBe(true);
      expect((await mustGet(store(), running.id)).error).toEqual(LEASE_RECLAIMED_ERROR);
    });

    it('records retry_scheduled with retryScheduledData after a failure, an expiry and a reclaim', async () => {
      const failed = await claim(store(), await submit(store()));
      await store().failTask({
        ...leaseOf(failed, T0 + 2_000),
        error: { message: 'x', kind: 'handler' },
        decision: REQUEUE,
      });
      const expired = await claim(store(), await submit(store()), 'agent-a', T0);
      await store().requeueExpiredLease({ taskId: expired.id, attempt: 1, now: T0 + LEASE_MS + 1, decision: REQUEUE });
      const reclaimed = await claim(store(), await submit(store()));
      await store().reclaimLease({ ...leaseOf(reclaimed, T0 + 2_000), decision: REQUEUE });
      for (const task of [failed, expired, reclaimed]) {
        const scheduled = (await store().listTaskEvents(task.id)).filter((event) => event.kind === 'retry_scheduled');
        expect(scheduled.map((event) => event.data)).toEqual([retryScheduledData(REQUEUE)]);
      }
    });

    it('refuses a reused idempotency key with idempotencyConflictMessage, stored or earlier in the batch', async () => {
      const stored = await submit(store(), { idempotencyKey: 'stored-key', requestHash: 'h1' });
      const reuse = store().insertTasks([newTask({ idempotencyKey: 'stored-key', requestHash: 'h2' })]);
      await expect(reuse).rejects.toBeInstanceOf(ConflictError);
      await expect(reuse).rejects.toThrow(idempotencyConflictMessage('stored-key', stored.id));

      const first = newTask({ idempotencyKey: 'batch-key', requestHash: 'h1' });
      const batch = store().insertTasks([first, newTask({ idempotencyKey: 'batch-key', requestHash: 'h2' })]);
      await expect(batch).rejects.toThrow(idempotencyConflictMessage('batch-key', first.id));
    });
  });
}
