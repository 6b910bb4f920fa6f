/**
 * Sends dispatch messages (task id + attempt) to the BullMQ queue of each task's route.
 *
 * A dispatch travels alone or in a batch. Alone, its job id is `<taskId>-<attempt>`, so sending it twice is
 * harmless: BullMQ ignores an add whose job id exists. Due tasks of one route and priority sent together
 * travel in batches of up to `batchSize` per job, which a worker claims and runs together: Redis, the
 * supervisor and the worker then pay for one job rather than one per task. A batch's job has an id of its
 * own, and the route's marker hash maps each of its dispatches to it, so `missing` still answers per task.
 * Markers are written before the job (a marker without its job reads as missing, which is safe) and removed by
 * the worker that ran the dispatch.
 *
 * Jobs are removed from Redis once processed; the task and its result live in SQL.
 */
import { randomBytes } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { routeKey } from '../domain/capabilities';
import { QUEUE_PRIORITY, dispatchMessage, jobId, type DispatchMessage, type DispatchRef } from '../domain/task';
import type { DispatchRow } from '../store/port';
import { UnavailableError } from '../domain/errors';
import { withTimeout } from '../domain/timeout';

/** Jobs per Redis transaction when many are enqueued. */
const ADD_CHUNK = 100;

export interface DispatcherOptions {
  /** Most dispatches carried by one job (1: every task its own job). */
  batchSize?: number;
  /** How long a send waits for Redis before it gives up. */
  timeoutMs?: number;
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

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    opts: DispatcherOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 1;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
  }

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

  /** The hash mapping each batched dispatch of `route` (`<taskId>-<attempt>`) to its batch's job id. */
  markerKey(route: string): string {
    return `${this.prefix}:${route}:taskfleet-batches`;
  }

  /**
   * Enqueues every row on its route's queue. Rejects at once when Redis is not connected, and after
   * `timeoutMs` when it stops answering: BullMQ itself would wait for a reconnect, and nothing is lost by
   * giving up since SQL has the task and the reconciler re-sends it.
   */
  async send(rows: readonly DispatchRow[], now = Date.now()): Promise<void> {
    if (rows.length === 0) return;
    this.assertConnected();
    const byRoute = new Map<string, DispatchRow[]>();
    for (const row of rows) {
      const key = routeKey(row.type, row.requiredCapabilities);
      const list = byRoute.get(key);
      if (list) list.push(row);
      else byRoute.set(key, [row]);
    }
    const adds = [...byRoute].map(([route, list]) => this.addJobs(route, this.jobsFor(list, now)));
    await withTimeout(Promise.all(adds), this.timeoutMs, 'enqueue');
  }

  /**
   * Sends dispatches of `route` on as one job again (a worker hands on what it could not take): same task
   * type and BullMQ priority, a new job id, and their markers pointing at it.
   */
  async sendOn(route: string, name: string, refs: readonly DispatchRef[], priority: number | undefined): Promise<void> {
    if (refs.length === 0) return;
    this.assertConnected();
    // Always as a batch (its own id, markers), even of one: the old markers of these dispatches name the job
    // they came from, and must now name this one.
    const job: OutgoingJob = {
      name,
      refs: [...refs],
      opts: { ...JOB_DEFAULTS, jobId: batchJobId(refs[0]!), priority },
    };
    await withTimeout(this.addJobs(route, [job]), this.timeoutMs, 'enqueue');
  }

  /** Removes the markers of batched dispatches that have run (best effort: a stale marker only costs a check). */
  async forget(route: string, refs: readonly DispatchRef[]): Promise<void> {
    if (refs.length === 0 || this.redis.status !== 'ready') return;
    await this.redis.hdel(this.markerKey(route), ...refs.map(refId));
  }

  /**
   * The rows whose dispatch is not in Redis (flushed, lost, or removed without a claim). The markers of those
   * whose batch's job is gone are dropped: the caller sends them again, alone or in a batch with new markers.
   */
  async missing(rows: readonly DispatchRow[]): Promise<DispatchRow[]> {
    if (rows.length === 0) return [];
    this.assertConnected();
    const route = (row: DispatchRow) => routeKey(row.type, row.requiredCapabilities);
    const id = (row: DispatchRow) => jobId(row.id, row.attempt);
    const ownJob = await this.exists(rows.map((row) => `${this.prefix}:${route(row)}:${id(row)}`));
    const unsent = rows.filter((_, i) => !ownJob[i]);
    if (unsent.length === 0) return [];
    const batchOf = await this.pipelined(unsent.map((row) => ['hget', this.markerKey(route(row)), id(row)]));
    const marked = unsent
      .map((row, i) => ({ row, batch: batchOf[i] as string | null }))
      .filter((b) => b.batch !== null);
    const batchJob = await this.exists(marked.map((b) => `${this.prefix}:${route(b.row)}:${b.batch!}`));
    const present = new Set(marked.filter((_, i) => batchJob[i]).map((b) => b.row));
    const stale = marked.filter((b) => !present.has(b.row));
    if (stale.length > 0) await this.pipelined(stale.map((b) => ['hdel', this.markerKey(route(b.row)), id(b.row)]));
    return unsent.filter((row) => !present.has(row));
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
  private jobsFor(rows: readonly DispatchRow[], now: number): OutgoingJob[] {
    const jobs: OutgoingJob[] = [];
    const open = new Map<string, DispatchRow[]>();
    const close = (batch: DispatchRow[]) => {
      const first = batch[0]!;
      const refs = batch.map(rowRef);
      const id = refs.length === 1 ? refId(refs[0]!) : batchJobId(refs[0]!);
      jobs.push({ name: first.type, refs, opts: { ...jobOptions(first, now), jobId: id } });
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

  private addJobs(route: string, jobs: readonly OutgoingJob[]): Promise<unknown> {
    const markers: Record<string, string> = {};
    let marked = false;
    for (const job of jobs) {
      if (!isBatchJob(job.opts.jobId)) continue;
      for (const ref of job.refs) markers[refId(ref)] = job.opts.jobId!;
      marked = true;
    }
    // Sent first on the same connection: Redis has the markers before it has the jobs they name.
    const writes: Promise<unknown>[] = marked ? [this.redis.hset(this.markerKey(route), markers)] : [];
    const q = this.queueFor(route);
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
