/**
 * taskfleet end to end on the embedded store: `taskfleet supervisor` and `taskfleet worker` processes on a
 * fresh SQLite file and Redis prefix per run, tasks submitted over HTTP. The store is read directly (a
 * read-only connection) to follow progress and to take the tasks' start and finish times.
 *
 * The processes start from a build's root: this checkout, or another checkout's build (`--baseline <dir>`),
 * so that two builds are measured in the same interleaved runs, under the same noise. Both run the same
 * no-op handler (this checkout's handlers.js) and are read through the same store schema.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../../src/cli/redisBootstrap';
import { workerEnv } from '../../src/cli/workerProcess';
import { generateApiKey } from '../../src/security/apiKeys';
import { PACKAGE_ROOT } from '../../src/version';
import type { CpuProcesses } from './cpu';
import type { BenchSettings, Driver, Window } from './driver';
import { ApiClient } from './http';
import { memoryOf, onCleanup, spawnTracked, stopProcess, type Memory } from './processes';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { sleep, waitUntil, wallMs } from './stats';
import { WebhookReceiver } from './webhookReceiver';

const HANDLERS = path.join(__dirname, 'handlers.js');
const ONE = JSON.stringify({ type: 'bench-noop', payload: null });
/** Twice the outbox's pass interval (WEBHOOK_PASS_MS in src/supervisor/supervisor.ts). */
const WEBHOOK_PHASE_SPREAD_MS = 400;
const DELAYED = JSON.stringify({ type: 'bench-noop', payload: null, delaySeconds: 0.05 });

/** A build of taskfleet whose `bin/taskfleet.js` starts the supervisor and the workers. */
export interface TaskfleetBuild {
  /** Key of the system in the figures. */
  key: string;
  label: string;
  /** The package root: bin/taskfleet.js and dist/ (built) are under it. */
  root: string;
  /** The checkout's commit, with `+changes` when its working tree differs from it; null outside git. */
  commit: string | null;
}

/** The checkout's commit and whether its working tree has changes; null when it is not a git checkout. */
function commitOf(root: string): string | null {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain', '--untracked-files=no') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? '+changes' : ''}`;
  } catch {
    return null;
  }
}

/** This checkout: the build the benchmark itself was compiled with. */
export function currentBuild(): TaskfleetBuild {
  return { key: 'taskfleet', label: 'taskfleet (SQLite + BullMQ)', root: PACKAGE_ROOT, commit: commitOf(PACKAGE_ROOT) };
}

/** Another checkout's build (`--baseline <dir>`); throws, saying what to do, unless it is a built taskfleet. */
export function baselineBuild(dir: string): TaskfleetBuild {
  const root = path.resolve(dir);
  const manifest = path.join(root, 'package.json');
  const name = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name : null;
  if (name !== 'taskfleet') throw new Error(`--baseline ${dir}: no taskfleet checkout there (its package.json)`);
  if (!existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js')) || !existsSync(path.join(root, 'node_modules')))
    throw new Error(`--baseline ${dir}: not built; run \`npm ci && npm run build\` there first`);
  const commit = commitOf(root);
  return { key: 'taskfleet@baseline', label: `taskfleet@baseline (${commit ?? 'no git'}, ${root})`, root, commit };
}

/** The environment of a child process: ours without any TASKFLEET_ variable, then the given ones. */
export function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TASKFLEET_')) env[k] = v;
  return { ...env, ...vars };
}

/** Node's arguments before the script: a CPU profile into `dir` when one is asked for. */
export const profileArgs = (dir: string | undefined) => (dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []);

/**
 * Starts `taskfleet supervisor` of the build at `root` (by default this checkout) on a free port; resolves with
 * it once /readyz answers.
 */
