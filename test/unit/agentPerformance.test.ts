import type { AgentState } from '../../src/domain/agent';
import { agentPerformance, percentile } from '../../src/domain/agentPerformance';

const policy = { heartbeatIntervalMs: 1000, suspendAfter: 5 };
const NOW = 10_000_000;
const agent = (
  over: Partial<{ state: AgentState; lastHeartbeatAt: number; runningTasks: number; concurrency: number }> = {},
) => ({
  state: 'running' as AgentState,
  lastHeartbeatAt: NOW,
  runningTasks: 0,
  concurrency: 4,
  ...over,
});
const runs = (ok: number[], failed: number[]) => [
  ...ok.map((runMs) => ({ outcome: 'succeeded' as const, runMs })),
  ...failed.map((runMs) => ({ outcome: 'failed' as const, runMs })),
];

describe('agent performance', () => {
  it('computes counts, success rate, mean and p95 run time', () => {
    const times = Array.from({ length: 20 }, (_, i) => (i + 1) * 10); // 10..200
    const p = agentPerformance(agent(), runs(times.slice(0, 15), times.slice(15)), NOW, 60_000, policy);
    expect(p).toMatchObject({
      windowSeconds: 60,
      completed: 15,
      failed: 5,
      successRate: 0.75,
      meanRunMs: 105,
      p95RunMs: 190,
    });
  });

  it('reports nothing to average when there were no runs, and full marks for success', () => {
    const p = agentPerformance(agent(), [], NOW, 60_000, policy);
    expect(p).toMatchObject({ completed: 0, failed: 0, successRate: null, meanRunMs: null, p95RunMs: null });
    expect(p.healthScore).toBe(100);
  });

  it('ignores unknown run times in the averages but counts the runs', () => {
    const p = agentPerformance(
      agent(),
      [
        { outcome: 'succeeded', runMs: null },
        { outcome: 'succeeded', runMs: 30 },
      ],
      NOW,
      60_000,
      policy,
    );
    expect(p).toMatchObject({ completed: 2, meanRunMs: 30 });
  });

  it('scores freshness, errors and load', () => {
    const fresh = agentPerformance(agent(), runs([1], []), NOW, 60_000, policy).healthScore;
    const stale = agentPerformance(
      agent({ lastHeartbeatAt: NOW - 3000 }),
      runs([1], []),
      NOW,
      60_000,
      policy,
    ).healthScore;
    const gone = agentPerformance(
      agent({ lastHeartbeatAt: NOW - 5000 }),
      runs([1], []),
      NOW,
      60_000,
      policy,
    ).healthScore;
    expect(fresh).toBe(100);
    expect(stale).toBe(80); // 40 × (1 − 2000/4000) + 40 + 20
    expect(gone).toBe(60);
    expect(agentPerformance(agent(), runs([1], [1]), NOW, 60_000, policy).healthScore).toBe(80);
    expect(agentPerformance(agent({ runningTasks: 4 }), [], NOW, 60_000, policy)).toMatchObject({
      utilisation: 1,
      healthScore: 80,
    });
    expect(agentPerformance(agent({ runningTasks: 3 }), [], NOW, 60_000, policy).healthScore).toBe(100);
  });

  it('scores an agent that takes no work at zero', () => {
    for (const state of ['suspended', 'frozen', 'stopped', 'failed'] as const) {
      expect(agentPerformance(agent({ state }), [], NOW, 60_000, policy).healthScore).toBe(0);
    }
  });

  it('takes the nearest-rank percentile', () => {
    expect(percentile([], 95)).toBeNull();
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
  });
});
