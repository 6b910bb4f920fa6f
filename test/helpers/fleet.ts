/**
 * A real fleet for tests: a supervisor in this process (built by `buildSupervisor`) on a fresh SQLite file and
 * its own Redis key prefix, and worker *processes* started from the built CLI (`npm test` builds first).
 *
 * Each fleet has its own random bootstrap admin key (TASKFLEET_ADMIN_API_KEY), which `request`, `submit`
 * and `submitBatch` send unless told otherwise. Worker processes never get a key.
 *
 * `stopAndVerifyClean` is the leak check: after it, no worker process runs and no key is left under the prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { configToEnv, loadConfig, withoutSecrets, type Config } from '../../src/config/config';
import { routeKey } from '../../src/domain/capabilities';
import { jobId } from '../../src/domain/task';
import { deleteKeysUnder, scanKeys } from '../../src/dispatch/redis';
import { generateApiKey } from '../../src/security/apiKeys';
import type { SecurityCounters } from '../../src/security/auth';
import type { RateLimitSettings } from '../../src/security/rateLimit';
import type { Store } from '../../src/store/port';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { httpRequest, type ApiResponse } from './http';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'taskfleet.js');
export const REDIS_URL = process.env.TASKFLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Short intervals so that faults heal within a second or two. */
export const FAST: Record<string, string> = {
  TASKFLEET_LEASE_DURATION_MS: '1500',
  TASKFLEET_HEARTBEAT_INTERVAL_MS: '200',
  TASKFLEET_RECONCILE_INTERVAL_MS: '300',
  TASKFLEET_REAPER_INTERVAL_MS: '100',
  TASKFLEET_ROUTE_REFRESH_MS: '100',
  TASKFLEET_BACKOFF_BASE_MS: '50',
  TASKFLEET_BACKOFF_MAX_MS: '400',
  TASKFLEET_DRAIN_TIMEOUT_MS: '5000',
  TASKFLEET_LOG_LEVEL: 'warn',
};

export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...FAST,
    TASKFLEET_PORT: '0',
    TASKFLEET_HOST: '127.0.0.1',
    TASKFLEET_REDIS_URL: REDIS_URL,
    TASKFLEET_REDIS_PREFIX: `tftest-${path.basename(dir)}`,
    TASKFLEET_SQLITE_PATH: path.join(dir, 'taskfleet.db'),
    TASKFLEET_ADMIN_API_KEY: generateApiKey(),
    ...env,
  });
}

const TERMINAL = new Set(['succeeded', 'dead', 'cancelled', 'expired']);

/**
 * Which key a request sends: the fleet's admin key by default, another key, or `null` for no
 * Authorization header at all. An `authorization` entry in the headers wins over all of these.
 */
export interface AuthOption {
  key?: string | null;
}

export interface WorkerProcess {
  id: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  logFile: string;
}

/** A second supervisor on a fleet's store and prefix, loops off, for a test that needs its own settings. */
export interface SecondSupervisor {
  url: string;
  counters: SecurityCounters;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface SecondSupervisorOptions {
  /** The store it uses, by default the fleet's (wrap it to make it fail). */
  store?: Store;
  log?: Logger;
  rateLimit?: RateLimitSettings;
  /** Its bootstrap admin key, by default the fleet's (null: none). */
  adminApiKey?: string | null;
}

function testLogger(): Logger {
  return pino({ level: process.env.TASKFLEET_TEST_LOG ?? 'silent' });
}

export class Fleet {
  readonly workers: WorkerProcess[] = [];
  private supervisor: Supervisor | null = null;

  private constructor(
    readonly dir: string,
    readonly config: Config,
  ) {}

  static async start(opts: { env?: Record<string, string>; loops?: boolean } = {}): Promise<Fleet> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tf-'));
    const fleet = new Fleet(dir, testConfig(dir, opts.env));
    await fleet.startSupervisor(opts.loops);
    return fleet;
  }

  /** The fleet's supervisor (in this process). */
  get sup(): Supervisor {
    if (!this.supervisor) throw new Error('this fleet has no supervisor started');
    return this.supervisor;
  }

