/**
 * The chaos suite's fleet and workload (the invariant checks are in test/helpers/chaosInvariants.ts).
 *
 * A ChaosFleet is a real fleet like test/helpers/fleet.ts, but any part of it can be killed: the supervisor
 * runs in this process or as a `taskfleet supervisor` process (so it can be SIGKILLed and restarted on the same
 * port), several supervisors can run at once, and workers are `taskfleet worker` processes with the chaos
 * handlers (test/chaos/handlers.js). Everything the checks need is read straight from the SQLite file, so they
 * work while no supervisor is up.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { configToEnv, withoutSecrets, type Config } from '../../src/config/config';
import { freePort } from '../../src/cli/redisBootstrap';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { BIN, ROOT, testConfig, waitFor } from './fleet';

export const CHAOS_HANDLERS = path.join(ROOT, 'test', 'chaos', 'handlers.js');

/** Worker capability sets: every task capability set below is covered by at least two of them. */
export const WORKER_KINDS: ReadonlyArray<{ kind: string; capabilities: string[] }> = [
  { kind: 'plain', capabilities: [] },
  { kind: 'gpu', capabilities: ['cuda', 'gpu'] },
  { kind: 'fs', capabilities: ['fs'] },
  { kind: 'all', capabilities: ['cuda', 'fs', 'gpu'] },
];

/** Task capability sets, used in turn. */
export const TASK_CAPABILITY_SETS: ReadonlyArray<string[]> = [[], ['gpu'], ['fs'], ['cuda', 'gpu'], []];

/** `n` short chaos tasks (5 to 30 ms), numbered from `from`, tagged so a test can find them in the store. */
export function chaosTasks(n: number, from = 0, tag = 'chaos', maxAttempts = 10): object[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      type: 'chaos',
      payload: { ms: 5 + ((i * 7) % 26), tag, i },
      requiredCapabilities: TASK_CAPABILITY_SETS[i % TASK_CAPABILITY_SETS.length],
      maxAttempts,
    };
  });
}

