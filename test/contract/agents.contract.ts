/** Contract: the agent registry (register, heartbeat, state changes, events). */
import type { AgentRecord, AgentSample } from '../../src/domain/agent';
import type { AgentRegistration } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { T0 } from './fixtures';

function registration(overrides: Partial<AgentRegistration> = {}): AgentRegistration {
  return {
    id: 'agent-1',
    capabilities: ['gpu', 'linux'],
    types: ['echo', 'resize'],
    concurrency: 4,
    hostname: 'host-a',
    pid: 1234,
    version: '0.1.0',
    ...overrides,
  };
}

export function agentContract(store: CurrentStore): void {
  describe('agents', () => {
    it('registers a new agent as running, with a registered event', async () => {
      const agent = await store().registerAgent(registration(), T0);
      const expected: AgentRecord = {
        id: 'agent-1',
        capabilities: ['gpu', 'linux'],
        types: ['echo', 'resize'],
        concurrency: 4,
        state: 'running',
        hostname: 'host-a',
        pid: 1234,
        version: '0.1.0',
        startedAt: T0,
        lastHeartbeatAt: T0,
        runningTasks: 0,
        metrics: null,
        stateSource: 'agent',
        stateReason: 'registered',
        recycleRequestedAt: null,
        desiredConcurrency: null,
        disabledTypes: [],
        transport: 'redis',
        metadata: null,
      };
      expect(agent).toEqual(expected);
      expect(await store().getAgent('agent-1')).toEqual(expected);
      expect(await store().listAgentEvents('agent-1')).toEqual([
        {
          seq: expect.any(Number),
          agentId: 'agent-1',
          at: T0,
          fromState: null,
          toState: 'running',
          reason: 'registered',
        },
      ]);
    });

    it('records how an HTTP agent reaches the fleet and what it said about itself', async () => {
      const metadata = { hostname: 'py-host', pid: 77, language: 'python' };
      const agent = await store().registerAgent(registration({ transport: 'http', metadata }), T0);
      expect(agent).toMatchObject({ transport: 'http', metadata });
      expect(await store().getAgent('agent-1')).toMatchObject({ transport: 'http', metadata });
      // A re-registration states both again (a Node worker under the same id is a redis agent).
      expect(await store().registerAgent(registration(), T0 + 1_000)).toMatchObject({
        transport: 'redis',
        metadata: null,
      });
    });

    it('pages agents by id, filtered by state and capability, leaving out those gone before a time', async () => {
      const reg = (id: string, capabilities: string[]) => registration({ id, capabilities });
      for (const [id, caps] of [
        ['a-1', ['gpu']],
        ['a-2', ['linux']],
        ['a-3', ['gpu', 'linux']],
        ['a-4', ['gpu']],
      ] as const)
        await store().registerAgent(reg(id, [...caps]), T0);
      await store().setAgentState({ agentId: 'a-4', to: 'stopped', reason: 'drained', now: T0 + 1 });
      await store().registerAgent(reg('a-5', ['gpu']), T0 + 10_000);
      await store().setAgentState({ agentId: 'a-5', to: 'stopped', reason: 'drained', now: T0 + 10_001 });
      const ids = async (q: Partial<Parameters<ReturnType<typeof store>['listAgentsPage']>[0]>) =>
        (await store().listAgentsPage({ limit: 10, ...q })).map((a) => a.id);

      expect(await ids({})).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
      expect(await ids({ limit: 2 })).toEqual(['a-1', 'a-2']);
      expect(await ids({ afterId: 'a-2', limit: 2 })).toEqual(['a-3', 'a-4']);
      expect(await ids({ capability: 'gpu' })).toEqual(['a-1', 'a-3', 'a-4', 'a-5']);
      expect(await ids({ capability: 'linux', afterId: 'a-2' })).toEqual(['a-3']);
      expect(await ids({ state: 'stopped' })).toEqual(['a-4', 'a-5']);
      // a-4 was last heard of at T0, a-5 at T0 + 10,000: only a-4 is gone before T0 + 5,000.
      expect(await ids({ hideGoneBefore: T0 + 5_000 })).toEqual(['a-1', 'a-2', 'a-3', 'a-5']);
      expect(await ids({ capability: 'nothing' })).toEqual([]);
    });

    it('keeps metrics samples once per agent and time, lists them since a time, and purges the oldest first', async () => {
      await store().registerAgent(registration({ id: 'm-1' }), T0);
      await store().registerAgent(registration({ id: 'm-2' }), T0);
      const sample = (agentId: string, at: number, over: Partial<AgentSample> = {}): AgentSample => ({
        agentId,
        at,
        runningTasks: 2,
        concurrency: 4,
        cpuPercent: 12.5,
        rssBytes: 80 * 1024 * 1024,
        heartbeatAgeMs: 800,
        ...over,
      });
      const first = [
        sample('m-1', T0),
        sample('m-1', T0 + 60_000, { cpuPercent: null, rssBytes: null }),
        sample('m-2', T0),
      ];
      expect(await store().recordAgentSamples(first)).toBe(3);
      // Again (another supervisor's pass), plus one new sample and one of an agent that is gone.
      const again = [sample('m-1', T0, { runningTasks: 9 }), sample('m-1', T0 + 120_000), sample('gone', T0)];
      expect(await store().recordAgentSamples(again)).toBe(1);
      expect(await store().listAgentSamples({ agentId: 'm-1', since: T0, limit: 10 })).toEqual([
        first[0],
        first[1],
        sample('m-1', T0 + 120_000),
      ]);
      expect(await store().listAgentSamples({ agentId: 'm-1', since: T0 + 1, limit: 1 })).toEqual([first[1]]);

      expect(await store().purgeAgentSamples({ before: T0 + 60_000, limit: 1 })).toBe(1);
      expect(await store().purgeAgentSamples({ before: T0 + 60_000, limit: 10 })).toBe(1);
      expect(await store().purgeAgentSamples({ before: T0 + 60_000, limit: 10 })).toBe(0);
      expect((await store().listAgentSamples({ agentId: 'm-1', since: 0, limit: 10 })).map((s) => s.at)).toEqual([
        T0 + 60_000,
        T0 + 120_000,
      ]);
      // An agent's samples go with it.
      await store().setAgentState({ agentId: 'm-1', to: 'stopped', reason: 'drained', now: T0 + 130_000 });
      expect(await store().removeAgent('m-1', ['stopped'])).toBe(true);
      expect(await store().listAgentSamples({ agentId: 'm-1', since: 0, limit: 10 })).toEqual([]);
    });

    it('revives a re-registering agent with its new details', async () => {
      await store().registerAgent(registration(), T0);
      await store().setAgentState({ agentId: 'agent-1', to: 'failed', reason: 'heartbeat missed', now: T0 + 1_000 });
      const again = await store().registerAgent(registration({ pid: 999, capabilities: ['linux'] }), T0 + 2_000);
      expect(again).toMatchObject({ state: 'running', pid: 999, capabilities: ['linux'], startedAt: T0 + 2_000 });
      const events = await store().listAgentEvents('agent-1');
      expect(events.map((e) => [e.fromState, e.toState, e.reason, e.at])).toEqual([
        [null, 'running', 'registered', T0],
        ['running', 'failed', 'heartbeat missed', T0 + 1_000],
        ['failed', 'running', 'registered', T0 + 2_000],
      ]);
    });

    it('records heartbeats and returns the stored agent', async () => {
      await store().registerAgent(registration(), T0);
      const metrics = { cpuPercent: 12.5, rssBytes: 100_000_000, heapUsedBytes: 50_000_000 };
      const beat = await store().heartbeat({ agentId: 'agent-1', now: T0 + 5_000, runningTasks: 3, metrics });
      expect(beat).toMatchObject({ state: 'running', lastHeartbeatAt: T0 + 5_000, runningTasks: 3, metrics });
      expect(await store().getAgent('agent-1')).toEqual(beat);
      const bare = await store().heartbeat({ agentId: 'agent-1', now: T0 + 6_000, runningTasks: 0, metrics: null });
      expect(bare).toMatchObject({ runningTasks: 0, metrics: null, startedAt: T0 });
      expect(await store().heartbeat({ agentId: 'ghost', now: T0, runningTasks: 0, metrics: null })).toBeNull();
      expect(await store().listAgentEvents('agent-1')).toHaveLength(1);
    });

    it('sets the state only from the given states, with an event per change', async () => {
      await store().registerAgent(registration(), T0);
      const set = (to: 'draining' | 'stopped' | 'failed', from?: Array<'running' | 'draining'>) =>
        store().setAgentState({ agentId: 'agent-1', to, from, reason: `to ${to}`, now: T0 + 1 });
      expect(await set('stopped', ['draining'])).toBe(false);
      expect(await set('draining', ['running'])).toBe(true);
      expect(await set('draining')).toBe(false);
      expect(await set('stopped', ['draining'])).toBe(true);
      expect(await set('failed')).toBe(true);
      expect((await store().getAgent('agent-1'))?.state).toBe('failed');
      const events = await store().listAgentEvents('agent-1');
      expect(events.map((e) => `${e.fromState}>${e.toState}:${e.reason}`)).toEqual([
        'null>running:registered',
        'running>draining:to draining',
        'draining>stopped:to stopped',
        'stopped>failed:to failed',
      ]);
      expect(await store().setAgentState({ agentId: 'ghost', to: 'stopped', reason: 'x', now: T0 })).toBe(false);
    });

    it('lists agents and returns nothing for unknown ones', async () => {
      await store().registerAgent(registration({ id: 'agent-2' }), T0);
      await store().registerAgent(registration({ id: 'agent-1' }), T0);
      const agents = await store().listAgents();
      expect(agents.map((a) => a.id).sort()).toEqual(['agent-1', 'agent-2']);
      expect(await store().getAgent('ghost')).toBeNull();
      expect(await store().listAgentEvents('ghost')).toEqual([]);
    });

    it('keeps the reason of the current state, and a re-registration keeps a held state with its reason', async () => {
      await store().registerAgent(registration(), T0);
      const reason = 'stalled: 3 tasks of echo~ waited 90 s while it had free slots';
      await store().setAgentState({ agentId: 'agent-1', to: 'degraded', reason, now: T0 + 1, source: 'enforcer' });
      expect(await store().getAgent('agent-1')).toMatchObject({
        state: 'degraded',
        stateSource: 'enforcer',
        stateReason: reason,
      });
      await store().setAgentState({
        agentId: 'agent-1',
        to: 'suspended',
        reason: 'by ops',
        now: T0 + 2,
        source: 'admin',
      });
      const kept = await store().registerAgent(registration({ pid: 5 }), T0 + 3);
      expect(kept).toMatchObject({ state: 'suspended', stateReason: 'by ops', pid: 5 });
      await store().setAgentState({ agentId: 'agent-1', to: 'running', reason: 'r'.repeat(1_500), now: T0 + 4 });
      expect((await store().getAgent('agent-1'))?.stateReason).toBe('r'.repeat(1_000));
    });

    it('sets and clears the recycle request by compare-and-set, and the heartbeat answer carries it', async () => {
      await store().registerAgent(registration(), T0);
      const cas = (expected: number | null, to: number | null) =>
        store().setAgentRecycle({ agentId: 'agent-1', expected, to });
      expect(await cas(null, T0 + 10)).toBe(true);
      // A second supervisor that read the same null loses: the agent is asked once.
      expect(await cas(null, T0 + 11)).toBe(false);
      const beat = await store().heartbeat({ agentId: 'agent-1', now: T0 + 12, runningTasks: 0, metrics: null });
      expect(beat?.recycleRequestedAt).toBe(T0 + 10);
      expect(await cas(T0 + 11, null)).toBe(false);
      expect(await cas(T0 + 10, null)).toBe(true);
      expect((await store().getAgent('agent-1'))?.recycleRequestedAt).toBeNull();
      expect(await store().setAgentRecycle({ agentId: 'ghost', expected: null, to: T0 })).toBe(false);
      // Recycling is a change of connections, not of state: no agent event.
      expect((await store().listAgentEvents('agent-1')).map((e) => e.reason)).toEqual(['registered']);
    });

    it('clears the recycle request when the agent registers again (a new process has new connections)', async () => {
      await store().registerAgent(registration(), T0);
      await store().setAgentRecycle({ agentId: 'agent-1', expected: null, to: T0 + 10 });
      expect((await store().registerAgent(registration(), T0 + 20)).recycleRequestedAt).toBeNull();
      await store().setAgentRecycle({ agentId: 'agent-1', expected: null, to: T0 + 30 });
      await store().setAgentState({ agentId: 'agent-1', to: 'frozen', reason: 'x', now: T0 + 31, source: 'enforcer' });
      expect((await store().registerAgent(registration(), T0 + 40)).recycleRequestedAt).toBeNull();
    });
  });
}
