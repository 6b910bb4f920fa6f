/**
 * The peers, measured with the same worker processes and concurrency as taskfleet: raw BullMQ on the same
 * Redis (fast, not durable), and, when a local PostgreSQL answers, pg-boss and graphile-worker (durable,
 * SQL-backed), each at its defaults and at its documented high-throughput settings:
 *  - pg-boss: `batchSize` 500 with `burstWhenBatchFull`, and LISTEN/NOTIFY (`useListenNotify`, queue `notify`);
 *  - graphile-worker: `localQueue.size` 500 and `completeJobBatchDelay: 0`.
 * Worker processes run peerWorker.ts; this file is the producer side and reads the figures.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Queue } from 'bullmq';
import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import type { CpuProcesses } from './cpu';
import type { BenchSettings, Driver, Window } from './driver';
import type { PeerMessage, PeerWorkerConfig } from './peerWorker';
import { forkTracked, memoryOf, onCleanup, stopProcess, type Memory } from './processes';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { InterruptedError, interruption, sleep, waitUntil, wallMs } from './stats';

const PEER_WORKER = path.join(__dirname, 'peerWorker.js');

interface PeerProcess {
  child: ChildProcess;
  count: number;
  firstStart: number;
  lastEnd: number;
}

/** Whether PostgreSQL answers at `url`. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

abstract class PeerDriver implements Driver {
  abstract readonly key: string;
  abstract readonly label: string;
  abstract readonly durable: boolean;
  readonly slow: boolean = false;
  readonly producerRole = 'producer';
  /** Whether the peer's queue lives in the shared Redis (BullMQ), so that Redis's CPU counts towards it. */
  protected readonly usesRedis: boolean = false;

  protected workers: PeerProcess[] = [];
  private workerPeaks: Memory[] = [];
  protected traces = new Map<number, { start?: number; end?: number }>();
  private nextKey = 0;
  protected phaseStart = 0;

  constructor(
    protected readonly s: BenchSettings,
    protected readonly fast: boolean,
  ) {}

  abstract setup(run: number): Promise<void>;
  protected abstract workerConfig(): PeerWorkerConfig;
  protected abstract closeBackend(): Promise<void>;
  abstract submitBatches(n: number, progress: (submitted: number) => void): Promise<void>;
  abstract submitOne(): Promise<void>;
  /** Submits one task whose payload carries `k`. */
  protected abstract submitTraced(k: number): Promise<void>;

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.closeBackend();
    this.workerPeaks = [];
  }

  async startWorkers(): Promise<void> {
    const config = JSON.stringify(this.workerConfig());
    const started = Array.from({ length: this.s.workers }, () => {
      const child = forkTracked(PEER_WORKER, [config], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const p: PeerProcess = { child, count: 0, firstStart: Infinity, lastEnd: 0 };
      return p;
    });
    await Promise.all(
      started.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            p.child.once('exit', (code) => reject(new Error(`a ${this.label} worker exited with code ${code}`)));
            p.child.on('message', (m: PeerMessage) => {
              if (m.type === 'ready') resolve();
              else this.onMessage(p, m);
            });
          }),
      ),
    );
    this.workers.push(...started);
  }

  async stopWorkers(): Promise<void> {
    for (const w of this.workers) this.workerPeaks.push(memoryOf(w.child.pid));
    await Promise.all(
      this.workers.map((w) => {
        w.child.removeAllListeners('exit');
        const exited = stopProcess(w.child, 15_000);
        if (w.child.connected) w.child.send({ type: 'stop' });
        return exited;
      }),
    );
    this.workers = [];
  }

  async beginPhase(): Promise<void> {
    this.phaseStart = Date.now();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const onAck = (m: PeerMessage) => {
              if (m.type !== 'phase-ok') return;
              w.child.off('message', onAck);
              w.count = 0;
              w.firstStart = Infinity;
              w.lastEnd = 0;
              resolve();
            };
            w.child.on('message', onAck);
            w.child.send({ type: 'phase' });
          }),
      ),
    );
  }

  async completed(): Promise<number> {
    return this.workers.reduce((n, w) => n + w.count, 0);
  }

  async window(): Promise<Window> {
    return {
      firstStart: Math.min(...this.workers.map((w) => w.firstStart)),
      lastEnd: Math.max(...this.workers.map((w) => w.lastEnd)),
    };
  }

  async latencySample(): Promise<{ start: number; complete: number }> {
    const k = this.nextKey++;
    this.traces.set(k, {});
    const t0 = wallMs();
    await this.submitTraced(k);
    await waitUntil(() => this.traced(k) !== null, `traced task ${k} of ${this.label}`, 60_000, 1);
    const t = this.traced(k)!;
    this.traces.delete(k);
    return { start: t.start - t0, complete: t.end - t0 };
  }

  memory() {
    return { workers: [...this.workerPeaks, ...this.workers.map((w) => memoryOf(w.child.pid))] };
  }

  /** The benchmark process is the peer's producer: its queue client submits the tasks in process. */
  cpuProcesses(): CpuProcesses {
    return {
      producer: process.pid,
      workers: this.workers.flatMap((w) => (w.child.pid === undefined ? [] : [w.child.pid])),
      usesRedis: this.usesRedis,
    };
  }

  /** The start and end of a traced task once both are known. */
  protected traced(k: number): { start: number; end: number } | null {
    const t = this.traces.get(k);
    return t?.start !== undefined && t.end !== undefined ? { start: t.start, end: t.end } : null;
  }

  private onMessage(p: PeerProcess, m: PeerMessage): void {
    if (m.type === 'stats') {
      p.count = m.count;
      p.firstStart = m.firstStart;
      p.lastEnd = m.lastEnd;
    } else if (m.type === 'start' || m.type === 'end') {
      const t = this.traces.get(m.k);
      if (t) t[m.type] = m.at;
    }
  }
}

