/**
 * Sends dispatch messages (task id + attempt) to BullMQ queues: each task to the queue its placement chooses
 * (placement.ts: the queue of a worker pool that covers its route).
 *
 * A dispatch travels alone or in a batch. Alone, its job id is `<taskId>-<attempt>`, so sending it twice to one
 * queue is harmless: BullMQ ignores an add whose job id exists; and a dispatch in two queues is harmless too,
 * since a claim is conditional on the attempt. Due tasks of one route and priority sent together to one queue
 * travel in batches of up to `batchSize` per job, which a worker claims and runs together: Redis, the supervisor
 * and the worker then pay for one job rather than one per task. A batch's job has an id of its own, and the
 * queue's marker hash maps each of its dispatches to it, so `missing` still answers per task. Markers are
 * written before the job (a marker without its job reads as missing, which is safe) and removed by the worker
 * that ran the dispatch. A job is named by its route, so a queue's contents say what they are for.
 *
 * Jobs are removed from Redis once processed; the task and its result live in SQL.
 */
import { randomBytes } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { routeKey, type Route } from '../domain/capabilities';
import { QUEUE_PRIORITY, dispatchMessage, jobId, type DispatchMessage, type DispatchRef } from '../domain/task';
import type { DispatchRow } from '../store/port';
import { UnavailableError } from '../domain/errors';
import { withTimeout } from '../domain/timeout';
import { notifyWork } from './notify';
import { parking, type Placement } from './placement';

/** Jobs per Redis transaction when many are enqueued. */
const ADD_CHUNK = 100;

export interface DispatcherOptions {
  /** Most dispatches carried by one job (1: every task its own job). */
  batchSize?: number;
  /** How long a send waits for Redis before it gives up. */
  timeoutMs?: number;
  /** Which queue each task goes to (default: its route's parking queue, which no worker consumes). */
  placement?: Placement;
}

interface OutgoingJob {
  name: string;
  refs: DispatchRef[];
  opts: JobsOptions;
}

