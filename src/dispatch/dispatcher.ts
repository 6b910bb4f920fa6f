/**
 * Sends dispatch messages (task id + attempt) to the BullMQ queue of each task's route.
 *
 * The job id is `<taskId>-<attempt>`, so sending the same dispatch twice is harmless: BullMQ ignores an add
 * whose job id exists. Jobs are removed from Redis once processed; the task and its result live in SQL.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { routeKey } from '../domain/capabilities';
import { QUEUE_PRIORITY, jobId, type DispatchMessage } from '../domain/task';
import type { DispatchRow } from '../store/port';
import { UnavailableError } from '../domain/errors';
import { withTimeout } from '../domain/timeout';

/** Jobs per Redis transaction when a batch is enqueued. */
const ADD_CHUNK = 100;

export class Dispatcher {
  private readonly queues = new Map<string, Queue<DispatchMessage>>();

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly timeoutMs = 2_000,
  ) {}

  queueFor(route: string): Queue<DispatchMessage> {
    let q = this.queues.get(route);
    if (!q) {
      q = new Queue<DispatchMessage>(route, { connection: this.redis, prefix: this.prefix });
      // Errors surface on the add() calls; the queue's own error events would only duplicate them.
      q.on('error', () => undefined);
      this.queues.set(route, q);
    }
    return q;
  }

  /**
   * Enqueues every row on its route's queue. Rejects at once when Redis is not connected, and after
   * `timeoutMs` when it stops answering: BullMQ itself would wait for a reconnect, and nothing is lost by
   * giving up since SQL has the task and the reconciler re-sends it.
   */
  async send(rows: readonly DispatchRow[], now = Date.now()): Promise<void> {
    if (rows.length === 0) return;
    if (this.redis.status !== 'ready') throw new UnavailableError(`Redis is not connected (${this.redis.status})`);
    await withTimeout(this.addAll(rows, now), this.timeoutMs, 'enqueue');
  }

  private async addAll(rows: readonly DispatchRow[], now: number): Promise<void> {
    const byRoute = new Map<string, DispatchRow[]>();
    for (const row of rows) {
      const key = routeKey(row.type, row.requiredCapabilities);
      const list = byRoute.get(key);
      if (list) list.push(row);
      else byRoute.set(key, [row]);
    }
    const adds: Promise<unknown>[] = [];
    for (const [route, list] of byRoute) {
      if (list.length === 1) {
        // One job: a plain add is one script call, where addBulk wraps it in MULTI/EXEC.
        const row = list[0]!;
        adds.push(this.queueFor(route).add(row.type, messageOf(row), jobOptions(row, now)));
        continue;
      }
      // In chunks: Redis runs a chunk's transaction while the next one is built here, rather than waiting
      // for one transaction of the whole batch.
      for (let i = 0; i < list.length; i += ADD_CHUNK) {
        adds.push(
          this.queueFor(route).addBulk(
            list.slice(i, i + ADD_CHUNK).map((row) => ({
              name: row.type,
              data: messageOf(row),
              opts: jobOptions(row, now),
            })),
          ),
        );
      }
    }
    await Promise.all(adds);
  }

  /** The rows whose job is not in Redis (flushed, lost, or removed without a claim). */
  async missing(rows: readonly DispatchRow[]): Promise<DispatchRow[]> {
    if (rows.length === 0) return [];
    if (this.redis.status !== 'ready') throw new UnavailableError(`Redis is not connected (${this.redis.status})`);
    const pipeline = this.redis.pipeline();
    for (const row of rows) {
      const queue = routeKey(row.type, row.requiredCapabilities);
      pipeline.exists(`${this.prefix}:${queue}:${jobId(row.id, row.attempt)}`);
    }
    const replies = (await pipeline.exec()) ?? [];
    return rows.filter((_, i) => {
      const reply = replies[i];
      if (!reply || reply[0]) throw reply?.[0] ?? new Error('Redis pipeline returned no reply');
      return reply[1] === 0;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
  }
}

function messageOf(row: DispatchRow): DispatchMessage {
  return { taskId: row.id, attempt: row.attempt, ...(row.traceParent ? { traceParent: row.traceParent } : {}) };
}

function jobOptions(row: DispatchRow, now: number): JobsOptions {
  const delay = Math.max(0, row.notBefore - now);
  return {
    jobId: jobId(row.id, row.attempt),
    priority: QUEUE_PRIORITY[row.priority],
    ...(delay > 0 ? { delay } : {}),
    removeOnComplete: true,
    removeOnFail: true,
  };
}