export async function startSupervisorProcess(vars: Record<string, string>, cpuProfDir?: string, root = PACKAGE_ROOT) {
  const port = await freePort();
  const key = generateApiKey();
  const child = spawnTracked(process.execPath, [...profileArgs(cpuProfDir), binOf(root), 'supervisor'], {
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

const binOf = (root: string) => path.join(root, 'bin', 'taskfleet.js');

/**
 * The environment a build's own launchers give a worker (its `workerEnv`, which sets V8 options), so that a
 * baseline whose launcher differs is measured as it would run; this checkout's when the build has none.
 */
function workerEnvOf(root: string): (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv {
  const module = path.join(root, 'dist', 'src', 'cli', 'workerProcess.js');
  if (root === PACKAGE_ROOT || !existsSync(module)) return workerEnv;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a module of another checkout, found at run time
  const loaded = require(module) as { workerEnv?: unknown };
  return typeof loaded.workerEnv === 'function' ? (loaded.workerEnv as typeof workerEnv) : workerEnv;
}

export class TaskfleetDriver implements Driver {
  readonly key: string;
  readonly label: string;
  readonly durable = true;
  readonly slow = false;
  readonly producerRole = 'supervisor';

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
  /** Result → `?wait=` answer; absent for a build from before `?wait=` (a baseline), whose figure is left out. */
  readonly waitSample?: () => Promise<number>;
  /** Result → signed callback received; absent for a build without webhooks (a baseline). */
  readonly webhookSample?: () => Promise<number>;
  private receiver: WebhookReceiver | null = null;

  constructor(
    private readonly s: BenchSettings,
    private readonly build: TaskfleetBuild = currentBuild(),
  ) {
    this.key = build.key;
    this.label = build.label;
    this.batchBody = JSON.stringify({
      tasks: Array.from({ length: 1000 }, () => ({ type: 'bench-noop', payload: null })),
    });
    if (existsSync(path.join(build.root, 'dist', 'src', 'supervisor', 'taskWatcher.js'))) {
      this.waitSample = () => this.measureWait();
    }
    if (existsSync(path.join(build.root, 'dist', 'src', 'webhooks', 'outbox.js'))) {
      this.webhookSample = () => this.measureWebhook();
    }
  }

  async setup(run: number): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-bench-'));
    const prefix = `tfbench-${process.pid}-${run}${this.build.key === 'taskfleet' ? '' : '-baseline'}`;
    this.vars = {
      TASKFLEET_REDIS_URL: this.s.redisUrl,
      TASKFLEET_REDIS_PREFIX: prefix,
      TASKFLEET_SQLITE_PATH: path.join(this.dir, 'bench.db'),
      TASKFLEET_SQLITE_SYNCHRONOUS: this.s.sqliteSynchronous,
      TASKFLEET_LOG_LEVEL: 'warn',
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
      // The benchmark's receiver listens on loopback, which the webhook guard refuses unless named here.
      ...(this.webhookSample ? { TASKFLEET_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } : {}),
    };
    const dir = this.dir;
    this.removeCleanup = onCleanup(async () => {
      await deleteKeysUnder(this.s.redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    });
    this.supervisor = await startSupervisorProcess(this.vars, this.profileDir(), this.build.root);
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
    await this.receiver?.close();
    this.receiver = null;
    await deleteKeysUnder(this.s.redisUrl, this.vars.TASKFLEET_REDIS_PREFIX ?? 'none');
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
          ...profileArgs(this.profileDir()),
          binOf(this.build.root),
          'worker',
          '--id',
          id,
          '--concurrency',
          String(this.s.concurrency),
          '--handlers',
          HANDLERS,
        ],
        // Started as every launcher starts a worker (the worker image, `taskfleet dev`).
        { env: workerEnvOf(this.build.root)(cleanEnv(this.vars)), stdio: ['ignore', 'ignore', 'inherit'] },
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

  private async measureWait(): Promise<number> {
    // Delayed a little, so the wait is registered before the result and measures the watcher, not the request.
    const { id } = JSON.parse(await this.api().post('/v1/tasks', DELAYED)) as { id: string };
    const task = JSON.parse(await this.api().get(`/v1/tasks/${id}?wait=30`)) as { status: string; finishedAt?: string };
    const answered = wallMs();
    if (task.status !== 'succeeded' || task.finishedAt === undefined) throw new Error(`the wait for ${id} ran out`);
    return answered - Date.parse(task.finishedAt);
  }

  private async measureWebhook(): Promise<number> {
    if (!this.receiver) {
      // The deliveries for a task's callbackUrl are signed with its submitter's callback secret, shown once.
      const { secret } = JSON.parse(await this.api().post('/v1/webhooks/secret', '{}')) as { secret: string };
      this.receiver = await WebhookReceiver.start();
      this.receiver.useSecret(secret);
    }
    // The outbox sends in passes 200 ms apart; a sample started as the last delivery arrived would finish just
    // after a pass every time (p50 ≈ p99 ≈ 195 ms). A random pause spreads the results over the pass's phase.
    await sleep(Math.random() * WEBHOOK_PHASE_SPREAD_MS);
    // A callbackUrl on the sampled tasks only: a subscription would add a delivery to every task measured later.
    const body = JSON.stringify({ type: 'bench-noop', payload: null, callbackUrl: this.receiver.url });
    const { id } = JSON.parse(await this.api().post('/v1/tasks', body)) as { id: string };
    const { at, task } = await this.receiver.arrival(id);
    if (task.status !== 'succeeded' || task.finishedAt === undefined)
      throw new Error(`webhook for ${id}: ${task.status}`);
    return at - Date.parse(task.finishedAt);
  }

  memory() {
    return {
      supervisor: memoryOf(this.supervisor?.child.pid),
      workers: [...this.workerPeaks, ...this.workers.map((w) => memoryOf(w.pid))],
    };
  }

  cpuProcesses(): CpuProcesses {
    return {
      producer: this.supervisor?.child.pid,
      workers: this.workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid])),
      usesRedis: true,
    };
  }

  /** The baseline's profiles go to a folder of their own, so that the two builds' profiles are told apart. */
  private profileDir(): string | undefined {
    const dir = this.s.cpuProfDir;
    if (dir === undefined || this.build.key === 'taskfleet') return dir;
    const own = path.join(dir, 'baseline');
    mkdirSync(own, { recursive: true });
    return own;
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
