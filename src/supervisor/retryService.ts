/**
 * Retry on demand and the bulk actions: the API's logic, independent of HTTP.
 *
 * A retry takes a dead, cancelled or expired task back to `queued`: the store's conditional update (on status
 * and attempt) does it once however many callers race, raising `maxAttempts` by the budget the task was
 * submitted with while the attempt counter keeps counting, so the fencing token of every earlier attempt stays
 * stale. The retried task is then dispatched at once, like a submission (an enqueue failure is left to the
 * reconciler), and announced to the event watchers.
 *
 * The bulk actions walk the (status, id) index a page at a time (one transaction per page), so a large filter
 * neither holds locks for long nor reads the table; their counts are what the pages wrote. Each call, single or
 * bulk, is audited once.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { TOKEN_PATTERN } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { NotFoundError, TaskfleetError } from '../domain/errors';
import type { Actor } from '../domain/security';
import type { TaskRecord, TaskStatus } from '../domain/task';
import { CANCELLABLE_STATUSES, RETRYABLE_STATUSES } from '../domain/transitions';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import { AuditLog } from '../security/audit';
import { maySeeTask, taskOwner } from '../security/permissions';
import type { BulkTaskQuery, DispatchRow, Store } from '../store/port';
import { parseOrThrow } from './validation';

/** Tasks per transaction of a bulk action. */
export const BULK_PAGE_SIZE = 200;
export const BULK_LIMIT_DEFAULT = 1000;
export const BULK_LIMIT_MAX = 10_000;

/** A retry of a task that is not dead, cancelled or expired (or stopped being so meanwhile). */
export class NotRetryableError extends TaskfleetError {
  constructor(id: string, status: TaskStatus) {
    super(
      `task ${id} is ${status}; only a ${RETRYABLE_STATUSES.join(', ').replace(/, (?=[^,]*$)/, ' or ')} task can be retried`,
      409,
      'not_retryable',
    );
  }
}

function bulkSchema(statuses: readonly [TaskStatus, ...TaskStatus[]]) {
  return z.strictObject({
    filter: z.strictObject({
      status: z.enum(statuses).optional(),
      type: z.string().regex(TOKEN_PATTERN).optional(),
      capability: z.string().regex(TOKEN_PATTERN).optional(),
      createdBefore: z.iso.datetime({ offset: true }).optional(),
    }),
    limit: z.number().int().min(1).max(BULK_LIMIT_MAX).default(BULK_LIMIT_DEFAULT),
  });
}

export const retrySchema = bulkSchema(RETRYABLE_STATUSES);
export const cancelSchema = bulkSchema(CANCELLABLE_STATUSES);
/** Both schemas parse to this shape (their status enums differ). */
type BulkRequest = z.output<ReturnType<typeof bulkSchema>>;

export interface BulkRetryResult {
  matched: number;
  retried: number;
}

export interface BulkCancelResult {
  matched: number;
  cancelled: number;
  cancelRequested: number;
}

export class RetryService {
  private readonly audit: AuditLog;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.audit = new AuditLog(store, clock);
  }

  /** Retries one task for `actor`, who must be allowed to see it (404 otherwise); 409 unless retryable. */
  async retry(id: string, actor: Actor): Promise<TaskRecord> {
    const task = await this.store.getTask(id);
    if (!task || !maySeeTask(actor, task)) throw new NotFoundError(`task ${id}`);
    if (!(RETRYABLE_STATUSES as readonly TaskStatus[]).includes(task.status)) {
      throw new NotRetryableError(id, task.status);
    }
    const now = this.clock.now();
    const retried = await this.store.retryTask({ taskId: id, attempt: task.attempt, now, by: actor.name });
    if (!retried) {
      // Another retry (or anything else) changed the task since it was read.
      const current = await this.store.getTask(id);
      throw new NotRetryableError(id, current?.status ?? task.status);
    }
    await this.audit.record(actor, 'task.retry', `task:${id}`, { from: task.status, maxAttempts: retried.maxAttempts });
    // Read again through the store the caller reads with, so a sensitive payload is shown as a read shows it;
    // before the dispatch, so the answer is the task as the retry left it, not as a fast worker's claim did.
    const view = (await this.store.getTask(id)) ?? retried;
    await this.dispatch([retried], now);
    return view;
  }

  /** Retries up to `limit` tasks matching the filter (admin only: the permission table says so). */
  async retryMany(body: unknown, actor: Actor): Promise<BulkRetryResult> {
    const request = parseOrThrow(retrySchema, body);
    const now = this.clock.now();
    let retried = 0;
    const matched = await this.walk(request, RETRYABLE_STATUSES, actor, now, async (query) => {
      const page = await this.store.retryTasks({ ...query, by: actor.name });
      retried += page.retried.length;
      await this.dispatch(page.retried, now);
      return page;
    });
    const result = { matched, retried };
    await this.audit.record(actor, 'task.bulk_retry', 'tasks', {
      filter: request.filter,
      limit: request.limit,
      ...result,
    });
    return result;
  }

  /** Cancels up to `limit` queued or running tasks matching the filter (a running one cooperatively). */
  async cancelMany(body: unknown, actor: Actor): Promise<BulkCancelResult> {
    const request = parseOrThrow(cancelSchema, body);
    const now = this.clock.now();
    let cancelled = 0;
    let cancelRequested = 0;
    const matched = await this.walk(request, CANCELLABLE_STATUSES, actor, now, async (query) => {
      const page = await this.store.cancelTasks(query);
      cancelled += page.cancelled.length;
      cancelRequested += page.cancelRequested.length;
      for (const id of [...page.cancelled, ...page.cancelRequested]) this.notify(id);
      return page;
    });
    const result = { matched, cancelled, cancelRequested };
    await this.audit.record(actor, 'task.bulk_cancel', 'tasks', {
      filter: request.filter,
      limit: request.limit,
      ...result,
    });
    return result;
  }

  /**
   * Runs `page` over each status of the filter (or every one of `statuses`), a page of at most BULK_PAGE_SIZE
   * at a time, until `limit` tasks matched, over the tasks `actor` may reach (every task, for an admin).
   * Answers how many matched.
   */
  private async walk(
    request: BulkRequest,
    statuses: readonly TaskStatus[],
    actor: Actor,
    now: number,
    page: (query: BulkTaskQuery) => Promise<{ matched: number; lastId: string | null }>,
  ): Promise<number> {
    const { filter } = request;
    const owner = taskOwner(actor);
    let remaining = request.limit;
    for (const status of filter.status ? [filter.status] : statuses) {
      let afterId = '';
      while (remaining > 0) {
        const size = Math.min(BULK_PAGE_SIZE, remaining);
        const done = await page({
          status,
          afterId,
          limit: size,
          now,
          ...(filter.type ? { type: filter.type } : {}),
          ...(filter.capability ? { capability: filter.capability } : {}),
          ...(filter.createdBefore ? { createdBefore: Date.parse(filter.createdBefore) } : {}),
          ...(owner === null ? {} : { submittedBy: owner }),
        });
        remaining -= done.matched;
        if (done.matched < size || done.lastId === null) break;
        afterId = done.lastId;
      }
    }
    return request.limit - remaining;
  }

  private async dispatch(rows: DispatchRow[], now: number): Promise<void> {
    if (rows.length === 0) return;
    for (const row of rows) this.notify(row.id);
    await this.dispatcher.send(rows, now).catch((err: unknown) => {
      this.log.warn(
        { err, tasks: rows.length },
        'enqueue of retried tasks failed after commit; the reconciler will re-send',
      );
    });
  }

  private notify(taskId: string): void {
    notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, taskId);
  }
}
