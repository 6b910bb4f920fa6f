import type { AgentRecord, AgentState, StateSource } from '../../src/domain/agent';
import {
  stallAction,
  stallEvidence,
  STALL_REASON_PREFIX,
  type RouteWait,
  type StallPolicy,
} from '../../src/domain/stall';

const NOW = 10_000_000;
const policy: StallPolicy = { stallAfterMs: 60_000, staleAfterMs: 15_000 };

function agent(overrides: Partial<AgentRecord> = {}): AgentRecord {
  return {
    id: 'a1',
    capabilities: ['gpu'],
    types: ['echo'],
    concurrency: 4,
    state: 'running',
    hostname: 'h',
    pid: 1,
    version: 'v',
    startedAt: NOW - 3_600_000,
    lastHeartbeatAt: NOW - 1_000,
    runningTasks: 0,
    metrics: null,
    stateSource: 'agent',
    stateReason: 'registered',
    recycleRequestedAt: null,
    desiredConcurrency: null,
    disabledTypes: [],
    transport: 'redis',
    metadata: null,
    ...overrides,
  };
}

const route = (overrides: Partial<RouteWait> = {}): RouteWait => ({
  type: 'echo',
  capabilities: ['gpu'],
  queued: 20,
  oldestQueuedAt: NOW - 90_000,
  ...overrides,
});

describe('stall evidence', () => {
  it('names the longest wait on a route the agent serves, counted while the agent was there', () => {
    const routes = [route(), route({ capabilities: [], oldestQueuedAt: NOW - 120_000, queued: 3 })];
    expect(stallEvidence(agent(), routes, NOW, policy)).toEqual({ route: 'echo~', waiting: 3, waitMs: 120_000 });
    // An agent that started 70 s ago has been beside the tasks for 70 s, not 120.
    expect(stallEvidence(agent({ startedAt: NOW - 70_000 }), routes, NOW, policy)?.waitMs).toBe(70_000);
    expect(stallEvidence(agent({ startedAt: NOW - 30_000 }), routes, NOW, policy)).toBeNull();
  });

  it.each<[string, Partial<AgentRecord>, Partial<RouteWait>]>([
    ['the wait is within the threshold', {}, { oldestQueuedAt: NOW - 60_000 }],
    ['nothing is due', {}, { queued: 0, oldestQueuedAt: null }],
    ['the agent has no free slot', { runningTasks: 4 }, {}],
    ['the agent lacks a capability', { capabilities: ['cpu'] }, {}],
    ['the agent lacks the handler', { types: ['resize'] }, {}],
  ])('finds none when %s', (_name, a, r) => {
    expect(stallEvidence(agent(a), [route(r)], NOW, policy)).toBeNull();
  });
});

describe('stall actions', () => {
  const act = (a: Partial<AgentRecord>, routes: RouteWait[] = [route()]) => stallAction(agent(a), routes, NOW, policy);

  it('asks a stalled agent to recycle first', () => {
    expect(act({})).toEqual({ kind: 'request_recycle', evidence: { route: 'echo~gpu', waiting: 20, waitMs: 90_000 } });
  });

  it('waits a further period after asking, then degrades it with a reason naming the route and the wait', () => {
    expect(act({ recycleRequestedAt: NOW - 59_999 })).toBeNull();
    const action = act({ recycleRequestedAt: NOW - 60_000 });
    expect(action).toMatchObject({ kind: 'degrade' });
    if (action?.kind !== 'degrade') throw new Error('not degraded');
    expect(action.reason.startsWith(STALL_REASON_PREFIX)).toBe(true);
    expect(action.reason).toContain('20 due task(s) of route echo~gpu waited 90 s');
  });

  it.each<[AgentState, StateSource, boolean]>([
    ['running', 'agent', true],
    ['running', 'admin', true],
    ['registered', 'agent', true],
    ['degraded', 'enforcer', false],
    ['degraded', 'admin', false],
    ['warning', 'enforcer', false],
  ])('degrades from %s set by the %s: %s', (state, stateSource, degrades) => {
    expect(act({ state, stateSource, recycleRequestedAt: NOW - 120_000 })?.kind === 'degrade').toBe(degrades);
  });

  it('never judges an agent that is not live: held, stopped, or silent', () => {
    for (const state of ['draining', 'suspended', 'frozen', 'stopped', 'failed'] as const) {
      expect(act({ state, stateSource: 'admin', recycleRequestedAt: NOW - 120_000 })).toBeNull();
    }
    expect(act({ lastHeartbeatAt: NOW - 20_000 })).toBeNull();
    expect(act({ state: 'degraded', stateSource: 'enforcer', lastHeartbeatAt: NOW - 20_000 }, [])).toBeNull();
  });

  it('clears the request once the stall is over, and brings back only an agent the supervisor degraded', () => {
    expect(act({ recycleRequestedAt: NOW - 5_000 }, [])).toEqual({ kind: 'clear_recycle' });
    expect(act({ recycleRequestedAt: NOW - 5_000, runningTasks: 4 })).toEqual({ kind: 'clear_recycle' });
    const stalled = { state: 'degraded', stateReason: `${STALL_REASON_PREFIX} …` } as const;
    expect(act({ ...stalled, stateSource: 'enforcer', recycleRequestedAt: NOW - 90_000 }, [])).toMatchObject({
      kind: 'recover',
    });
    expect(act({ ...stalled, stateSource: 'admin' }, [])).toBeNull();
    expect(act({ ...stalled, stateSource: 'agent' }, [])).toBeNull();
    // Degraded by the supervisor for another reason: not the stall watch's to undo.
    expect(act({ state: 'degraded', stateSource: 'enforcer', stateReason: 'circuit open' }, [])).toBeNull();
    expect(act({}, [])).toBeNull();
  });

  it('leaves a degraded agent degraded while the stall lasts', () => {
    expect(act({ state: 'degraded', stateSource: 'enforcer', recycleRequestedAt: NOW - 200_000 })).toBeNull();
  });
});
