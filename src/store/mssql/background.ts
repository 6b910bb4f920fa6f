/**
 * What the supervisor's actions and background loops do to tasks in the mssql adapter: cancel, retry and their
 * bulk pages, the lease reaper, deadline and unroutable expiry, and the dispatch reads. Twin of
 * `sqlite/background.ts` and `sqlite/retry.ts`; the store port documents each operation.
 */
import { routeKey, type Route } from '../../domain/capabilities';
import type { TaskRecord } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type {
  BulkPage,
  BulkTaskQuery,
  CancelOutcome,
  ClaimableQuery,
  DispatchRow,
  ExpiredLease,
  RetryActor,
  RouteQueueQuery,
} from '../port';
import { bulkPageFilter, routeQueueAfter } from '../shared';
import { appliedIn, changedIn, type SqlClient } from './client';
import { decisionParams } from './lease';
import * as mapping from './rows';
import { COLUMN_LENGTH } from './statement';
import * as backgroundStatements from './statements/background';
import * as retryStatements from './statements/retry';
import * as taskStatements from './statements/tasks';

export class MssqlBackground {
  constructor(private readonly db: SqlClient) {}

  async requestCancel(taskId: string, now: number): Promise<{ outcome: CancelOutcome; task: TaskRecord | null }> {
    const [outcomeRows = [], taskRows = []] = await this.db.run(backgroundStatements.REQUEST_CANCEL, { taskId, now });
    const outcome = (outcomeRows[0] as { outcome: CancelOutcome } | undefined)?.outcome ?? 'not_found';
    const row = taskRows[0] as mapping.TaskRow | undefined;
    return { outcome, task: row ? mapping.toTask(row) : null };
  }

  async retryTask(ref: { taskId: string; attempt: number; now: number } & RetryActor): Promise<TaskRecord | null> {
    const { taskId, attempt, now } = ref;
    const row = await this.db.one<string, mapping.TaskRow>(retryStatements.RETRY_TASK, {
      taskId,
      attempt,
      now,
      by: JSON.stringify(ref.by),
    });
    return row ? mapping.toTask(row) : null;
  }

  async retryTasks(query: BulkTaskQuery & RetryActor): Promise<BulkPage & { retried: DispatchRow[] }> {
    const [pageRows = [], rows = []] = await this.db.run(retryStatements.RETRY_TASKS, {
      ...bulkParams(query),
      by: JSON.stringify(query.by),
    });
    return { ...bulkPage(pageRows), retried: (rows as unknown as mapping.DispatchDbRow[]).map(mapping.toDispatch) };
  }

  async cancelTasks(query: BulkTaskQuery): Promise<BulkPage & { cancelled: string[]; cancelRequested: string[] }> {
    const [pageRows = [], rows = []] = await this.db.run(retryStatements.CANCEL_TASKS, bulkParams(query));
    const changed = rows as unknown as Array<{ id: string; outcome: 'cancelled' | 'requested' }>;
    return {
      ...bulkPage(pageRows),
      cancelled: changed.filter((r) => r.outcome === 'cancelled').map((r) => r.id),
      cancelRequested: changed.filter((r) => r.outcome === 'requested').map((r) => r.id),
    };
  }

  async listExpiredLeases(now: number, limit: number): Promise<ExpiredLease[]> {
    return (
      await this.db.all<'now' | 'limit', mapping.LeaseDbRow>(backgroundStatements.SELECT_EXPIRED_LEASES, { now, limit })
    ).map(mapping.toLease);
  }

  async requeueExpiredLease(ref: { taskId: string; attempt: number; now: number; decision: RetryDecision }) {
    const { taskId, attempt, now } = ref;
    return appliedIn(
      await this.db.run(backgroundStatements.REQUEUE_EXPIRED_LEASE, {
        taskId,
        attempt,
        now,
        ...decisionParams(ref.decision),
      }),
    );
  }

  async listOverdue(now: number, limit: number): Promise<Array<{ id: string; attempt: number }>> {
    return this.db.all<'now' | 'limit', { id: string; attempt: number }>(backgroundStatements.SELECT_OVERDUE, {
      now,
      limit,
    });
  }

  async expireUnroutable(ref: { taskId: string; attempt: number; dueBefore: number; now: number }): Promise<boolean> {
    return changedIn(await this.db.run(backgroundStatements.EXPIRE_UNROUTABLE, { ...ref }));
  }

  async expireTask(ref: { taskId: string; attempt: number; now: number }): Promise<boolean> {
    return changedIn(
      await this.db.run(backgroundStatements.EXPIRE_TASK, { taskId: ref.taskId, attempt: ref.attempt, now: ref.now }),
    );
  }

  async listQueuedForDispatch(opts: { afterId?: string; dueBefore?: number; limit: number }): Promise<DispatchRow[]> {
    const afterId = opts.afterId ?? '';
    const rows =
      opts.dueBefore === undefined
        ? await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_QUEUED_FOR_DISPATCH, {
            afterId,
            limit: opts.limit,
          })
        : await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_DUE_FOR_DISPATCH, {
            afterId,
            dueBefore: opts.dueBefore,
            limit: opts.limit,
          });
    return rows.map(mapping.toDispatch);
  }

  async listQueuedOnRoute(query: RouteQueueQuery): Promise<DispatchRow[]> {
    const key = routeKey(query.route.type, query.route.capabilities);
    // A key longer than the column cannot be a route's.
    if (key.length > COLUMN_LENGTH.routeKey) return [];
    const rows = await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_QUEUED_ON_ROUTE, {
      routeKey: key,
      dueBefore: query.dueBefore,
      sentBefore: query.sentBefore,
      ...routeQueueAfter(query),
      limit: query.limit,
    });
    return rows.map(mapping.toDispatch);
  }

  async listClaimable(query: ClaimableQuery): Promise<DispatchRow[]> {
    // A key longer than the column cannot be a route's.
    const routes = query.routes
      .map(({ route, dueBefore }) => ({ key: routeKey(route.type, route.capabilities), dueBefore }))
      .filter((r) => r.key.length <= COLUMN_LENGTH.routeKey);
    if (routes.length === 0 || query.limit < 1) return [];
    const rows = await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_CLAIMABLE, {
      routes: JSON.stringify(routes),
      limit: query.limit,
    });
    return rows.map(mapping.toDispatch);
  }

  async markDispatched(taskIds: string[], now: number): Promise<void> {
    // An id longer than the column cannot be a task's.
    const ids = taskIds.filter((id) => id.length <= 64);
    if (ids.length > 0) await this.db.run(backgroundStatements.MARK_DISPATCHED, { ids: JSON.stringify(ids), now });
  }

  async listRoutes(): Promise<Route[]> {
    return (await this.db.all<never, { type: string; capabilities: string }>(taskStatements.SELECT_ROUTES, {})).map(
      mapping.toRoute,
    );
  }
}

/** A bulk page's parameters: the filter (shared with SQLite) and the time of the writes. */
function bulkParams(query: BulkTaskQuery) {
  return { ...bulkPageFilter(query), now: query.now };
}

function bulkPage(rows: readonly unknown[]): BulkPage {
  const head = rows[0] as { matched: number; last_id: string | null } | undefined;
  return { matched: head?.matched ?? 0, lastId: head?.last_id ?? null };
}
