/**
 * Per-agent performance over a recent window, and a health score from 0 to 100:
 *   40 points for heartbeat freshness (full when the last heartbeat is within one interval, none once the
 *      agent would be suspended),
 *   40 points for the success rate of its finished attempts (full when it finished none),
 *   20 points for load headroom (full up to 80 % utilisation, none at 100 %).
 * An agent that takes no work (suspended, frozen, stopped, failed) scores 0.
 */
import { ACCEPTING_STATES, type AgentRecord } from './agent';
import type { EnforcementPolicy } from './enforcement';

export interface AgentPerformance {
  windowSeconds: number;
  completed: number;
  failed: number;
  successRate: number | null;
  meanRunMs: number | null;
  p95RunMs: number | null;
  runningTasks: number;
  concurrency: number;
  utilisation: number;
  heartbeatAgeMs: number;
  healthScore: number;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? null;
}

export function agentPerformance(
  agent: Pick<AgentRecord, 'state' | 'lastHeartbeatAt' | 'runningTasks' | 'concurrency'>,
  runs: ReadonlyArray<{ outcome: 'succeeded' | 'failed'; runMs: number | null }>,
  now: number,
  windowMs: number,
  policy: Pick<EnforcementPolicy, 'heartbeatIntervalMs' | 'suspendAfter'>,
): AgentPerformance {
  const completed = runs.filter((r) => r.outcome === 'succeeded').length;
  const failed = runs.length - completed;
  const times = runs.flatMap((r) => (r.runMs === null ? [] : [r.runMs])).sort((a, b) => a - b);
  const successRate = runs.length === 0 ? null : completed / runs.length;
  const utilisation = agent.concurrency > 0 ? agent.runningTasks / agent.concurrency : 0;
  const age = Math.max(0, now - agent.lastHeartbeatAt);
  return {
    windowSeconds: Math.round(windowMs / 1000),
    completed,
    failed,
    successRate: successRate === null ? null : round(successRate),
    meanRunMs: times.length === 0 ? null : round(times.reduce((a, b) => a + b, 0) / times.length, 1),
    p95RunMs: percentile(times, 95),
    runningTasks: agent.runningTasks,
    concurrency: agent.concurrency,
    utilisation: round(utilisation),
    heartbeatAgeMs: age,
    healthScore: healthScore(agent, { succeeded: completed, failed }, now, policy),
  };
}

/** The health score alone, from the agent and its finished attempts counted (a page of agents at once). */
export function healthScore(
  agent: Pick<AgentRecord, 'state' | 'lastHeartbeatAt' | 'runningTasks' | 'concurrency'>,
  runs: { succeeded: number; failed: number },
  now: number,
  policy: Pick<EnforcementPolicy, 'heartbeatIntervalMs' | 'suspendAfter'>,
): number {
  if (!ACCEPTING_STATES.has(agent.state) && agent.state !== 'draining') return 0;
  const finished = runs.succeeded + runs.failed;
  const successRate = finished === 0 ? 1 : runs.succeeded / finished;
  const utilisation = agent.concurrency > 0 ? agent.runningTasks / agent.concurrency : 0;
  const age = Math.max(0, now - agent.lastHeartbeatAt);
  const interval = policy.heartbeatIntervalMs;
  const freshness = 1 - clamp01((age - interval) / (interval * Math.max(1, policy.suspendAfter - 1)));
  const headroom = 1 - clamp01((utilisation - 0.8) / 0.2);
  return Math.round(40 * freshness + 40 * successRate + 20 * headroom);
}