const JOB_OPTS = { removeOnComplete: true, removeOnFail: true };

/** Raw BullMQ on the same Redis: a Queue here, Workers in the worker processes; jobs removed on completion. */
export class BullmqDriver extends PeerDriver {
  readonly key = 'bullmq';
  readonly label = 'BullMQ (raw, Redis only)';
  readonly durable = false;
  protected override readonly usesRedis = true;
  private prefix = '';
  private connection: Redis | null = null;
  private queue: Queue | null = null;
  private removeCleanup: (() => void) | null = null;

  constructor(s: BenchSettings) {
    super(s, false);
  }

  async setup(run: number): Promise<void> {
    this.prefix = `tfbench-bullmq-${process.pid}-${run}`;
    const prefix = this.prefix;
    this.removeCleanup = onCleanup(() => deleteKeysUnder(this.s.redisUrl, prefix));
    this.connection = new Redis(this.s.redisUrl, { maxRetriesPerRequest: null });
    this.queue = new Queue('bench', { connection: this.connection, prefix });
    await this.queue.waitUntilReady();
  }

  protected workerConfig(): PeerWorkerConfig {
    return {
      system: 'bullmq',
      fast: false,
      concurrency: this.s.concurrency,
      redisUrl: this.s.redisUrl,
      prefix: this.prefix,
      postgresUrl: '',
      schema: '',
    };
  }

  protected async closeBackend(): Promise<void> {
    await this.queue?.close();
    this.connection?.disconnect();
    await deleteKeysUnder(this.s.redisUrl, this.prefix);
    this.removeCleanup?.();
  }

  async submitBatches(n: number, progress: (submitted: number) => void): Promise<void> {
    for (let done = 0; done < n;) {
      const size = Math.min(1000, n - done);
      await this.queue!.addBulk(Array.from({ length: size }, () => ({ name: 'noop', data: {}, opts: JOB_OPTS })));
      done += size;
      progress(done);
    }
  }

  async submitOne(): Promise<void> {
    await this.queue!.add('noop', {}, JOB_OPTS);
  }

  protected async submitTraced(k: number): Promise<void> {
    await this.queue!.add('noop', { k }, JOB_OPTS);
  }
}

/** pg-boss on its own schema; completions are read from its job table (completed_on). */
export class PgBossDriver extends PeerDriver {
  readonly key: string;
  readonly label: string;
  readonly durable = true;
  override readonly slow: boolean;
  private schema = '';
  private boss: PgBoss | null = null;
  private pool: pg.Pool | null = null;
  private removeCleanup: (() => void) | null = null;

  constructor(s: BenchSettings, fast: boolean) {
    super(s, fast);
    this.key = fast ? 'pgBossFast' : 'pgBossDefault';
    this.label = fast ? 'pg-boss (batch 500, burst, NOTIFY)' : 'pg-boss (defaults)';
    this.slow = !fast;
  }

  async setup(run: number): Promise<void> {
    this.schema = `tfbench_pgboss_${process.pid}_${run}${this.fast ? '_fast' : ''}`;
    const schema = this.schema;
    this.pool = new pg.Pool({ connectionString: this.s.postgresUrl, max: 2 });
    this.removeCleanup = onCleanup(() => dropSchema(this.s.postgresUrl, schema));
    this.boss = new PgBoss({ connectionString: this.s.postgresUrl, schema });
    this.boss.on('error', (err: unknown) => console.error('pg-boss:', err));
    await this.boss.start();
    await this.boss.createQueue('bench', this.fast ? { notify: true } : {});
  }

