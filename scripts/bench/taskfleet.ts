/**
 * taskfleet end to end on the embedded store: `taskfleet supervisor` and `taskfleet worker` processes on a
 * fresh SQLite file and Redis prefix per run, tasks submitted over HTTP. The store is read directly (a
 * read-only connection) to follow progress and to take the tasks' start and finish times.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../../src/cli/redisBootstrap';
import { workerEnv } from '../../src/cli/workerProcess';
import { generateApiKey } from '../../src/security/apiKeys';
import { PACKAGE_ROOT } from '../../src/version';
import type { BenchSettings, Driver, Window } from './driver';
import { ApiClient } from './http';
import { memoryOf, onCleanup, spawnTracked, stopProcess, type Memory } from './processes';
import { deletePrefix } from './redisKeys';
import { waitUntil, wallMs } from './stats';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
const HANDLERS = path.join(__dirname, 'handlers.js');
const ONE = JSON.stringify({ type: 'bench-noop', payload: null });

/** The environment of a child process: ours without any TASKFLEET_ variable, then the given ones. */
export function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TASKFLEET_')) env[k] = v;
  return { ...env, ...vars };
}

/** Node's arguments before the script: a CPU profile into `dir` when one is asked for. */
export const profileArgs = (dir: string | undefined) => (dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []);

/** Starts `taskfleet supervisor` on a free port; resolves with it once /readyz answers. */
export async function startSupervisorProcess(vars: Record<string, string>, cpuProfDir?: string) {
  const port = await freePort();
  const key = generateApiKey();
  const child = spawnTracked(process.execPath, [...profileArgs(cpuProfDir), BIN, 'supervisor'], {
    env: cleanEnv({ ...vars, TASKFLEET_PORT: String(port), TASKFLEET_HOST: '127.0.0.1', TASKFLEET_ADMIN_API_KEY: key }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const api = new ApiClient(url, key);
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`the supervisor exited with code ${child.exitCode}`);
      return (await api.request('GET', '/readyz', undefined, 1000).catch(() => ({ status: 0 }))).status === 200;
    },
    'the supervisor to answer /readyz',
    30_000,
  );
  return { child, url, api };
}

export class TaskfleetDriver implements Driver {
  readonly key = 'taskfleet';
  readonly label = 'taskfleet (SQLite + BullMQ)';
  readonly durable = true;
  readonly slow = false;

  private dir = '';
  private vars: Record<string, string> = {};
  private supervisor: { child: ChildProcess; url: string; api: ApiClient } | null = null;
  private workers: ChildProcess[] = [];
  private workerPeaks: Memory[] = [];
  private reader: Database.Database | null = null;
  private phaseStart = 0;
  private succeededBefore = 0;
  private generation = 0;
  private removeCleanup: (() => void) | null = null;
  private readonly batchBody: string;

  constructor(private readonly s: BenchSettings) {
    this.batchBody = JSON.stringify({
      tasks: Array.from({ length: 1000 }, () => ({ type: 'bench-noop', payload: null })),
    });
  }

  async setup(run: number): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-bench-'));
    const prefix = `tfbench-${process.pid}-${run}`;
    this.vars = {
      TASKFLEET_REDIS_URL: this.s.redisUrl,
      TASKFLEET_REDIS_PREFIX: prefix,
      TASKFLEET_SQLITE_PATH: path.join(this.dir, 'bench.db'),
      TASKFLEET_LOG_LEVEL: 'warn',
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    };
    const dir = this.dir;
    this.removeCleanup = onCleanup(async () => {
      await deletePrefix(this.s.redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    });
    this.supervisor = await startSupervisorProcess(this.vars, this.s.cpuProfDir);
    this.reader = new Database(this.vars.TASKFLEET_SQLITE_PATH, { readonly: true, fileMustExist: true });
    this.reader.pragma('busy_timeout = 5000');
    this.workerPeaks = [];
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    if (this.supervisor) {
      await stopProcess(this.supervisor.child);
      this.supervisor.api.close();
    }
    this.supervisor = null;
    this.reader?.close();
    this.reader = null;
    await deletePrefix(this.s.redisUrl, this.vars.TASKFLEET_REDIS_PREFIX ?? 'none');
    rmSync(this.dir, { recursive: true, force: true });
    this.removeCleanup?.();
  }