export class Dispatcher {
  private readonly queues = new Map<string, Queue<DispatchMessage>>();
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  readonly placement: Placement;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    opts: DispatcherOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 1;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.placement = opts.placement ?? parking;
  }

  queueFor(name: string): Queue<DispatchMessage> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<DispatchMessage>(name, { connection: this.redis, prefix: this.prefix });
      // Errors surface on the add() calls; the queue's own error events would only duplicate them.
      q.on('error', () => undefined);
      this.queues.set(name, q);
    }
    return q;
  }

  /** The hash mapping each batched dispatch in `queue` (`<taskId>-<attempt>`) to its batch's job id. */
  markerKey(queue: string): string {
    return `${this.prefix}:${queue}:taskfleet-batches`;
  }

  /**
   * Enqueues every row on the queue its placement chooses, or on `queue` when given (the supervisor moving
   * waiting tasks to a pool with free slots). Rejects at once when Redis is not connected, and after `timeoutMs`
   * when it stops answering: BullMQ itself would wait for a reconnect, and nothing is lost by giving up since
   * SQL has the task and the reconciler re-sends it.
   */
  async send(rows: readonly DispatchRow[], now = Date.now(), queue?: string): Promise<void> {
    if (rows.length === 0) return;
    this.assertConnected();
    if (queue === undefined) await this.placement.prepare?.(rows.filter((r) => r.notBefore <= now).map(routeOf));
    // queue → route → rows: a job holds dispatches of one route.
    const byQueue = new Map<string, Map<string, DispatchRow[]>>();
    for (const row of rows) {
      const route = routeOf(row);
      const due = row.notBefore <= now;
      if (due && this.placement.pulls?.(route))
        notifyWork(this.redis, this.prefix, routeKey(route.type, route.capabilities));
      const target = queue ?? this.placement.place(route, due);
      if (target === null) continue;
      const byRoute = byQueue.get(target) ?? new Map<string, DispatchRow[]>();
      byQueue.set(target, byRoute);
      const key = routeKey(route.type, route.capabilities);
      const list = byRoute.get(key);
      if (list) list.push(row);
      else byRoute.set(key, [row]);
    }
    const adds = [...byQueue].map(([target, byRoute]) =>
      this.addJobs(
        target,
        [...byRoute].flatMap(([route, list]) => this.jobsFor(route, list, now)),
      ),
    );
    await withTimeout(Promise.all(adds), this.timeoutMs, 'enqueue');
  }

  /**
   * Sends dispatches on as one job again in `queue` (a worker hands on what it could not take): same name and
   * BullMQ priority, a new job id, and their markers pointing at it.
   */
  async sendOn(queue: string, name: string, refs: readonly DispatchRef[], priority: number | undefined): Promise<void> {
    if (refs.length === 0) return;
    this.assertConnected();
    // Always as a batch (its own id, markers), even of one: the old markers of these dispatches name the job
    // they came from, and must now name this one.
    const job: OutgoingJob = {
      name,
      refs: [...refs],
      opts: { ...JOB_DEFAULTS, jobId: batchJobId(refs[0]!), priority },
    };
    await withTimeout(this.addJobs(queue, [job]), this.timeoutMs, 'enqueue');
  }

  /** Removes the markers of batched dispatches that have run (best effort: a stale marker only costs a check). */
  async forget(queue: string, refs: readonly DispatchRef[]): Promise<void> {
    if (refs.length === 0 || this.redis.status !== 'ready') return;
    await this.redis.hdel(this.markerKey(queue), ...refs.map(refId));
  }

  /**
   * The rows whose dispatch is in none of the queues it may be consumed from (placement.queuesFor): flushed,
   * lost, removed without a claim, or parked in a route's queue while a pool now covers the route. The markers
   * of those whose batch's job is gone are dropped: the caller sends them again, alone or in a batch with new
   * markers.
   */
  async missing(rows: readonly DispatchRow[]): Promise<DispatchRow[]> {
    if (rows.length === 0) return [];
    this.assertConnected();
    await this.placement.prepare?.();
    const places = rows.flatMap((row) =>
      this.placement.queuesFor(routeOf(row)).map((queue) => ({ row, queue, id: jobId(row.id, row.attempt) })),
    );
    const ownJob = await this.exists(places.map((p) => `${this.prefix}:${p.queue}:${p.id}`));
    // A row whose route needs no doorbell (HTTP agents only: they are claimed for from SQL) is never missing.
    const needed = new Set(places.map((p) => p.row));
    const present = new Set(rows.filter((row) => !needed.has(row)));
    for (const p of places.filter((_, i) => ownJob[i])) present.add(p.row);
    const unsent = places.filter((p) => !present.has(p.row));
    if (unsent.length === 0) return [];
    const batchOf = await this.pipelined(unsent.map((p) => ['hget', this.markerKey(p.queue), p.id]));
    const marked = unsent.map((p, i) => ({ ...p, batch: batchOf[i] as string | null })).filter((b) => b.batch !== null);
    const batchJob = await this.exists(marked.map((b) => `${this.prefix}:${b.queue}:${b.batch!}`));
    marked.forEach((b, i) => {
      if (batchJob[i]) present.add(b.row);
    });
    const stale = marked.filter((b, i) => !batchJob[i]);
    if (stale.length > 0) await this.pipelined(stale.map((b) => ['hdel', this.markerKey(b.queue), b.id]));
    return rows.filter((row) => !present.has(row));
  }

  /**
   * Removes a queue and everything in it from Redis (a parking queue whose doorbells are re-sent from SQL).
   * Refuses, by throwing, while a job of it is being processed.
   */
  async removeQueue(name: string): Promise<void> {
    const q = this.queueFor(name);
    try {
      await q.obliterate({ force: false });
      await this.redis.del(this.markerKey(name));
    } finally {
      this.queues.delete(name);
      await q.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
  }

  private assertConnected(): void {
    if (this.redis.status !== 'ready') throw new UnavailableError(`Redis is not connected (${this.redis.status})`);
  }

  /**
   * The jobs for one route's rows, in order: due rows of one priority in batches of up to `batchSize`, a
   * delayed row (or any row, without batching) alone under its own id.
   */
  private jobsFor(route: string, rows: readonly DispatchRow[], now: number): OutgoingJob[] {
    const jobs: OutgoingJob[] = [];
    const open = new Map<string, DispatchRow[]>();
    const close = (batch: DispatchRow[]) => {
      const refs = batch.map(rowRef);
      const id = refs.length === 1 ? refId(refs[0]!) : batchJobId(refs[0]!);
      jobs.push({ name: route, refs, opts: { ...jobOptions(batch[0]!, now), jobId: id } });
    };
    for (const row of rows) {
      if (this.batchSize === 1 || row.notBefore > now) {
        close([row]);
        continue;
      }
      const batch = open.get(row.priority) ?? [];
      batch.push(row);
      open.set(row.priority, batch);
      if (batch.length === this.batchSize) {
        close(batch);
        open.delete(row.priority);
      }
    }
    for (const batch of open.values()) close(batch);
    return jobs;
  }

  private addJobs(queue: string, jobs: readonly OutgoingJob[]): Promise<unknown> {
    const markers: Record<string, string> = {};
    let marked = false;
    for (const job of jobs) {
      if (!isBatchJob(job.opts.jobId)) continue;
      for (const ref of job.refs) markers[refId(ref)] = job.opts.jobId!;
      marked = true;
    }
    // Sent first on the same connection: Redis has the markers before it has the jobs they name.
    const writes: Promise<unknown>[] = marked ? [this.redis.hset(this.markerKey(queue), markers)] : [];
    const q = this.queueFor(queue);
    if (jobs.length === 1) {
      // One job: a plain add is one script call, where addBulk wraps it in MULTI/EXEC.
      const job = jobs[0]!;
      writes.push(q.add(job.name, dispatchMessage(job.refs), job.opts));
    } else {
      // In chunks: Redis runs one chunk's transaction while the next one is built here.
      for (let i = 0; i < jobs.length; i += ADD_CHUNK) {
        const chunk = jobs.slice(i, i + ADD_CHUNK);
        writes.push(q.addBulk(chunk.map((j) => ({ name: j.name, data: dispatchMessage(j.refs), opts: j.opts }))));
      }
    }
    return Promise.all(writes);
  }

  private async exists(keys: readonly string[]): Promise<boolean[]> {
    return (await this.pipelined(keys.map((k) => ['exists', k]))).map((n) => n === 1);
  }

  private async pipelined(commands: readonly string[][]): Promise<unknown[]> {
    if (commands.length === 0) return [];
    const replies = (await this.redis.pipeline(commands.map((c) => [...c])).exec()) ?? [];
    return commands.map((_, i) => {
      const reply = replies[i];
      if (!reply || reply[0]) throw reply?.[0] ?? new Error('Redis pipeline returned no reply');
      return reply[1];
    });
  }
}

