import type { AgentState, StateSource } from '../../src/domain/agent';
import { enforcementAction, missedHeartbeats, type EnforcementPolicy } from '../../src/domain/enforcement';

const policy: EnforcementPolicy = { heartbeatIntervalMs: 1000, warnAfter: 3, suspendAfter: 5, freezeAfter: 10 };
const NOW = 1_000_000;
const agent = (state: AgentState, missed: number, stateSource: StateSource = 'agent') => ({
  state,
  stateSource,
  lastHeartbeatAt: NOW - missed * 1000 - 1,
});
const to = (state: AgentState, missed: number, source?: StateSource) =>
  enforcementAction(agent(state, missed, source), NOW, policy)?.to ?? null;

describe('heartbeat enforcement', () => {
  it('counts whole missed intervals', () => {
    expect(missedHeartbeats({ lastHeartbeatAt: NOW }, NOW, 1000)).toBe(0);
    expect(missedHeartbeats({ lastHeartbeatAt: NOW - 2999 }, NOW, 1000)).toBe(2);
    expect(missedHeartbeats({ lastHeartbeatAt: NOW - 3000 }, NOW, 1000)).toBe(3);
    expect(missedHeartbeats({ lastHeartbeatAt: NOW + 50 }, NOW, 1000)).toBe(0);
  });

  it.each([
    ['running', 0, null],
    ['running', 2, null],
    ['running', 3, 'warning'],
    ['running', 4, 'warning'],
    ['running', 5, 'suspended'],
    ['running', 9, 'suspended'],
    ['running', 10, 'frozen'],
    ['registered', 3, 'warning'],
    ['degraded', 3, 'warning'],
    ['warning', 3, null],
    ['warning', 5, 'suspended'],
    ['warning', 10, 'frozen'],
    ['warning', 0, 'running'],
    ['suspended', 5, null],
    ['suspended', 10, 'frozen'],
    ['suspended', 2, 'running'],
    ['frozen', 0, null],
    ['frozen', 50, null],
    ['stopped', 50, null],
    ['failed', 50, null],
    ['draining', 3, null],
    ['draining', 5, 'suspended'],
    ['draining', 10, 'frozen'],
  ] as const)('%s with %i missed → %s', (state, missed, expected) => {
    expect(to(state, missed)).toBe(expected);
  });

  it('does not lift a suspension an admin made, but still freezes a silent agent', () => {
    expect(to('suspended', 0, 'admin')).toBeNull();
    expect(to('suspended', 7, 'admin')).toBeNull();
    expect(to('suspended', 10, 'admin')).toBe('frozen');
    expect(to('suspended', 0, 'enforcer')).toBe('running');
  });

  it('reclaims leases when it suspends or freezes, not when it warns or recovers', () => {
    const reclaim = (state: AgentState, missed: number) =>
      enforcementAction(agent(state, missed), NOW, policy)?.reclaimLeases;
    expect(reclaim('running', 3)).toBe(false);
    expect(reclaim('running', 5)).toBe(true);
    expect(reclaim('warning', 10)).toBe(true);
    expect(reclaim('warning', 0)).toBe(false);
  });

  it('says why in the reason', () => {
    expect(enforcementAction(agent('running', 5), NOW, policy)?.reason).toBe('missed 5 heartbeats (suspend at 5)');
    expect(enforcementAction(agent('warning', 0), NOW, policy)?.reason).toBe('heartbeats resumed');
  });

  it('honours other thresholds', () => {
    const strict = { ...policy, warnAfter: 1, suspendAfter: 2, freezeAfter: 3 };
    expect(enforcementAction(agent('running', 1), NOW, strict)?.to).toBe('warning');
    expect(enforcementAction(agent('running', 2), NOW, strict)?.to).toBe('suspended');
    expect(enforcementAction(agent('running', 3), NOW, strict)?.to).toBe('frozen');
  });
});