  get url(): string {
    return this.sup.url;
  }

  /** The bootstrap admin key of this fleet's supervisor. */
  get adminKey(): string {
    if (this.config.adminApiKey === null) throw new Error('this fleet was started without an admin key');
    return this.config.adminApiKey;
  }

  /** Starts (or, after `sup.stop()`, restarts) the fleet's supervisor. */
  async startSupervisor(loops?: boolean): Promise<void> {
    this.supervisor = await buildSupervisor(this.config, {
      log: testLogger(),
      ...(loops === undefined ? {} : { loops }),
    });
  }

  /** Another supervisor on this fleet's store and Redis prefix, on its own port, without loops. */
  async startSecondSupervisor(opts: SecondSupervisorOptions = {}): Promise<SecondSupervisor> {
    const second = await buildSupervisor(this.config, {
      store: opts.store ?? this.sup.store,
      log: opts.log ?? testLogger(),
      loops: false,
      listen: { port: 0 },
      http: {
        ...(opts.rateLimit ? { rateLimit: opts.rateLimit } : {}),
        ...(opts.adminApiKey !== undefined ? { adminApiKey: opts.adminApiKey } : {}),
      },
    });
    return {
      url: second.url,
      counters: second.counters,
      request: (method, p, body, headers = {}) => httpRequest(second.url, method, p, body, headers),
      close: () => second.stop(),
    };
  }

  /** Starts `taskfleet worker` as a child process; resolves once the agent is registered. */
  async spawnWorker(o: {
    id: string;
    capabilities?: string[];
    concurrency?: number;
    env?: Record<string, string>;
    args?: string[];
  }): Promise<WorkerProcess> {
    const args = [BIN, 'worker', '--id', o.id, '--concurrency', String(o.concurrency ?? 4)];
    if (o.capabilities?.length) args.push('--capabilities', o.capabilities.join(','));
    args.push(...(o.args ?? []));
    const logFile = path.join(this.dir, `${o.id}-${this.workers.length}.log`);
    const out = createWriteStream(logFile);
    const child = spawn(process.execPath, args, {
      env: { ...withoutSecrets(process.env), ...configToEnv(this.config), ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const worker = { id: o.id, child, exited, logFile };
    this.workers.push(worker);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`worker ${o.id} exited with ${child.exitCode}; see ${logFile}`);
        const agent = await this.sup.store.getAgent(o.id);
        return agent !== null && agent.state === 'running' && agent.pid === child.pid;
      },
      30_000,
      `worker ${o.id} to register`,
    );
    return worker;
  }

  /** A request to the fleet's supervisor, with its admin key unless `auth` or an `authorization` header says otherwise. */
  async request(
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
    auth: AuthOption = {},
  ): Promise<ApiResponse> {
    const key = auth.key === undefined ? this.config.adminApiKey : auth.key;
    const explicit = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
    const authorization: Record<string, string> = key === null || explicit ? {} : { authorization: `Bearer ${key}` };
    return httpRequest(this.url, method, p, body, { ...authorization, ...headers });
  }

