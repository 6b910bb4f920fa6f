/**
 * Stalled agents, judged from the truth in SQL: a live agent with free slots that covers a route whose due tasks
 * have waited longer than expected is not consuming (its Redis connections may have gone silent without an
 * error, so its heartbeats through SQL look healthy). What the supervisor does about it, per agent:
 *
 *   stalled, not yet asked                       → ask it to recycle its Redis connections (recycleRequestedAt)
 *   stalled, asked at least `stallAfterMs` ago   → degraded (from running or registered only), with the reason
 *   not stalled, asked                           → clear the request (the episode is over)
 *   not stalled, degraded by the supervisor      → running again (and the request cleared)
 *
 * A wait counts only from when the agent itself started (a task cannot have waited on an agent that was not
 * there). States an admin or the agent set, and the holds (draining, suspended, frozen), are never changed: a
 * degraded agent goes back to running only when the stall watch degraded it (source `enforcer`, a `stalled:`
 * reason), and the heartbeat enforcer never degrades, so the two never undo each other's work.
 */
import { ACCEPTING_STATES, isLive, type AgentRecord, type AgentState } from './agent';
import { routeKey, workerServesRoute } from './capabilities';

export interface StallPolicy {
  /** How long a due task may wait beside a live, covering agent with free slots before that agent is suspect. */
  stallAfterMs: number;
  /** An agent heartbeating within this is live (the registry's rule). */
  staleAfterMs: number;
}

/** The per-route figures the decision needs (a subset of the store's RouteStats). */
export interface RouteWait {
  type: string;
  capabilities: string[];
  /** Queued and due now. */
  queued: number;
  /** Earliest `notBefore` among the due queued tasks: when the oldest waiting task became due. */
  oldestQueuedAt: number | null;
}

export interface StallEvidence {
  /** The route key of the longest wait the agent could have served. */
  route: string;
  /** Due tasks waiting on that route. */
  waiting: number;
  /** How long the oldest of them has waited while the agent was there (ms). */
  waitMs: number;
}

export type StallAction =
  | { kind: 'request_recycle'; evidence: StallEvidence }
  | { kind: 'degrade'; evidence: StallEvidence; reason: string }
  | { kind: 'clear_recycle' }
  | { kind: 'recover'; reason: string };

/** The states the supervisor degrades a stalled agent from: the normal ones, never a hold or a warning. */
const DEGRADE_FROM: ReadonlySet<AgentState> = new Set(['running', 'registered']);

export const STALL_REASON_PREFIX = 'stalled:';
export const STALL_CLEARED_REASON = 'consuming again: the stall cleared';

type Agent = Pick<
  AgentRecord,
  | 'state'
  | 'stateSource'
  | 'stateReason'
  | 'lastHeartbeatAt'
  | 'startedAt'
  | 'capabilities'
  | 'types'
  | 'concurrency'
  | 'runningTasks'
  | 'recycleRequestedAt'
>;

/** Whether the stall watch set the agent's current state (degraded, by the supervisor, for a stall). */
export function degradedForStall(agent: Pick<AgentRecord, 'state' | 'stateSource' | 'stateReason'>): boolean {
  return (
    agent.state === 'degraded' &&
    agent.stateSource === 'enforcer' &&
    (agent.stateReason?.startsWith(STALL_REASON_PREFIX) ?? false)
  );
}

/** Why this live agent looks stalled now, or null when it does not (busy, or nothing waits too long). */
export function stallEvidence(
  agent: Agent,
  routes: readonly RouteWait[],
  now: number,
  policy: StallPolicy,
): StallEvidence | null {
  if (agent.runningTasks >= agent.concurrency) return null;
  let worst: StallEvidence | null = null;
  for (const r of routes) {
    if (r.queued <= 0 || r.oldestQueuedAt === null) continue;
    if (!workerServesRoute(agent, r)) continue;
    const waitMs = now - Math.max(r.oldestQueuedAt, agent.startedAt);
    if (waitMs <= policy.stallAfterMs) continue;
    if (worst === null || waitMs > worst.waitMs) {
      worst = { route: routeKey(r.type, r.capabilities), waiting: r.queued, waitMs };
    }
  }
  return worst;
}

export function stallReason(e: StallEvidence): string {
  return (
    `${STALL_REASON_PREFIX} ${e.waiting} due task(s) of route ${e.route} waited ${Math.round(e.waitMs / 1000)} s ` +
    'while it had free slots, and still after it was asked to recycle its Redis connections'
  );
}

/**
 * What to do about one agent now (null: nothing). An agent that is not live is the heartbeat enforcer's to judge:
 * its silence says nothing about its Redis connections, and its stale load figures prove nothing.
 */
export function stallAction(
  agent: Agent,
  routes: readonly RouteWait[],
  now: number,
  policy: StallPolicy,
): StallAction | null {
  if (!isLive(agent, now, policy.staleAfterMs)) return null;
  const evidence = stallEvidence(agent, routes, now, policy);
  if (evidence === null) {
    if (degradedForStall(agent)) return { kind: 'recover', reason: STALL_CLEARED_REASON };
    return agent.recycleRequestedAt === null ? null : { kind: 'clear_recycle' };
  }
  if (agent.recycleRequestedAt === null) return { kind: 'request_recycle', evidence };
  if (now - agent.recycleRequestedAt >= policy.stallAfterMs && DEGRADE_FROM.has(agent.state)) {
    return { kind: 'degrade', evidence, reason: stallReason(evidence) };
  }
  return null;
}

/**
 * Agents in a stall episode, from the registry alone (so every supervisor reports the same fleet-wide figure):
 * asked to recycle and not degraded yet, and degraded by the stall watch.
 */
export function stalledAgentCounts(
  agents: ReadonlyArray<Pick<AgentRecord, 'state' | 'stateSource' | 'stateReason' | 'recycleRequestedAt'>>,
): { recycle_requested: number; degraded: number } {
  let recycleRequested = 0;
  let degraded = 0;
  for (const a of agents) {
    if (degradedForStall(a)) {
      degraded++;
    } else if (a.recycleRequestedAt !== null && ACCEPTING_STATES.has(a.state)) {
      recycleRequested++;
    }
  }
  return { recycle_requested: recycleRequested, degraded };
}
