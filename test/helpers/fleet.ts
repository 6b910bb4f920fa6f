/**
 * A real fleet for tests: a supervisor in this process on a fresh SQLite file and its own Redis key
 * prefix, and worker *processes* started from the built CLI (`npm test` builds first).
 *
 * Each fleet has its own random bootstrap admin key (TASKFLEET_ADMIN_API_KEY), which `request`, `submit`
 * and `submitBatch` send unless told otherwise. Worker processes never get a key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { configToEnv, loadConfig, withoutSecrets, type Config } from '../../src/config/config';
import { generateApiKey } from '../../src/security/apiKeys';
import { startSupervisor, type Supervisor } from '../../src/supervisor/supervisor';

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

export class Fleet {
  readonly workers: WorkerProcess[] = [];
  sup!: Supervisor;

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

  get url(): string {
    return this.sup.url;
  }

  /** The bootstrap admin key of this fleet's supervisor. */
  get adminKey(): string {
    if (this.config.adminApiKey === null) throw new Error('this fleet was started without an admin key');
    return this.config.adminApiKey;
  }

  async startSupervisor(loops?: boolean): Promise<void> {
    const log = pino({ level: process.env.TASKFLEET_TEST_LOG ?? 'silent' });
    this.sup = await startSupervisor({ config: this.config, log, ...(loops === undefined ? {} : { loops }) });
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
    const w = { id: o.id, child, exited, logFile };
    this.workers.push(w);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`worker ${o.id} exited with ${child.exitCode}; see ${logFile}`);
        const a = await this.sup.store.getAgent(o.id);
        return a !== null && a.state === 'running' && a.pid === child.pid;
      },
      30_000,
      `worker ${o.id} to register`,
    );
    return w;
  }

  async request(
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
    auth: AuthOption = {},
  ) {
    const key = auth.key === undefined ? this.config.adminApiKey : auth.key;
    const explicit = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
    const res = await fetch(this.url + p, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key === null || explicit ? {} : { authorization: `Bearer ${key}` }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
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
    const terminal = new Set(['succeeded', 'dead', 'cancelled', 'expired']);
    await waitFor(
      async () => {
        for (const id of ids) {
          const t = await this.sup.store.getTask(id);
          if (!t || !terminal.has(t.status)) return false;
        }
        return true;
      },
      timeoutMs,
      `${ids.length} tasks to end`,
    );
    return Promise.all(ids.map(async (id) => (await this.sup.store.getTask(id))!));
  }

  async stop(): Promise<void> {
    for (const w of this.workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }
    await Promise.all(this.workers.map((w) => w.exited));
    await this.sup?.stop();
    await deleteKeys(this.config.redisUrl, this.config.redisPrefix);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } catch {
    // a test's private Redis may be gone already
  } finally {
    r.disconnect();
  }
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