/**
 * For the scenario's own timing only: the pace of submissions and faults, and how long a fault lasts. A test
 * that waits for the fleet to reach a state uses `waitFor` on that state.
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ChaosProcess {
  id: string;
  child: ChildProcess;
  exited: Promise<void>;
  logFile: string;
}

export interface SupervisorProcess extends ChaosProcess {
  url: string;
  port: number;
}

export class ChaosFleet {
  readonly workers = new Map<string, ChaosProcess & { capabilities: string[]; registered: boolean }>();
  readonly supervisorProcesses: SupervisorProcess[] = [];
  readonly inProcess: Supervisor[] = [];
  private readonly procs: ChaosProcess[] = [];
  private reader: Database.Database | null = null;

  private constructor(
    readonly dir: string,
    readonly config: Config,
  ) {}

  /** A fleet's configuration; no supervisor started yet. Short intervals come from FAST (fleet.ts). */
  static create(env: Record<string, string> = {}): ChaosFleet {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tf-chaos-'));
    return new ChaosFleet(
      dir,
      testConfig(dir, {
        TASKFLEET_RATE_LIMIT_PER_SECOND: '100000',
        TASKFLEET_RATE_LIMIT_BURST: '100000',
        ...env,
      }),
    );
  }

  get adminKey(): string {
    return this.config.adminApiKey ?? '';
  }

  get dbPath(): string {
    return this.config.sqlitePath;
  }

  /** A supervisor in this process (port 0). */
  async startInProcessSupervisor(): Promise<Supervisor> {
    const sup = await buildSupervisor(this.config, {
      log: pino({ level: process.env.TASKFLEET_TEST_LOG ?? 'silent' }),
    });
    this.inProcess.push(sup);
    return sup;
  }

  /**
   * `taskfleet supervisor` as a process on `port` (a free one by default), with `env` added (test hooks); resolves
   * once /readyz answers 200.
   */
  async startSupervisorProcess(port?: number, env: Record<string, string> = {}): Promise<SupervisorProcess> {
    const p = port ?? (await freePort());
    const id = `supervisor-${this.supervisorProcesses.length}`;
    const proc = this.spawnProcess(id, ['supervisor'], {
      TASKFLEET_PORT: String(p),
      TASKFLEET_HOST: '127.0.0.1',
      TASKFLEET_ADMIN_API_KEY: this.adminKey,
      ...env,
    });
    const url = `http://127.0.0.1:${p}`;
    const sup: SupervisorProcess = { ...proc, url, port: p };
    this.supervisorProcesses.push(sup);
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`${id} exited with ${proc.child.exitCode}; see ${proc.logFile}`);
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
        return res?.status === 200;
      },
      20_000,
      `${id} to answer /readyz`,
      20,
    );
    return sup;
  }

  /** Starts a worker process with the chaos handlers; resolves once its agent is registered and running. */
  async spawnWorker(o: {
    id: string;
    capabilities: string[];
    concurrency?: number;
    env?: Record<string, string>;
  }): Promise<ChaosProcess> {
    const args = ['worker', '--id', o.id, '--concurrency', String(o.concurrency ?? 6), '--handlers', CHAOS_HANDLERS];
    if (o.capabilities.length > 0) args.push('--capabilities', o.capabilities.join(','));
    const proc = this.spawnProcess(o.id, args, o.env ?? {});
    const worker = { ...proc, capabilities: o.capabilities, registered: false };
    this.workers.set(o.id, worker);
    await waitFor(
      () => {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null)
          throw new Error(
            `worker ${o.id} exited (${proc.child.exitCode ?? proc.child.signalCode}); see ${proc.logFile}`,
          );
        const row = this.db()
          .prepare<[string], { state: string; pid: number }>('SELECT state, pid FROM agents WHERE id = ?')
          .get(o.id);
        return row?.state === 'running' && row.pid === proc.child.pid;
      },
      20_000,
      `worker ${o.id} to register`,
    );
    worker.registered = true;
    return proc;
  }

  /** The registered workers whose process is alive. */
  aliveWorkers() {
    return [...this.workers.values()].filter(
      (w) => w.registered && w.child.exitCode === null && w.child.signalCode === null,
    );
  }

  /**
   * SIGKILLs a random live worker and waits until it is gone: answers when, the tasks it was running (what the
   * fault's recovery is measured on) and its kind (for a replacement), or null when no worker is alive.
   */
  async killRandomWorker(): Promise<{
    at: number;
    tasks: Array<{ id: string; attempt: number }>;
    kind: (typeof WORKER_KINDS)[number];
  } | null> {
    const alive = this.aliveWorkers();
    const victim = alive[Math.floor(Math.random() * alive.length)];
    if (!victim) return null;
    const kind = WORKER_KINDS.find((k) => k.capabilities.join(',') === victim.capabilities.join(','))!;
    const tasks = this.runningOn(victim.id);
    const at = Date.now();
    await this.signal(victim, 'SIGKILL');
    return { at, tasks, kind };
  }

  /** Sends a signal to a process and, for SIGKILL, waits until it is gone. */
  async signal(proc: ChaosProcess, sig: NodeJS.Signals): Promise<void> {
    proc.child.kill(sig);
    if (sig === 'SIGKILL') await proc.exited;
  }

  /**
   * Whether SQLite's write lock can be taken within `withinMs` (tried every 20 ms without waiting inside
   * SQLite, so a supervisor in this process goes on meanwhile).
   */
  async writeLockFree(withinMs = 1000): Promise<boolean> {
    const db = this.db();
    db.pragma('busy_timeout = 0');
    const tryLock = () => {
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
        throw err;
      }
    };
    try {
      await waitFor(tryLock, withinMs, 'the write lock', 20);
      return true;
    } catch {
      return false;
    } finally {
      db.pragma('busy_timeout = 10000');
    }
  }

  /**
   * SIGSTOPs a process at a moment it holds no write transaction, and returns when. Stopped inside one, it
   * would hold SQLite's write lock, and with it every writer of the fleet, for as long as it stays stopped:
   * then it is continued and stopped again (up to `attempts` times).
   */
  async stopOutsideWrites(proc: ChaosProcess, attempts = 5): Promise<number> {
    for (let i = 0; i < attempts; i++) {
      const at = Date.now();
      proc.child.kill('SIGSTOP');
      if (await this.writeLockFree()) return at;
      proc.child.kill('SIGCONT');
      await this.writeLockFree(5_000); // it committed the transaction it was stopped in
    }
    throw new Error(`${proc.id} held the write lock at each of ${attempts} stops`);
  }

  /** POSTs to a supervisor; throws on a network error, a timeout or a non-2xx answer. */
  async post<T = any>(
    url: string,
    p: string,
    body: unknown,
    timeoutMs = 10_000,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await fetch(url + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminKey}`, ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) throw new Error(`POST ${p}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  /**
   * Submits a batch; returns the task ids. With `retryStalls`, a request that times out is sent again (twice at
   * most) with the same Idempotency-Key, so a stall of the API (a worker stopped inside a write transaction
   * holds SQLite's one write lock) does not end the scenario, and the retry cannot submit the batch twice; each
   * retry is logged.
   */
  async submitBatch(url: string, tasks: object[], opts: { retryStalls?: boolean } = {}): Promise<string[]> {
    const key = { 'idempotency-key': `chaos-batch-${randomUUID()}` };
    for (let attempt = 1; ; attempt++) {
      try {
        const body = await this.post<{ tasks: Array<{ id: string }> }>(url, '/v1/tasks/batch', { tasks }, 10_000, key);
        return body.tasks.map((t) => t.id);
      } catch (err) {
        const stalled = (err as Error).name === 'TimeoutError';
        if (!opts.retryStalls || !stalled || attempt === 3) throw err;
        console.log(`[chaos] a batch submit stalled past 10 s (attempt ${attempt}); sent again with its key`);
      }
    }
  }

  /** A read connection on the fleet's SQLite file (opened on first use, once the file exists). */
  db(): Database.Database {
    if (!this.reader) {
      this.reader = new Database(this.dbPath, { fileMustExist: true });
      this.reader.pragma('busy_timeout = 10000');
    }
    return this.reader;
  }

  now(): number {
    return Date.now();
  }

  /** How many of the store's tasks are not terminal yet (queued or running). */
  pending(): number {
    return this.db()
      .prepare<[], { n: number }>(`SELECT count(*) AS n FROM tasks WHERE status IN ('queued', 'running')`)
      .get()!.n;
  }

  /** Waits until every task in the store is terminal. */
  async waitAllTerminal(timeoutMs = 90_000): Promise<void> {
    try {
      await waitFor(() => this.pending() === 0, timeoutMs, 'every task in the store to end', 100);
    } catch (err) {
      // Say what is stuck, and where: the store's view of the unfinished tasks and of the agents.
      const stuck = this.db()
        .prepare(
          `SELECT status, route_key, agent_id, count(*) AS n, min(lease_expires_at) AS lease, min(not_before) AS due
           FROM tasks WHERE status IN ('queued', 'running') GROUP BY 1, 2, 3`,
        )
        .all();
      const agents = this.db().prepare('SELECT id, state, last_heartbeat_at, running_tasks FROM agents').all();
      throw new Error(
        `${(err as Error).message} (now ${Date.now()}): ${JSON.stringify(stuck)}; agents ${JSON.stringify(agents)}`,
      );
    }
  }

  /** Running tasks held by an agent: a snapshot taken before a fault. */
  runningOn(agentId: string): Array<{ id: string; attempt: number }> {
    return this.db()
      .prepare<[string], { id: string; attempt: number }>(
        `SELECT id, attempt FROM tasks WHERE status = 'running' AND agent_id = ?`,
      )
      .all(agentId);
  }

  /** Ids of the tasks queued in SQL right now. */
  queuedIds(): string[] {
    return this.db()
      .prepare<[number], { id: string }>(`SELECT id FROM tasks WHERE status = 'queued' AND not_before <= ?`)
      .all(Date.now())
      .map((r) => r.id);
  }

  /**
   * Seconds from `at` until every one of `tasks` was claimed again by a later attempt (null when one never
   * was, or when `tasks` is empty).
   */
  reclaimedAfter(at: number, tasks: ReadonlyArray<{ id: string; attempt: number }>): number | null {
    if (tasks.length === 0) return null;
    const next = this.db().prepare<[string, number], { at: number | null }>(
      `SELECT min(at) AS at FROM task_events WHERE task_id = ? AND kind = 'started' AND attempt > ?`,
    );
    let latest = at;
    for (const t of tasks) {
      const row = next.get(t.id, t.attempt);
      if (row?.at == null) return null;
      latest = Math.max(latest, row.at);
    }
    return (latest - at) / 1000;
  }

  /**
   * Seconds from `at` until the lease of every one of `tasks` (a snapshot of what a killed or stalled worker
   * held) was taken back: its `lease_expired` or `lease_reclaimed` event, or its result if it still finished.
   * Null when `tasks` is empty or one never was.
   */
  takenBackAfter(at: number, tasks: ReadonlyArray<{ id: string; attempt: number }>): number | null {
    if (tasks.length === 0) return null;
    const end = this.db().prepare<[string, number], { at: number | null }>(
      `SELECT min(at) AS at FROM task_events WHERE task_id = ? AND attempt = ?
         AND kind IN ('lease_expired', 'lease_reclaimed', 'succeeded', 'failed', 'released', 'cancelled')`,
    );
    let latest = at;
    for (const t of tasks) {
      const row = end.get(t.id, t.attempt);
      if (row?.at == null) return null;
      latest = Math.max(latest, row.at);
    }
    return (latest - at) / 1000;
  }

  /** The longest time a task waited from submission to its first claim, in seconds. */
  longestFirstWait(): number {
    const row = this.db()
      .prepare<[], { s: number | null }>(
        `SELECT max(s.at - q.at) / 1000.0 AS s FROM task_events AS q
         JOIN task_events AS s ON s.task_id = q.task_id AND s.kind = 'started' AND s.attempt = 1
         WHERE q.kind = 'submitted'`,
      )
      .get();
    return row?.s ?? 0;
  }

  /**
   * Seconds from `at` until every one of `ids` (tasks waiting when a fault began) had been claimed at least
   * once (0 when all were claimed before `at`); null while one has not been.
   */
  allClaimedAfter(at: number, ids: readonly string[]): number | null {
    const row = this.db()
      .prepare<[string], { n: number; claimed: number; last: number | null }>(
        `SELECT count(*) AS n, count(c.at) AS claimed, max(c.at) AS last
         FROM json_each(?) AS w
         LEFT JOIN (SELECT task_id, min(at) AS at FROM task_events WHERE kind = 'started' GROUP BY task_id) AS c
           ON c.task_id = w.value`,
      )
      .get(JSON.stringify(ids));
    if (!row || row.claimed < row.n) return null;
    return Math.max(0, ((row.last ?? at) - at) / 1000);
  }

  /** Seconds from `at` until the first claim (of any attempt) of one of `ids` at or after `at`; null if none. */
  firstClaimAfter(at: number, ids: readonly string[]): number | null {
    if (ids.length === 0) return null;
    const row = this.db()
      .prepare<[number, string], { at: number | null }>(
        `SELECT min(at) AS at FROM task_events WHERE kind = 'started' AND at >= ?
           AND task_id IN (SELECT value FROM json_each(?))`,
      )
      .get(at, JSON.stringify(ids));
    return row?.at == null ? null : (row.at - at) / 1000;
  }

  async stop(): Promise<void> {
    for (const p of this.procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGCONT'); // a stopped process would not die of SIGKILL until continued on some systems
        p.child.kill('SIGKILL');
      }
    }
    await Promise.all(this.procs.map((p) => p.exited));
    await Promise.all(this.inProcess.map((s) => s.stop()));
    this.reader?.close();
    this.reader = null;
    // TASKFLEET_TEST_KEEP=1 keeps the store, the process logs and the Redis keys for a look after a failure.
    if (process.env.TASKFLEET_TEST_KEEP) {
      console.log(`[chaos] kept ${this.dir} and the Redis keys ${this.config.redisPrefix}:*`);
      return;
    }
    await deleteKeysUnder(this.config.redisUrl, this.config.redisPrefix);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawnProcess(id: string, args: string[], env: Record<string, string>): ChaosProcess {
    const logFile = path.join(this.dir, `${id}-${this.procs.length}.log`);
    const out = createWriteStream(logFile);
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...withoutSecrets(process.env), ...configToEnv(this.config), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const proc = { id, child, exited, logFile };
    this.procs.push(proc);
    return proc;
  }
}
