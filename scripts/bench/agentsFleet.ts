/**
 * A fleet for `npm run bench:agents`: one or two supervisor processes on a fresh SQLite store and a private key
 * prefix of the shared Redis, an agent key for the ids `bench-…` (made with `taskfleet keys create`, as an
 * operator makes it), and the agents measured: the Python agent or a Node worker, each a real process. The
 * store is read directly (read-only) to follow completions without adding requests per task.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { workerEnv } from '../../src/cli/workerProcess';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { PACKAGE_ROOT } from '../../src/version';
import { ApiClient } from './http';
import { onCleanup, spawnTracked, stopProcess } from './processes';
import { waitUntil } from './stats';
import { cleanEnv, startSupervisorProcess } from './taskfleet';

export const AGENT_PREFIX = 'bench-';
const BIN = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
const AGENT_PY = path.join(PACKAGE_ROOT, 'examples', 'python', 'agent.py');

export interface Supervisor {
  child: ChildProcess;
  url: string;
  /** The admin key's client (submits, reads). */
  api: ApiClient;
}

export type AgentKind = 'python' | 'node';

/** A measured agent process and the last of its output, shown when it fails. */
export interface AgentProcess {
  id: string;
  child: ChildProcess;
  output: () => string;
}

export class AgentsFleet {
  readonly prefix: string;
  readonly supervisors: Supervisor[] = [];
  private readonly dir: string;
  private readonly vars: Record<string, string>;
  private reader: Database.Database | null = null;
  private key: string | null = null;
  private readonly agents: ChildProcess[] = [];
  private readonly removeCleanup: () => void;

  constructor(
    private readonly redisUrl: string,
    name: string,
    /** Where the supervisors write CPU profiles (node --cpu-prof), when asked. */
    private readonly cpuProfDir?: string,
  ) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-agents-'));
    const prefix = `tfagents-${process.pid}-${name}`;
    this.dir = dir;
    this.prefix = prefix;
    this.vars = {
      TASKFLEET_REDIS_URL: redisUrl,
      TASKFLEET_REDIS_PREFIX: prefix,
      TASKFLEET_SQLITE_PATH: path.join(dir, 'agents.db'),
      TASKFLEET_LOG_LEVEL: 'warn',
      // The agents, not the per-key rate limit (200 requests/s by default), are what is measured.
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    };
    this.removeCleanup = onCleanup(async () => {
      await deleteKeysUnder(redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  /** Starts a supervisor on the fleet's store and prefix (the first one also opens the store and makes the key). */
  async addSupervisor(): Promise<Supervisor> {
    const s = await startSupervisorProcess(this.vars, this.cpuProfDir);
    this.supervisors.push(s);
    if (!this.reader) {
      this.reader = new Database(this.vars.TASKFLEET_SQLITE_PATH, { readonly: true, fileMustExist: true });
      this.reader.pragma('busy_timeout = 5000');
      this.key = await this.createAgentKey();
    }
    return s;
  }

  /** An agent key's client for supervisor `i`. */
  agentApi(i = 0): ApiClient {
    if (!this.key) throw new Error('agents fleet: no agent key yet');
    return new ApiClient(this.supervisor(i).url, this.key);
  }

  supervisor(i = 0): Supervisor {
    const s = this.supervisors[i];
    if (!s) throw new Error(`agents fleet: no supervisor ${i}`);
    return s;
  }

  /** Starts the agent of `kind` serving type `echo` with `concurrency` slots; resolves once it is running. */
  async startAgent(kind: AgentKind, id: string, concurrency: number): Promise<AgentProcess> {
    let tail = '';
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
    const child =
      kind === 'python'
        ? spawnTracked(
            'python3',
            [AGENT_PY, '--url', this.supervisor().url, '--id', id, '--types', 'echo'].concat([
              '--concurrency',
              String(concurrency),
              '--log-level',
              'warning',
            ]),
            {
              // Only what an agent needs: it reaches the fleet through the API alone.
              env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TASKFLEET_API_KEY: this.key!, PYTHONUNBUFFERED: '1' },
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          )
        : spawnTracked(process.execPath, [BIN, 'worker', '--id', id, '--concurrency', String(concurrency)], {
            env: workerEnv(cleanEnv(this.vars)),
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.agents.push(child);
    const state = this.db().prepare<[string], { state: string }>('SELECT state FROM agents WHERE id = ?');
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`${kind} agent ${id} exited (${child.exitCode}): ${tail}`);
        return state.get(id)?.state === 'running';
      },
      `${kind} agent ${id} to register`,
      30_000,
      50,
    );
    return { id, child, output: () => tail };
  }

  async submitBatch(tasks: readonly unknown[], supervisor = 0): Promise<void> {
    await this.supervisor(supervisor).api.post('/v1/tasks/batch', JSON.stringify({ tasks }));
  }

  /** Succeeded tasks so far, and the last one's finish time (ms). */
  succeeded(): { n: number; lastFinishedAt: number | null } {
    return this.db()
      .prepare<[], { n: number; lastFinishedAt: number | null }>(
        `SELECT count(*) AS n, max(finished_at) AS lastFinishedAt FROM tasks WHERE status = 'succeeded'`,
      )
      .get()!;
  }

  /** Tasks by status (to say what went wrong when a run does not finish). */
  statuses(): Record<string, number> {
    const rows = this.db()
      .prepare<[], { status: string; n: number }>('SELECT status, count(*) AS n FROM tasks GROUP BY status')
      .all();
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => stopProcess(a, 30_000)));
    this.agents.length = 0;
    await Promise.all(this.supervisors.map((s) => stopProcess(s.child)));
    for (const s of this.supervisors) s.api.close();
    this.supervisors.length = 0;
    this.reader?.close();
    this.reader = null;
    await deleteKeysUnder(this.redisUrl, this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
    this.removeCleanup();
  }

  private createAgentKey(): Promise<string> {
    const args = [BIN, 'keys', 'create', '--role', 'agent', '--agent-prefix', AGENT_PREFIX, '--name', 'bench-agents'];
    return new Promise((resolve, reject) => {
      execFile(process.execPath, args, { env: cleanEnv(this.vars) }, (err, stdout, stderr) => {
        const key = /tfk_[A-Za-z0-9_-]{43}/.exec(stdout)?.[0];
        if (err || key === undefined)
          reject(new Error(`taskfleet keys create failed: ${err?.message ?? ''} ${stderr}`));
        else resolve(key);
      });
    });
  }

  private db(): Database.Database {
    if (!this.reader) throw new Error('agents fleet: no store');
    return this.reader;
  }
}
