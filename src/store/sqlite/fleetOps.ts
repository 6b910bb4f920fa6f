/**
 * Fleet control and stats of the SQLite adapter, as functions over the prepared statements. `reclaimLease`
 * writes the task and its events: the caller runs it inside one IMMEDIATE transaction. The rest are single
 * statements.
 */
import type { TaskEventKind } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { AgentRun, ExpiredLease, LeaseRef, RouteStats } from '../port';
import type { FleetStatements } from './fleetStatements';
import { toLease } from './rows';
import type { TaskStatements } from './statements';
import { appendOutcomeEvent, appendTaskEvent } from './taskOps';

export function listLeasesOf(s: FleetStatements, agentId: string, limit: number): ExpiredLease[] {
  return s.selectLeasesOf.all({ agentId, limit }).map(toLease);
}

/**
 * Takes the lease of (taskId, attempt) back from `agentId`, expired or not: queued or dead as decided, with
 * `lease_reclaimed` (the agent's) then `retry_scheduled` or `dead` (the supervisor's: agent null). False, with
 * nothing written, when the task is not running at that attempt or another agent holds it.
 */
export function reclaimLease(
  tasks: TaskStatements,
  fleet: FleetStatements,
  ref: LeaseRef & { decision: RetryDecision },
): boolean {
  const { decision } = ref;
  const key = { taskId: ref.taskId, attempt: ref.attempt, agentId: ref.agentId, now: ref.now };
  const changes =
    decision.status === 'queued'
      ? fleet.reclaimLeaseRequeue.run({ ...key, notBefore: decision.notBefore }).changes
      : fleet.reclaimLeaseKill.run(key).changes;
  if (changes === 0) return false;
  const event = { taskId: ref.taskId, at: ref.now, attempt: ref.attempt };
  appendTaskEvent(tasks, { ...event, kind: 'lease_reclaimed', agentId: ref.agentId });
  appendOutcomeEvent(tasks, { ...event, agentId: null }, decision);
  return true;
}

export function listAgentRuns(s: FleetStatements, agentId: string, since: number): AgentRun[] {
  return s.selectAgentRuns.all({ agentId, since }).map((r) => ({
    at: r.at,
    outcome: r.kind as AgentRun['outcome'],
    runMs: typeof r.run_ms === 'number' ? r.run_ms : null,
  }));
}

export function routeStats(s: FleetStatements, now: number): RouteStats[] {
  return s.routeStats.all({ now }).map((r) => ({
    type: r.type,
    capabilities: JSON.parse(r.capabilities) as string[],
    queued: r.queued,
    delayed: r.delayed,
    running: r.running,
    dead: r.dead,
    oldestQueuedAt: r.oldest_queued_at,
  }));
}

/** Counts per requested kind; every requested kind is present, 0 when none happened since `since`. */
export function countTaskEvents(
  s: FleetStatements,
  kinds: readonly TaskEventKind[],
  since: number,
): Partial<Record<TaskEventKind, number>> {
  const counts: Partial<Record<TaskEventKind, number>> = {};
  if (kinds.length === 0) return counts;
  for (const kind of kinds) counts[kind] = 0;
  for (const row of s.countTaskEvents.all({ kinds: JSON.stringify([...new Set(kinds)]), since })) {
    counts[row.kind as TaskEventKind] = row.n;
  }
  return counts;
}
