/**
 * Fleet control and stats of the SQLite adapter. Twin of `mssql/statements/fleet.ts`: `reclaimLease` does what
 * RECLAIM_LEASE's batch does (the caller runs it inside one IMMEDIATE transaction); the rest are single reads.
 */
import type { TaskEventKind } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { AgentRun, AgentRunCounts, ExpiredLease, LeaseRef, RouteStats } from '../port';
import { countsByKind, leaseKey } from '../shared';
import { toAgentRun, toLease, toRouteStats } from './rows';
import type { SqliteStatements } from './statements';
import { appendOutcomeEvent, appendTaskEvent } from './tasks';

export function listLeasesOf(statements: SqliteStatements, agentId: string, limit: number): ExpiredLease[] {
  return statements.fleet.selectLeasesOf.all({ agentId, limit }).map(toLease);
}

/**
 * Takes the lease of (taskId, attempt) back from `agentId`, expired or not: queued or dead as decided, with
 * `lease_reclaimed` (the agent's) then `retry_scheduled` or `dead` (the supervisor's: agent null). False, with
 * nothing written, when the task is not running at that attempt or another agent holds it.
 */
export function reclaimLease(statements: SqliteStatements, ref: LeaseRef & { decision: RetryDecision }): boolean {
  const { decision } = ref;
  const key = leaseKey(ref);
  const changes =
    decision.status === 'queued'
      ? statements.fleet.reclaimLeaseRequeue.run({ ...key, notBefore: decision.notBefore }).changes
      : statements.fleet.reclaimLeaseKill.run(key).changes;
  if (changes === 0) return false;
  const event = { taskId: ref.taskId, at: ref.now, attempt: ref.attempt };
  appendTaskEvent(statements, { ...event, kind: 'lease_reclaimed', agentId: ref.agentId });
  appendOutcomeEvent(statements, { ...event, agentId: null }, decision);
  return true;
}

export function listAgentRuns(statements: SqliteStatements, agentId: string, since: number): AgentRun[] {
  return statements.fleet.selectAgentRuns.all({ agentId, since }).map(toAgentRun);
}

export function countAgentRuns(
  statements: SqliteStatements,
  agentIds: readonly string[],
  since: number,
): AgentRunCounts[] {
  if (agentIds.length === 0) return [];
  return statements.fleet.countAgentRuns
    .all({ agentIds: JSON.stringify(agentIds), since })
    .map((r) => ({ agentId: r.agent_id, succeeded: r.succeeded, failed: r.failed }));
}

export function routeStats(statements: SqliteStatements, now: number): RouteStats[] {
  return statements.fleet.routeStats.all({ now }).map(toRouteStats);
}

/** Counts per requested kind; every requested kind is present, 0 when none happened since `since`. */
export function countTaskEvents(
  statements: SqliteStatements,
  kinds: readonly TaskEventKind[],
  since: number,
): Partial<Record<TaskEventKind, number>> {
  if (kinds.length === 0) return {};
  const distinct = [...new Set(kinds)];
  return countsByKind(distinct, statements.fleet.countTaskEvents.all({ kinds: JSON.stringify(distinct), since }));
}
