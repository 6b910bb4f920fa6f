/**
 * Contract: fleet control. Who set an agent's state, re-registration of held agents, removing agents, the
 * leases an agent holds, taking them back (reclaimLease), and an agent's run history.
 */
import type { AgentState, StateSource } from '../../src/domain/agent';
import type { RetryDecision } from '../../src/domain/transitions';
import type { AgentRegistration } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { claim, eventKinds, LEASE_MS, leaseOf, mustGet, submit, T0 } from './fixtures';

function registration(overrides: Partial<AgentRegistration> = {}): AgentRegistration {
  return {
    id: 'agent-1',
    capabilities: ['gpu'],
    types: ['echo'],
    concurrency: 2,
    hostname: 'host-a',
    pid: 100,
    version: '0.1.0',
    ...overrides,
  };
}

const RECLAIMED_ERROR = {
  kind: 'lease_reclaimed',
  message: 'the supervisor took the lease back from a suspended agent',
};

export function fleetContract(store: CurrentStore): void {
  /** Registers agent-1, then moves it to `to` as set by `source`. */
  async function agentIn(to: AgentState, source: StateSource): Promise<void> {
    await store().registerAgent(registration(), T0);
    await store().heartbeat({ agentId: 'agent-1', now: T0 + 500, runningTasks: 2, metrics: null });
    expect(await store().setAgentState({ agentId: 'agent-1', to, reason: `to ${to}`, now: T0 + 1_000, source })).toBe(
      true,
    );
  }

  describe('claims by held agents', () => {
    it.each(['suspended', 'frozen', 'draining', 'stopped', 'failed'] as const)(
      'refuses a claim by a %s agent and leaves the task queued for another',
      async (state) => {
        await agentIn(state, 'admin');
        const task = await submit(store());
        const refused = await store().claimTask({
          taskId: task.id,
          attempt: 0,
          agentId: 'agent-1',
          now: T0 + 2_000,
          leaseMs: LEASE_MS,
        });
        expect(refused.claimed).toBe(false);
        expect(await mustGet(store(), task.id)).toMatchObject({ status: 'queued', attempt: 0 });
        const other = await store().claimTask({
          taskId: task.id,
          attempt: 0,
          agentId: 'agent-2',
          now: T0 + 2_000,
          leaseMs: LEASE_MS,
        });
        expect(other.claimed).toBe(true);
      },
    );

    it.each(['running', 'warning', 'registered', 'degraded'] as const)('lets a %s agent claim', async (state) => {
      await store().registerAgent(registration(), T0);
      if (state !== 'running') {
        await store().setAgentState({ agentId: 'agent-1', to: state, reason: 'test', now: T0 + 1, source: 'enforcer' });
      }
      const task = await submit(store());
      const c = await store().claimTask({
        taskId: task.id,
        attempt: 0,
        agentId: 'agent-1',
        now: T0 + 2_000,
        leaseMs: LEASE_MS,
      });
      expect(c.claimed).toBe(true);
    });
  });

  describe('agent state sources', () => {
    it('records who set the state, defaulting to the agent', async () => {
      expect((await store().registerAgent(registration(), T0)).stateSource).toBe('agent');
      const set = (to: AgentState, source?: StateSource) =>
        store().setAgentState({ agentId: 'agent-1', to, reason: 'r', now: T0 + 1, source });
      expect(await set('warning', 'enforcer')).toBe(true);
      expect(await store().getAgent('agent-1')).toMatchObject({ state: 'warning', stateSource: 'enforcer' });
      expect(await set('suspended', 'admin')).toBe(true);
      expect(await store().getAgent('agent-1')).toMatchObject({ state: 'suspended', stateSource: 'admin' });
      expect(await set('draining')).toBe(true);
      expect(await store().getAgent('agent-1')).toMatchObject({ state: 'draining', stateSource: 'agent' });
      // A refused change leaves the source alone.
      expect(await set('draining', 'admin')).toBe(false);
      expect((await store().getAgent('agent-1'))?.stateSource).toBe('agent');
      expect((await store().listAgents())[0]?.stateSource).toBe('agent');
    });
  });

  describe('registerAgent on a held agent', () => {
    it('keeps a frozen agent frozen, updating its registration and recording the attempt', async () => {
      await agentIn('frozen', 'enforcer');
      const again = await store().registerAgent(
        registration({ pid: 200, capabilities: ['cpu'], types: ['resize'], concurrency: 8, version: '0.2.0' }),
        T0 + 5_000,
      );
      const expected = {
        id: 'agent-1',
        capabilities: ['cpu'],
        types: ['resize'],
        concurrency: 8,
        state: 'frozen',
        hostname: 'host-a',
        pid: 200,
        version: '0.2.0',
        startedAt: T0 + 5_000,
        lastHeartbeatAt: T0 + 5_000,
        runningTasks: 0,
        metrics: null,
        stateSource: 'enforcer',
        stateReason: 'to frozen',
        recycleRequestedAt: null,
        desiredConcurrency: null,
        disabledTypes: [],
        transport: 'redis',
        metadata: null,
      };
      expect(again).toEqual(expected);
      expect(await store().getAgent('agent-1')).toEqual(expected);
      const events = await store().listAgentEvents('agent-1');
      expect(events.map((e) => [e.fromState, e.toState, e.reason, e.at])).toEqual([
        [null, 'running', 'registered', T0],
        ['running', 'frozen', 'to frozen', T0 + 1_000],
        ['frozen', 'frozen', 'registered while frozen', T0 + 5_000],
      ]);
    });

    it('keeps a frozen agent frozen whoever froze it', async () => {
      await agentIn('frozen', 'admin');
      expect(await store().registerAgent(registration(), T0 + 5_000)).toMatchObject({
        state: 'frozen',
        stateSource: 'admin',
      });
    });

    it.each(['suspended', 'draining'] as const)('keeps an agent an admin set %s', async (state) => {
      await agentIn(state, 'admin');
      const again = await store().registerAgent(registration({ pid: 300 }), T0 + 5_000);
      expect(again).toMatchObject({ state, stateSource: 'admin', pid: 300, startedAt: T0 + 5_000 });
      expect((await store().listAgentEvents('agent-1')).at(-1)).toMatchObject({
        fromState: state,
        toState: state,
        reason: `registered while ${state}`,
      });
    });

    it.each([
      ['suspended', 'enforcer'],
      ['draining', 'agent'],
      ['failed', 'enforcer'],
      ['warning', 'admin'],
    ] as const)('revives an agent %s by the %s as running', async (state, source) => {
      await agentIn(state, source);
      const again = await store().registerAgent(registration({ pid: 300 }), T0 + 5_000);
      expect(again).toMatchObject({ state: 'running', stateSource: 'agent', pid: 300 });
      expect((await store().listAgentEvents('agent-1')).at(-1)).toMatchObject({
        fromState: state,
        toState: 'running',
        reason: 'registered',
      });
    });

    it('lets an admin release a held agent, after which it registers as running', async () => {
      await agentIn('suspended', 'admin');
      expect(
        await store().setAgentState({ agentId: 'agent-1', to: 'stopped', reason: 'released', now: T0 + 2_000 }),
      ).toBe(true);
      expect(await store().registerAgent(registration(), T0 + 3_000)).toMatchObject({
        state: 'running',
        stateSource: 'agent',
      });
    });
  });

  describe('removeAgent', () => {
    it('deletes an agent and its events only when its state is one of those given', async () => {
      await agentIn('stopped', 'agent');
      await store().registerAgent(registration({ id: 'agent-2' }), T0);
      expect(await store().removeAgent('agent-1', ['failed', 'frozen'])).toBe(false);
      expect(await store().removeAgent('agent-1', [])).toBe(false);
      expect(await store().getAgent('agent-1')).not.toBeNull();
      expect(await store().removeAgent('agent-1', ['failed', 'stopped'])).toBe(true);
      expect(await store().getAgent('agent-1')).toBeNull();
      expect(await store().listAgentEvents('agent-1')).toEqual([]);
      expect((await store().listAgents()).map((a) => a.id)).toEqual(['agent-2']);
      expect(await store().listAgentEvents('agent-2')).toHaveLength(1);
      expect(await store().removeAgent('agent-1', ['stopped'])).toBe(false);
      expect(await store().removeAgent('ghost', ['running'])).toBe(false);
    });

    it('lets a removed agent register afresh', async () => {
      await agentIn('frozen', 'enforcer');
      expect(await store().removeAgent('agent-1', ['frozen'])).toBe(true);
      expect(await store().registerAgent(registration(), T0 + 9_000)).toMatchObject({ state: 'running' });
      expect((await store().listAgentEvents('agent-1')).map((e) => [e.fromState, e.toState])).toEqual([
        [null, 'running'],
      ]);
    });
  });

  describe('listLeasesOf', () => {
    it('lists the running tasks an agent holds, by id, up to the limit', async () => {
      const a1 = await claim(store(), await submit(store(), { maxAttempts: 5 }), 'agent-a');
      const a2 = await claim(store(), await submit(store()), 'agent-a');
      await claim(store(), await submit(store()), 'agent-b');
      await submit(store());
      const done = await claim(store(), await submit(store()), 'agent-a');
      await store().completeTask({ ...leaseOf(done, T0 + 2_000), result: null });
      const dead = await claim(store(), await submit(store()), 'agent-a');
      await store().failTask({
        ...leaseOf(dead, T0 + 2_000),
        error: { message: 'x', kind: 'handler' },
        decision: { status: 'dead' },
      });

      expect(await store().listLeasesOf('agent-a', 10)).toEqual([
        { id: a1.id, attempt: 1, maxAttempts: 5, agentId: 'agent-a' },
        { id: a2.id, attempt: 1, maxAttempts: 3, agentId: 'agent-a' },
      ]);
      expect(await store().listLeasesOf('agent-a', 1)).toEqual([
        { id: a1.id, attempt: 1, maxAttempts: 5, agentId: 'agent-a' },
      ]);
      expect(await store().listLeasesOf('nobody', 10)).toEqual([]);
    });
  });

  describe('reclaimLease', () => {
    const RETRY: RetryDecision = { status: 'queued', notBefore: T0 + 7_000, delayMs: 2_000 };

    it('takes a live lease back and requeues it as decided', async () => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      const now = T0 + 5_000; // the lease runs until T0 + LEASE_MS: not expired
      expect(now).toBeLessThan(T0 + LEASE_MS);
      expect(await store().reclaimLease({ ...leaseOf(running, now), decision: RETRY })).toBe(true);
      expect(await mustGet(store(), running.id)).toEqual({
        ...running,
        status: 'queued',
        agentId: null,
        leaseExpiresAt: null,
        error: RECLAIMED_ERROR,
        notBefore: T0 + 7_000,
        updatedAt: now,
      });
      const events = await store().listTaskEvents(running.id);
      expect(events.slice(2)).toEqual([
        expect.objectContaining({ kind: 'lease_reclaimed', attempt: 1, agentId: 'agent-a', at: now, data: null }),
        expect.objectContaining({
          kind: 'retry_scheduled',
          attempt: 1,
          agentId: null,
          at: now,
          data: { notBefore: T0 + 7_000, delayMs: 2_000 },
        }),
      ]);
      expect(await store().listLeasesOf('agent-a', 10)).toEqual([]);
      // A fresh dispatch: due for re-sending once not_before comes, whatever was sent before.
      const due = await store().listQueuedForDispatch({ limit: 10, dueBefore: T0 + 7_000 });
      expect(due.map((r) => [r.id, r.attempt])).toEqual([[running.id, 1]]);
      // The old holder's result is refused; the next claim runs attempt 2 with the error cleared.
      expect(await store().completeTask({ ...leaseOf(running, now + 1), result: 'late' })).toBe(false);
      const again = await claim(store(), { id: running.id, attempt: 1 }, 'agent-b', T0 + 8_000);
      expect(again).toMatchObject({ attempt: 2, agentId: 'agent-b', error: null });
    });

    it('kills the task when the decision is dead', async () => {
      const running = await claim(store(), await submit(store(), { maxAttempts: 1 }), 'agent-a', T0);
      expect(await store().reclaimLease({ ...leaseOf(running, T0 + 5_000), decision: { status: 'dead' } })).toBe(true);
      expect(await mustGet(store(), running.id)).toMatchObject({
        status: 'dead',
        leaseExpiresAt: null,
        finishedAt: T0 + 5_000,
        error: RECLAIMED_ERROR,
      });
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started', 'lease_reclaimed', 'dead']);
      expect((await store().listTaskEvents(running.id))[3]).toMatchObject({ kind: 'dead', agentId: null });
    });

    it("refuses another agent's lease, a stale attempt, a task not running, and an unknown task", async () => {
      const running = await claim(store(), await submit(store()), 'agent-a', T0);
      const lease = leaseOf(running, T0 + 5_000);
      expect(await store().reclaimLease({ ...lease, agentId: 'agent-b', decision: RETRY })).toBe(false);
      expect(await store().reclaimLease({ ...lease, attempt: 0, decision: RETRY })).toBe(false);
      expect(await store().reclaimLease({ ...lease, attempt: 2, decision: { status: 'dead' } })).toBe(false);
      expect(await mustGet(store(), running.id)).toEqual(running);
      expect(await eventKinds(store(), running.id)).toEqual(['submitted', 'started']);

      await store().releaseTask(lease);
      expect(await store().reclaimLease({ ...lease, decision: RETRY })).toBe(false);
      expect(await mustGet(store(), running.id)).toMatchObject({ status: 'queued', error: null });

      const reclaimed = await claim(store(), { id: running.id, attempt: 1 }, 'agent-a', T0 + 6_000);
      expect(await store().reclaimLease({ ...leaseOf(reclaimed, T0 + 7_000), decision: RETRY })).toBe(true);
      expect(await store().reclaimLease({ ...leaseOf(reclaimed, T0 + 7_001), decision: RETRY })).toBe(false);
      const ref = { taskId: 'missing', attempt: 1, agentId: 'agent-a', now: T0 };
      expect(await store().reclaimLease({ ...ref, decision: RETRY })).toBe(false);
      expect(await store().listTaskEvents('missing')).toEqual([]);
    });
  });

  describe('listAgentRuns', () => {
    it("lists an agent's succeeded and failed attempts from `since`, oldest first, with their run times", async () => {
      const error = { message: 'x', kind: 'handler' };
      const first = await claim(store(), await submit(store()), 'agent-a', T0 + 1_000);
      await store().completeTask({ ...leaseOf(first, T0 + 1_250), result: null });
      const retried = await claim(store(), await submit(store()), 'agent-a', T0 + 2_000);
      const retry: RetryDecision = { status: 'queued', notBefore: T0 + 3_000, delayMs: 1_000 };
      await store().failTask({ ...leaseOf(retried, T0 + 2_400), error, decision: retry });
      const byB = await claim(store(), { id: retried.id, attempt: 1 }, 'agent-b', T0 + 3_000);
      await store().completeTask({ ...leaseOf(byB, T0 + 3_050), result: null });
      const killed = await claim(store(), await submit(store()), 'agent-a', T0 + 4_000);
      await store().failTask({ ...leaseOf(killed, T0 + 4_900), error, decision: { status: 'dead' } });
      // Not runs: a lease taken back, a task released, a zombie's rejected result.
      const lost = await claim(store(), await submit(store()), 'agent-a', T0 + 5_000);
      await store().reclaimLease({ ...leaseOf(lost, T0 + 5_500), decision: retry });
      await store().completeTask({ ...leaseOf(lost, T0 + 5_600), result: null });
      const released = await claim(store(), await submit(store()), 'agent-a', T0 + 6_000);
      await store().releaseTask(leaseOf(released, T0 + 6_100));

      expect(await store().listAgentRuns('agent-a', T0)).toEqual([
        { at: T0 + 1_250, outcome: 'succeeded', runMs: 250 },
        { at: T0 + 2_400, outcome: 'failed', runMs: 400 },
        { at: T0 + 4_900, outcome: 'failed', runMs: 900 },
      ]);
      expect(await store().listAgentRuns('agent-a', T0 + 2_400)).toEqual([
        { at: T0 + 2_400, outcome: 'failed', runMs: 400 },
        { at: T0 + 4_900, outcome: 'failed', runMs: 900 },
      ]);
      expect(await store().listAgentRuns('agent-a', T0 + 4_901)).toEqual([]);
      expect(await store().listAgentRuns('agent-b', T0)).toEqual([{ at: T0 + 3_050, outcome: 'succeeded', runMs: 50 }]);
      expect(await store().listAgentRuns('nobody', T0)).toEqual([]);

      // The same runs counted, for a page of agents in one read (agents without any are left out).
      const counted = await store().countAgentRuns({ agentIds: ['agent-a', 'agent-b', 'nobody'], since: T0 });
      expect([...counted].sort((x, y) => x.agentId.localeCompare(y.agentId))).toEqual([
        { agentId: 'agent-a', succeeded: 1, failed: 2 },
        { agentId: 'agent-b', succeeded: 1, failed: 0 },
      ]);
      expect(await store().countAgentRuns({ agentIds: ['agent-a'], since: T0 + 2_401 })).toEqual([
        { agentId: 'agent-a', succeeded: 0, failed: 1 },
      ]);
      expect(await store().countAgentRuns({ agentIds: [], since: T0 })).toEqual([]);
    });
  });
}