  async startWorkers(): Promise<void> {
    const gen = this.generation++;
    const started = Array.from({ length: this.s.workers }, (_, i) => {
      const id = `bench-${gen}-${i}`;
      const child = spawnTracked(
        process.execPath,
        [
          ...profileArgs(this.s.cpuProfDir),
          BIN,
          'worker',
          '--id',
          id,
          '--concurrency',
          String(this.s.concurrency),
          '--handlers',
          HANDLERS,
        ],
        // Started as every launcher starts a worker (the worker image, `taskfleet dev`).
        { env: workerEnv(cleanEnv(this.vars)), stdio: ['ignore', 'ignore', 'inherit'] },
      );
      return { id, child };
    });
    this.workers.push(...started.map((w) => w.child));
    const agent = this.db().prepare<[string], { state: string; pid: number }>(
      'SELECT state, pid FROM agents WHERE id = ?',
    );
    await waitUntil(
      () =>
        started.every((w) => {
          if (w.child.exitCode !== null) throw new Error(`worker ${w.id} exited with code ${w.child.exitCode}`);
          const a = agent.get(w.id);
          return a?.state === 'running' && a.pid === w.child.pid;
        }),
      'the workers to register',
      30_000,
    );
  }

  async stopWorkers(): Promise<void> {
    for (const w of this.workers) this.workerPeaks.push(memoryOf(w.pid));
    await Promise.all(this.workers.map((w) => stopProcess(w, 30_000)));
    this.workers = [];
  }

  async beginPhase(): Promise<void> {
    this.phaseStart = Date.now();
    this.succeededBefore = this.countSucceeded();
  }

  async submitBatches(n: number, progress: (submitted: number) => void): Promise<void> {
    const api = this.api();
    for (let done = 0; done < n;) {
      const size = Math.min(1000, n - done);
      const body =
        size === 1000
          ? this.batchBody
          : JSON.stringify({ tasks: Array.from({ length: size }, () => ({ type: 'bench-noop', payload: null })) });
      await api.post('/v1/tasks/batch', body);
      done += size;
      progress(done);
    }
  }

  async submitOne(): Promise<void> {
    await this.api().post('/v1/tasks', ONE);
  }

  async completed(): Promise<number> {
    return this.countSucceeded() - this.succeededBefore;
  }

  async window(): Promise<Window> {
    const row = this.db()
      .prepare<[number], { first: number; last: number }>(
        `SELECT min(started_at) AS first, max(finished_at) AS last FROM tasks WHERE created_at >= ? AND status = 'succeeded'`,
      )
      .get(this.phaseStart)!;
    return { firstStart: row.first, lastEnd: row.last };
  }

  async latencySample(): Promise<{ start: number; complete: number }> {
    const t0 = wallMs();
    const { id } = JSON.parse(await this.api().post('/v1/tasks', ONE)) as { id: string };
    const get = this.db().prepare<[string], { status: string; result: string | null; finished_at: number | null }>(
      'SELECT status, result, finished_at FROM tasks WHERE id = ?',
    );
    let row = get.get(id);
    await waitUntil(
      () => {
        row = get.get(id);
        return row?.status === 'succeeded';
      },
      `task ${id} to finish`,
      30_000,
      1,
    );
    return { start: Number(row!.result) - t0, complete: row!.finished_at! - t0 };
  }

  memory() {
    return {
      supervisor: memoryOf(this.supervisor?.child.pid),
      workers: [...this.workerPeaks, ...this.workers.map((w) => memoryOf(w.pid))],
    };
  }

  private countSucceeded(): number {
    return this.db().prepare<[], { n: number }>(`SELECT count(*) AS n FROM tasks WHERE status = 'succeeded'`).get()!.n;
  }

  private api(): ApiClient {
    if (!this.supervisor) throw new Error('taskfleet: no supervisor');
    return this.supervisor.api;
  }

  private db(): Database.Database {
    if (!this.reader) throw new Error('taskfleet: no store');
    return this.reader;
  }
}
