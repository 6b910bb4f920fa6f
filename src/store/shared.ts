/**
 * Small pieces both adapters use the same way: the lease key of a fenced write, the cache of task-list
 * statements (one per combination of filters present), the answer of countTaskEvents, and where a route's
 * queue starts.
 */
import { QUEUE_PRIORITY, type TaskEventKind } from '../domain/task';
import type { BulkTaskQuery, DispatchRow, LeaseRef, RouteQueueQuery, TaskFilter } from './port';

/** The parameters of a write fenced by a lease: the task, the attempt (fencing token), its holder, the time. */
export type LeaseKey = { taskId: string; attempt: number; agentId: string; now: number };

/** Only the lease fields of a ref that may carry more (a decision, a result): statements bind exactly these. */
export function leaseKey(ref: LeaseRef): LeaseKey {
  return { taskId: ref.taskId, attempt: ref.attempt, agentId: ref.agentId, now: ref.now };
}

/** Which filters a task list has: each combination gets its own statement, so each gets its own plan. */
export interface TaskListShape {
  status: boolean;
  type: boolean;
  capability: boolean;
  beforeId: boolean;
  submittedBy: boolean;
}

/**
 * The task-list statements built so far, by shape. There are 32 shapes at most, built on first use; a shape is
 * keyed by a bit mask rather than a serialised object, since a list is a hot read of the API.
 */
export class TaskListStatements<S> {
  private readonly byShape = new Map<number, S>();

  constructor(private readonly build: (shape: TaskListShape) => S) {}

  forFilter(filter: TaskFilter): S {
    const key =
      (filter.status !== undefined ? 1 : 0) |
      (filter.type !== undefined ? 2 : 0) |
      (filter.capability !== undefined ? 4 : 0) |
      (filter.beforeId !== undefined ? 8 : 0) |
      (filter.submittedBy !== undefined ? 16 : 0);
    let built = this.byShape.get(key);
    if (built === undefined) {
      built = this.build({
        status: (key & 1) !== 0,
        type: (key & 2) !== 0,
        capability: (key & 4) !== 0,
        beforeId: (key & 8) !== 0,
        submittedBy: (key & 16) !== 0,
      });
      this.byShape.set(key, built);
    }
    return built;
  }
}

/** countTaskEvents' answer: every requested kind present, 0 when none happened (the query returns only the others). */
export function countsByKind(
  kinds: readonly TaskEventKind[],
  rows: ReadonlyArray<{ kind: string; n: number }>,
): Partial<Record<TaskEventKind, number>> {
  const counts: Partial<Record<TaskEventKind, number>> = {};
  for (const kind of kinds) counts[kind] = 0;
  for (const row of rows) counts[row.kind as TaskEventKind] = row.n;
  return counts;
}

/**
 * The keyset before every task of a route: the earliest time datetime2 holds (0001-01-01, which the mssql driver
 * can still bind) and the empty id. A first page then runs the statement of every later page, with the same
 * range seek on not_before, rather than a second statement or an `@after IS NULL OR …` that no seek can serve.
 */
const ROUTE_QUEUE_START = { notBefore: -62_135_596_800_000, id: '' } as const;

/** listQueuedOnRoute's keyset, from the start of the route when no page came before. */
export function routeQueueAfter(query: RouteQueueQuery): { afterNotBefore: number; afterId: string } {
  const after = query.after ?? ROUTE_QUEUE_START;
  return { afterNotBefore: after.notBefore, afterId: after.id };
}

/** A bulk page's filter, every optional field bound (null when absent), as both stores' statements take it. */
export function bulkPageFilter(query: BulkTaskQuery) {
  return {
    status: query.status,
    afterId: query.afterId ?? '',
    type: query.type ?? null,
    capability: query.capability ?? null,
    createdBefore: query.createdBefore ?? null,
    submittedBy: query.submittedBy ?? null,
    limit: query.limit,
  };
}

/** The order of Store.listClaimable: critical first (QUEUE_PRIORITY ranks it 1), then oldest notBefore, then id. */
export function claimOrder(a: DispatchRow, b: DispatchRow): number {
  return (
    QUEUE_PRIORITY[a.priority] - QUEUE_PRIORITY[b.priority] ||
    a.notBefore - b.notBefore ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
