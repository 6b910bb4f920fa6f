/**
 * The supervisor's side of a task's life in the SQLite adapter: cancellation, the lease reaper, deadline expiry
 * and re-dispatch. Twin of the T-SQL batches of `mssql/statements/background.ts`: what one batch does there is
 * a function here, which the caller runs inside one IMMEDIATE transaction (the row read is the row written).
 */
import { routeKey } from '../../domain/capabilities';
import { PRIORITIES, type TaskRecord } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { CancelOutcome, ClaimableQuery, DispatchRow, RouteQueueQuery } from '../port';
import { claimOrder, routeQueueAfter } from '../shared';
import { toDispatch, toTask } from './rows';
import type { SqliteStatements } from './statements';
import { UNROUTABLE_EXPIRY } from '../../domain/storeRules';
import { appendOutcomeEvent, appendTaskEvent } from './tasks';

/**
 * running (attempt, lease expired) → queued or dead as decided, with `lease_expired` (the last holder's, with
 * the expiry it missed) then `retry_scheduled` or `dead` (agent null). False, writing nothing, otherwise.
 */
export function requeueExpiredLease(
  statements: SqliteStatements,
  ref: { taskId: string; attempt: number; now: number; decision: RetryDecision },
): boolean {
  const { taskId, attempt, now, decision } = ref;
  const before = statements.tasks.selectTask.get({ id: taskId });
  if (!before) return false;
  const key = { taskId, attempt, now };
  const changes =
    decision.status === 'queued'
      ? statements.background.requeueExpiredLease.run({ ...key, notBefore: decision.notBefore }).changes
      : statements.background.killExpiredLease.run(key).changes;
  if (changes === 0) return false;
  const data = { leaseExpiresAt: before.lease_expires_at };
  appendTaskEvent(statements, { taskId, at: now, kind: 'lease_expired', attempt, agentId: before.agent_id, data });
  appendOutcomeEvent(statements, { taskId, at: now, attempt, agentId: null }, decision);
  return true;
}

/** queued → cancelled; running → cancel requested (one event, however often asked); otherwise unchanged. */
export function requestCancel(
  statements: SqliteStatements,
  taskId: string,
  now: number,
): { outcome: CancelOutcome; task: TaskRecord | null } {
  const row = statements.tasks.selectTask.get({ id: taskId });
  if (!row) return { outcome: 'not_found', task: null };
  const key = { taskId, attempt: row.attempt, now };
  const reread = () => {
    const after = statements.tasks.selectTask.get({ id: taskId });
    return after ? toTask(after) : null;
  };
  if (row.status === 'queued') {
    statements.background.cancelQueued.run(key);
    appendTaskEvent(statements, { taskId, at: now, kind: 'cancelled', attempt: row.attempt, agentId: null });
    return { outcome: 'cancelled', task: reread() };
  }
  if (row.status === 'running') {
    if (statements.background.requestCancelRunning.run(key).changes === 1) {
      appendTaskEvent(statements, {
        taskId,
        at: now,
        kind: 'cancel_requested',
        attempt: row.attempt,
        agentId: row.agent_id,
      });
    }
    return { outcome: 'requested', task: reread() };
  }
  return { outcome: 'already_terminal', task: toTask(row) };
}

/** queued (attempt) due since `dueBefore` → expired, with `expired` { reason: 'unroutable' }. */
export function expireUnroutable(
  statements: SqliteStatements,
  ref: { taskId: string; attempt: number; dueBefore: number; now: number },
): boolean {
  const key = { taskId: ref.taskId, attempt: ref.attempt, dueBefore: ref.dueBefore, now: ref.now };
  return expired(statements, statements.background.expireUnroutable.run(key).changes, ref, UNROUTABLE_EXPIRY);
}

/** queued (attempt) past its deadline → expired, with `expired`. False, writing nothing, otherwise. */
export function expireTask(
  statements: SqliteStatements,
  ref: { taskId: string; attempt: number; now: number },
): boolean {
  const key = { taskId: ref.taskId, attempt: ref.attempt, now: ref.now };
  return expired(statements, statements.background.expireTask.run(key).changes, ref);
}

/** After an expiry's update: its `expired` event when it changed the row (`data` when given). */
function expired(
  statements: SqliteStatements,
  changes: number,
  ref: { taskId: string; attempt: number; now: number },
  data?: unknown,
): boolean {
  if (changes === 0) return false;
  const event = { taskId: ref.taskId, at: ref.now, kind: 'expired' as const, attempt: ref.attempt, agentId: null };
  appendTaskEvent(statements, data === undefined ? event : { ...event, data });
  return true;
}

/** Queued tasks by id after `afterId`; only those due and last sent at or before `dueBefore` when given. */
export function listQueuedForDispatch(
  statements: SqliteStatements,
  opts: { afterId?: string; dueBefore?: number; limit: number },
): DispatchRow[] {
  const afterId = opts.afterId ?? '';
  const rows =
    opts.dueBefore === undefined
      ? statements.background.selectQueued.all({ afterId, limit: opts.limit })
      : statements.background.selectDue.all({ afterId, dueBefore: opts.dueBefore, limit: opts.limit });
  return rows.map(toDispatch);
}

/** Queued tasks of one route, due and last sent by the given times, by (notBefore, id) after the keyset. */
export function listQueuedOnRoute(statements: SqliteStatements, query: RouteQueueQuery): DispatchRow[] {
  const rows = statements.background.selectOnRoute.all({
    routeKey: routeKey(query.route.type, query.route.capabilities),
    dueBefore: query.dueBefore,
    sentBefore: query.sentBefore,
    ...routeQueueAfter(query),
    limit: query.limit,
  });
  return rows.map(toDispatch);
}

/** The SQLite half of Store.listClaimable: one indexed read per route and priority, merged. */
export function listClaimable(statements: SqliteStatements, query: ClaimableQuery): DispatchRow[] {
  const rows: DispatchRow[] = [];
  for (const { route, dueBefore } of query.routes) {
    const key = routeKey(route.type, route.capabilities);
    for (const priority of PRIORITIES) {
      const found = statements.background.selectClaimable.all({
        routeKey: key,
        priority,
        dueBefore,
        limit: query.limit,
      });
      rows.push(...found.map(toDispatch));
    }
  }
  return rows.sort(claimOrder).slice(0, query.limit);
}