  protected workerConfig(): PeerWorkerConfig {
    return {
      system: 'pgboss',
      fast: this.fast,
      concurrency: this.s.concurrency,
      redisUrl: '',
      prefix: '',
      postgresUrl: this.s.postgresUrl,
      schema: this.schema,
    };
  }

  protected async closeBackend(): Promise<void> {
    await this.boss?.stop({ graceful: false, timeout: 2_000 }).catch(() => undefined);
    await this.pool?.end();
    await dropSchema(this.s.postgresUrl, this.schema);
    this.removeCleanup?.();
  }

  async submitBatches(n: number, progress: (submitted: number) => void): Promise<void> {
    for (let done = 0; done < n;) {
      const size = Math.min(1000, n - done);
      await this.boss!.insert(
        'bench',
        Array.from({ length: size }, () => ({ data: {} })),
      );
      done += size;
      progress(done);
    }
  }

  async submitOne(): Promise<void> {
    await this.boss!.send('bench', {});
  }

  protected async submitTraced(k: number): Promise<void> {
    const id = await this.boss!.send('bench', { k });
    // Its completion is the job row's completed_on, stamped in the completing transaction.
    const q = `SELECT extract(epoch FROM completed_on) * 1000 AS at FROM ${this.schema}.job WHERE id = $1 AND state = 'completed'`;
    for (;;) {
      const { rows } = await this.pool!.query<{ at: string }>(q, [id]);
      if (rows[0]) {
        const t = this.traces.get(k);
        if (t) t.end = Number(rows[0].at);
        return;
      }
      if (interruption.requested) throw new InterruptedError();
      await sleep(1);
    }
  }

  override async completed(): Promise<number> {
    const { rows } = await this.pool!.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.schema}.job WHERE name = 'bench' AND state = 'completed' AND created_on >= to_timestamp($1 / 1000.0)`,
      [this.phaseStart],
    );
    return Number(rows[0]?.n ?? 0);
  }

  override async window(): Promise<Window> {
    const { rows } = await this.pool!.query<{ first: string; last: string }>(
      `SELECT extract(epoch FROM min(started_on)) * 1000 AS first, extract(epoch FROM max(completed_on)) * 1000 AS last
       FROM ${this.schema}.job WHERE name = 'bench' AND state = 'completed' AND created_on >= to_timestamp($1 / 1000.0)`,
      [this.phaseStart],
    );
    return { firstStart: Number(rows[0]?.first), lastEnd: Number(rows[0]?.last) };
  }
}

/** graphile-worker on its own schema; completions reported by the workers' `job:complete` events. */
export class GraphileDriver extends PeerDriver {
  readonly key: string;
  readonly label: string;
  readonly durable = true;
  private schema = '';
  private utils: WorkerUtils | null = null;
  private removeCleanup: (() => void) | null = null;

  constructor(s: BenchSettings, fast: boolean) {
    super(s, fast);
    this.key = fast ? 'graphileFast' : 'graphileDefault';
    this.label = fast ? 'graphile-worker (localQueue 500, batch 0)' : 'graphile-worker (defaults)';
  }

  async setup(run: number): Promise<void> {
    this.schema = `tfbench_gw_${process.pid}_${run}${this.fast ? '_fast' : ''}`;
    const schema = this.schema;
    this.removeCleanup = onCleanup(() => dropSchema(this.s.postgresUrl, schema));
    this.utils = await makeWorkerUtils({ connectionString: this.s.postgresUrl, schema });
    await this.utils.migrate();
  }

  protected workerConfig(): PeerWorkerConfig {
    return {
      system: 'graphile',
      fast: this.fast,
      concurrency: this.s.concurrency,
      redisUrl: '',
      prefix: '',
      postgresUrl: this.s.postgresUrl,
      schema: this.schema,
    };
  }

  protected async closeBackend(): Promise<void> {
    await this.utils?.release();
    await dropSchema(this.s.postgresUrl, this.schema);
    this.removeCleanup?.();
  }

  async submitBatches(n: number, progress: (submitted: number) => void): Promise<void> {
    for (let done = 0; done < n;) {
      const size = Math.min(1000, n - done);
      await this.utils!.addJobs(Array.from({ length: size }, () => ({ identifier: 'bench', payload: {} })));
      done += size;
      progress(done);
    }
  }

  async submitOne(): Promise<void> {
    await this.utils!.addJob('bench', {});
  }

  protected async submitTraced(k: number): Promise<void> {
    await this.utils!.addJob('bench', { k });
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(schema)) return;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } catch {
    // PostgreSQL is gone: nothing to drop
  } finally {
    await client.end().catch(() => undefined);
  }
}