function routeOf(row: DispatchRow): Route {
  return { type: row.type, capabilities: row.requiredCapabilities };
}

const JOB_DEFAULTS: JobsOptions = { removeOnComplete: true, removeOnFail: true };

function rowRef(row: DispatchRow): DispatchRef {
  return { taskId: row.id, attempt: row.attempt, ...(row.traceParent ? { traceParent: row.traceParent } : {}) };
}

function refId(ref: DispatchRef): string {
  return jobId(ref.taskId, ref.attempt);
}

/** A batch's job id: its first dispatch's, made unique (a batch is sent once; its dispatches may travel again). */
function batchJobId(first: DispatchRef): string {
  return `${refId(first)}${BATCH_MARK}${randomBytes(4).toString('hex')}`;
}

const BATCH_MARK = '~';

/** Whether a job is a batch, whose dispatches have markers (a task's own job id never holds the mark). */
export function isBatchJob(id: string | undefined): boolean {
  return id !== undefined && id.includes(BATCH_MARK);
}

/** A row's job options but its id, which depends on the job (a lone dispatch or a batch). */
function jobOptions(row: DispatchRow, now: number): JobsOptions {
  const delay = Math.max(0, row.notBefore - now);
  return {
    ...JOB_DEFAULTS,
    priority: QUEUE_PRIORITY[row.priority],
    ...(delay > 0 ? { delay } : {}),
  };
}
