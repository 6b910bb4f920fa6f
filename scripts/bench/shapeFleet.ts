/**
 * A fleet for `npm run bench:shape`: a supervisor process and worker processes with the capabilities asked
 * for (built-in handlers only), on a fresh SQLite store and a private key prefix of the shared Redis; and what
 * the benchmark reads of them: the store, a worker's Redis connections (CLIENT LIST) and its memory.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { workerEnv } from '../../src/cli/workerProcess';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { TERMINAL_STATUSES } from '../../src/domain/task';
import { PACKAGE_ROOT } from '../../src/version';
import type { ApiClient } from './http';
import { memoryOf, onCleanup, spawnTracked, stopProcess } from './processes';
import { localPortsOf, parseClientList, workerConnections, type WorkerConnections } from './shape';
import { waitUntil } from './stats';
import { cleanEnv, startSupervisorProcess } from './taskfleet';

export interface WorkerShape {
  id: string;
  capabilities: readonly string[];
  concurrency: number;
}

const TERMINAL = [...TERMINAL_STATUSES].map((s) => `'${s}'`).join(', ');

/** The local TCP ports of a process's sockets (empty where /proc cannot be read). */
export function portsOfProcess(pid: number): Set<number> {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]!);
    }
    const ports = new Set<number>();
    for (const file of ['tcp', 'tcp6']) {
      const text = (() => {
        try {
          return readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
        } catch {
          return '';
        }
      })();
      for (const p of localPortsOf(text, inodes)) ports.add(p);
    }
    return ports;
  } catch {
    return new Set();
  }
}

export interface FleetTask {
  agentId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  status: string;
}

export class ShapeFleet {
  readonly prefix: string;
  private readonly dir: string;
  private readonly vars: Record<string, string>;
  private supervisor: { child: ChildProcess; api: ApiClient } | null = null;
  private readonly workers = new Map<string, ChildProcess>();
  private reader: Database.Database | null = null;
  private admin: Redis | null = null;
  private readonly removeCleanup: () => void;

  constructor(
    private readonly redisUrl: string,
    name: string,
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-shape-'));
    this.prefix = `tfshape-${process.pid}-${name}`;
    this.vars = {
      TASKFLEET_REDIS_URL: redisUrl,
      TASKFLEET_REDIS_PREFIX: this.prefix,
      TASKFLEET_SQLITE_PATH: path.join(this.dir, 'shape.db'),
      TASKFLEET_LOG_LEVEL: 'warn',
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    };
    const { dir, prefix } = this;
    this.removeCleanup = onCleanup(async () => {
      await deleteKeysUnder(redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  async start(workers: readonly WorkerShape[]): Promise<void> {
    const supervisor = await startSupervisorProcess(this.vars);
    this.supervisor = supervisor;
    this.reader = new Database(this.vars.TASKFLEET_SQLITE_PATH, { readonly: true, fileMustExist: true });
    this.reader.pragma('busy_timeout = 5000');
    this.admin = new Redis(this.redisUrl, { maxRetriesPerRequest: 1, connectionName: `${this.prefix}-bench` });
    const bin = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
    for (const w of workers) {
      const args = [bin, 'worker', '--id', w.id, '--concurrency', String(w.concurrency)];
      if (w.capabilities.length > 0) args.push('--capabilities', w.capabilities.join(','));
      const child = spawnTracked(process.execPath, args, {
        env: workerEnv(cleanEnv(this.vars)),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      this.workers.set(w.id, child);
    }
    const agent = this.db().prepare<[string], { state: string; pid: number }>(
      'SELECT state, pid FROM agents WHERE id = ?',
    );
    await waitUntil(
      () =>
        [...this.workers].every(([id, child]) => {
          if (child.exitCode !== null) throw new Error(`worker ${id} exited with code ${child.exitCode}`);
          const a = agent.get(id);
          return a?.state === 'running' && a.pid === child.pid;
        }),
      'the workers to register',
      60_000,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => stopProcess(w, 30_000)));
    this.workers.clear();
    if (this.supervisor) {
      await stopProcess(this.supervisor.child);
      this.supervisor.api.close();
    }
    this.supervisor = null;
    this.reader?.close();
    this.reader = null;
    this.admin?.disconnect();
    this.admin = null;
    await deleteKeysUnder(this.redisUrl, this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
    this.removeCleanup();
  }

  /** Submits tasks by the batch API, 1000 at most a request. */
  async submitBatch(tasks: readonly unknown[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += 1000)
      await this.api().post('/v1/tasks/batch', JSON.stringify({ tasks: tasks.slice(i, i + 1000) }));
  }

  async submitOne(task: unknown): Promise<void> {
    await this.api().post('/v1/tasks', JSON.stringify(task));
  }

  /** Waits until `n` tasks are in a final state (succeeded, dead, …). */
  async waitFinished(n: number, timeoutMs = 300_000): Promise<void> {
    const count = this.db().prepare<[], { n: number }>(`SELECT count(*) AS n FROM tasks WHERE status IN (${TERMINAL})`);
    await waitUntil(() => count.get()!.n >= n, `${n} tasks to finish`, timeoutMs, 100);
  }

  /** Every task with where and when it ran (ms). */
  tasks(): FleetTask[] {
    return this.db()
      .prepare<[], FleetTask>(
        `SELECT agent_id AS agentId, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt,
                status FROM tasks`,
      )
      .all();
  }

  /** A worker's Redis connections now: by its process's own sockets where /proc tells them, else by name. */
  async connectionsOf(id: string): Promise<WorkerConnections> {
    const pid = this.workers.get(id)?.pid;
    if (pid === undefined || !this.admin) throw new Error(`no worker ${id}`);
    const clients = parseClientList((await this.admin.client('LIST')) as string);
    const ports = portsOfProcess(pid);
    return workerConnections(clients, id, this.prefix, ports.size > 0 ? ports : undefined);
  }

  /** A worker's resident memory now, MiB (VmRSS). */
  rssOf(id: string): number {
    return memoryOf(this.workers.get(id)?.pid).rssMb;
  }

  /**
   * Waits until a worker's connection count holds still over `quietMs` (consumers open their blocking
   * connections shortly after they start), then returns its connections and memory.
   */
  async settled(id: string, quietMs = 2_000): Promise<{ connections: WorkerConnections; rssMb: number }> {
    let last = await this.connectionsOf(id);
    let since = Date.now();
    await waitUntil(
      async () => {
        const now = await this.connectionsOf(id);
        if (now.total !== last.total) {
          last = now;
          since = Date.now();
        }
        return Date.now() - since >= quietMs;
      },
      `the connections of ${id} to settle`,
      120_000,
      250,
    );
    return { connections: last, rssMb: this.rssOf(id) };
  }

  private api(): ApiClient {
    if (!this.supervisor) throw new Error('shape fleet: no supervisor');
    return this.supervisor.api;
  }

  private db(): Database.Database {
    if (!this.reader) throw new Error('shape fleet: no store');
    return this.reader;
  }
}
