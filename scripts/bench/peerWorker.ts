/**
 * A worker process of a peer queue (BullMQ, pg-boss, graphile-worker) for the benchmark, started by
 * peers.ts with `fork`. It runs a no-op handler on the queue `bench` and reports over IPC:
 *  - `stats`: tasks completed in the current phase, with the first start and the last completion (wall ms);
 *  - `start` / `end` for traced tasks (their payload carries `k`), for the idle-fleet latency.
 * The parent sends `phase` (start counting afresh; answered with `phase-ok`) and `stop`.
 */
import { Logger, run, type Runner } from 'graphile-worker';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { PgBoss } from 'pg-boss';
import { wallMs } from './stats';

export interface PeerWorkerConfig {
  system: 'bullmq' | 'pgboss' | 'graphile';
  fast: boolean;
  concurrency: number;
  redisUrl: string;
  prefix: string;
  postgresUrl: string;
  schema: string;
}

export type PeerMessage =
  | { type: 'ready' }
  | { type: 'phase-ok' }
  | { type: 'stats'; count: number; firstStart: number; lastEnd: number }
  | { type: 'start'; k: number; at: number }
  | { type: 'end'; k: number; at: number };

const send = (m: PeerMessage) => process.send?.(m);

let count = 0;
let firstStart = Infinity;
let lastEnd = 0;
let dirty = false;

function started(k: unknown): void {
  const at = wallMs();
  if (at < firstStart) firstStart = at;
  if (typeof k === 'number') send({ type: 'start', k, at });
}

function ended(k: unknown, at: number): void {
  count++;
  if (at > lastEnd) lastEnd = at;
  dirty = true;
  if (typeof k === 'number') send({ type: 'end', k, at });
}

const keyOf = (data: unknown) => (data && typeof data === 'object' ? (data as { k?: unknown }).k : undefined);

async function startBullmq(c: PeerWorkerConfig): Promise<() => Promise<void>> {
  const connection = new Redis(c.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(
    'bench',
    async (job) => {
      started(keyOf(job.data));
    },
    { connection, prefix: c.prefix, concurrency: c.concurrency },
  );
  // finishedOn is stamped by the worker just before its completing script runs, as taskfleet's finishedAt.
  worker.on('completed', (job) => ended(keyOf(job.data), job.finishedOn ?? Date.now()));
  await worker.waitUntilReady();
  return async () => {
    await worker.close();
    connection.disconnect();
  };
}

async function startPgBoss(c: PeerWorkerConfig): Promise<() => Promise<void>> {
  const boss = new PgBoss({ connectionString: c.postgresUrl, schema: c.schema, useListenNotify: c.fast });
  boss.on('error', (err: unknown) => console.error('pg-boss worker:', err));
  await boss.start();
  const handler = async (jobs: Array<{ data: unknown }>) => {
    for (const j of jobs) started(keyOf(j.data));
  };
  // Completion times come from the job table (completed_on); the parent reads them.
  if (c.fast) await boss.work('bench', { batchSize: 500, burstWhenBatchFull: true, localConcurrency: 2 }, handler);
  else await boss.work('bench', { localConcurrency: c.concurrency }, handler);
  return async () => {
    await boss.stop({ graceful: true, timeout: 5_000 });
  };
}

async function startGraphile(c: PeerWorkerConfig): Promise<() => Promise<void>> {
  const quiet = new Logger(() => (level, message) => {
    if (level === 'error') console.error('graphile-worker:', message);
  });
  const runner: Runner = await run({
    connectionString: c.postgresUrl,
    schema: c.schema,
    concurrency: c.concurrency,
    noHandleSignals: true,
    logger: quiet,
    taskList: {
      bench: async (payload) => {
        started(keyOf(payload));
      },
    },
    ...(c.fast ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } } : {}),
  });
  // job:complete: the result has been written back to the database.
  runner.events.on('job:complete', ({ job, error }) => {
    if (!error) ended(keyOf(job.payload), wallMs());
  });
  return async () => {
    await runner.stop();
  };
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as PeerWorkerConfig;
  const stop =
    c.system === 'bullmq'
      ? await startBullmq(c)
      : c.system === 'pgboss'
        ? await startPgBoss(c)
        : await startGraphile(c);
  const timer = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    send({ type: 'stats', count, firstStart, lastEnd });
  }, 50);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'phase') {
      count = 0;
      firstStart = Infinity;
      lastEnd = 0;
      dirty = true;
      send({ type: 'phase-ok' });
    } else if (m.type === 'stop') {
      clearInterval(timer);
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // The parent is gone (Ctrl-C, a crash): stop at once.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => undefined); // the parent decides when to stop
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