  async submit(body: unknown, headers: Record<string, string> = {}, auth: AuthOption = {}): Promise<any> {
    const res = await this.request('POST', '/v1/tasks', body, headers, auth);
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async submitBatch(tasks: unknown[], headers: Record<string, string> = {}, auth: AuthOption = {}): Promise<any[]> {
    const res = await this.request('POST', '/v1/tasks/batch', { tasks }, headers, auth);
    if (res.status !== 201) throw new Error(`batch failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.tasks;
  }

  /** Waits until every given task is terminal; returns the records from the store. */
  async waitTerminal(ids: string[], timeoutMs = 60_000) {
    const load = () => Promise.all(ids.map((id) => this.sup.store.getTask(id)));
    await waitFor(
      async () => (await load()).every((task) => task !== null && TERMINAL.has(task.status)),
      timeoutMs,
      `${ids.length} tasks to end`,
    );
    return (await load()).map((task) => task!);
  }

  /** What the store holds (up to 1,000 tasks). */
  storedTasks() {
    return this.sup.store.listTasks({ limit: 1000 });
  }

  async storedTaskCount(): Promise<number> {
    return (await this.storedTasks()).length;
  }

  /** The Redis key of the BullMQ job that dispatches `attempt` of a task. */
  jobKey(task: { id: string; type: string; requiredCapabilities: string[] }, attempt = 0): string {
    return `${this.config.redisPrefix}:${routeKey(task.type, task.requiredCapabilities)}:${jobId(task.id, attempt)}`;
  }

  /** A key of the BullMQ queue of a route, e.g. its `delayed` set. */
  queueKey(type: string, capabilities: string[], suffix: string): string {
    return `${this.config.redisPrefix}:${routeKey(type, capabilities)}:${suffix}`;
  }

  /** Kills any worker still running, stops the supervisor, deletes the fleet's Redis keys and its directory. */
  async stop(): Promise<void> {
    for (const worker of this.workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    }
    await Promise.all(this.workers.map((worker) => worker.exited));
    await this.supervisor?.stop();
    await deleteKeysUnder(this.config.redisUrl, this.config.redisPrefix);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One Redis connection per test file, for inspecting (never writing) a fleet's keys. */
export function inspector(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  return redis;
}

/** An inspector for the calling test file, closed after its tests. */
export function fileInspector(): Redis {
  const redis = inspector();
  afterAll(() => redis.quit());
  return redis;
}

/** Calls `each` with every batch of keys under `prefix:`. */
/** Every key under `prefix:`, sorted. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  await scanKeys(redis, prefix, async (keys) => found.push(...keys));
  return found.sort();
}

/** Stops the fleet and proves it left nothing behind: no worker process running and no Redis key. */
export async function stopAndVerifyClean(fleet: Fleet | undefined, redis: Redis): Promise<void> {
  if (!fleet) return;
  const prefix = fleet.config.redisPrefix;
  await fleet.stop();
  for (const worker of fleet.workers) {
    expect(worker.child.exitCode !== null || worker.child.signalCode !== null).toBe(true);
  }
  expect(await keysUnder(redis, prefix)).toEqual([]);
}

/** The fleet stored nothing: no task, no route, and not a single key in Redis. */
export async function expectNothingStored(fleet: Fleet, redis: Redis): Promise<void> {
  expect(await fleet.storedTaskCount()).toBe(0);
  expect(await fleet.sup.store.listRoutes()).toEqual([]);
  expect(await keysUnder(redis, fleet.config.redisPrefix)).toEqual([]);
}

/**
 * For a test file whose tests each start their own fleet (loops off): `start` one in a test; after each test it
 * is stopped and checked clean through `redis`, the file's inspector connection.
 */
/**
 * The fleet of a describe block: started before its tests (before each test with `each`), stopped and checked
 * clean after them. Returns a getter for the running fleet; hooks registered after this call run after the start.
 */
export function fleetFor(redis: Redis, options: { env?: Record<string, string>; each?: boolean } = {}): () => Fleet {
  let current: Fleet | undefined;
  const start = async () => {
    current = await Fleet.start({ loops: false, ...(options.env ? { env: options.env } : {}) });
  };
  const stop = async () => {
    const fleet = current;
    current = undefined;
    await stopAndVerifyClean(fleet, redis);
  };
  if (options.each) {
    beforeEach(start);
    afterEach(stop);
  } else {
    beforeAll(start);
    afterAll(stop);
  }
  return () => {
    if (!current) throw new Error('the fleet of this describe block is not running');
    return current;
  };
}

export function fleetPerTest(): { redis: Redis; start(env?: Record<string, string>): Promise<Fleet> } {
  const redis = fileInspector();
  let current: Fleet | undefined;
  afterEach(async () => {
    const fleet = current;
    current = undefined;
    await stopAndVerifyClean(fleet, redis);
  });
  return { redis, start: async (env = {}) => (current = await Fleet.start({ loops: false, env })) };
}

export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
