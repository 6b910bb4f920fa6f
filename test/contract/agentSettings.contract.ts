/** Contract: an admin's settings on an agent (PATCH /v1/agents/:id) and the concurrency its heartbeat reports. */
import type { AgentRegistration } from '../../src/store/port';
import type { CurrentStore } from './store.contract';
import { T0 } from './fixtures';

const registration: AgentRegistration = {
  id: 'agent-1',
  capabilities: ['gpu'],
  types: ['echo', 'resize', 'sleep'],
  concurrency: 8,
  hostname: 'host-a',
  pid: 1234,
  version: '0.1.0',
};

export function agentSettingsContract(store: CurrentStore): void {
  describe('agent settings', () => {
    it('starts an agent with no settings: its own concurrency, every type it registered served', async () => {
      const agent = await store().registerAgent(registration, T0);
      expect(agent).toMatchObject({ concurrency: 8, desiredConcurrency: null, disabledTypes: [] });
      expect(agent.types).toEqual(['echo', 'resize', 'sleep']);
    });

    it('stores the settings with an agent event in the same state, and serves the types left', async () => {
      await store().registerAgent(registration, T0);
      const reason = 'settings by ops: concurrency as registered → 2; disabled types: sleep';
      const updated = await store().updateAgentSettings({
        agentId: 'agent-1',
        desiredConcurrency: 2,
        disabledTypes: ['sleep'],
        reason,
        now: T0 + 1_000,
      });
      expect(updated).toMatchObject({
        state: 'running',
        concurrency: 8,
        desiredConcurrency: 2,
        disabledTypes: ['sleep'],
        types: ['echo', 'resize'],
      });
      expect(await store().getAgent('agent-1')).toEqual(updated);
      expect((await store().listAgents()).find((a) => a.id === 'agent-1')).toEqual(updated);
      const events = await store().listAgentEvents('agent-1');
      expect(events.map((e) => [e.fromState, e.toState, e.reason, e.at])).toEqual([
        [null, 'running', 'registered', T0],
        ['running', 'running', reason, T0 + 1_000],
      ]);
    });

    it('returns to the registered values, and answers null for an unknown agent without writing', async () => {
      await store().registerAgent(registration, T0);
      const change = { agentId: 'agent-1', reason: 'r', now: T0 + 1 };
      await store().updateAgentSettings({ ...change, desiredConcurrency: 3, disabledTypes: ['echo'] });
      const back = await store().updateAgentSettings({ ...change, desiredConcurrency: null, disabledTypes: [] });
      expect(back).toMatchObject({ desiredConcurrency: null, disabledTypes: [], types: ['echo', 'resize', 'sleep'] });
      expect(
        await store().updateAgentSettings({ ...change, agentId: 'ghost', desiredConcurrency: 1, disabledTypes: [] }),
      ).toBeNull();
      expect(await store().getAgent('ghost')).toBeNull();
    });

    it('keeps the settings when the agent registers again, and records the concurrency its heartbeat applies', async () => {
      await store().registerAgent(registration, T0);
      await store().updateAgentSettings({
        agentId: 'agent-1',
        desiredConcurrency: 2,
        disabledTypes: ['resize'],
        reason: 'r',
        now: T0 + 1,
      });
      const again = await store().registerAgent({ ...registration, pid: 99 }, T0 + 2);
      expect(again).toMatchObject({ concurrency: 8, desiredConcurrency: 2, disabledTypes: ['resize'] });
      expect(again.types).toEqual(['echo', 'sleep']);
      const beat = await store().heartbeat({
        agentId: 'agent-1',
        now: T0 + 3,
        runningTasks: 1,
        metrics: null,
        concurrency: 2,
      });
      expect(beat).toMatchObject({ concurrency: 2, desiredConcurrency: 2, runningTasks: 1 });
      // A heartbeat that reports no concurrency leaves the stored one.
      const bare = await store().heartbeat({ agentId: 'agent-1', now: T0 + 4, runningTasks: 0, metrics: null });
      expect(bare).toMatchObject({ concurrency: 2 });
    });
  });
}
