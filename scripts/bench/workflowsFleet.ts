/**
 * A fleet for `npm run bench:workflows`: one `taskfleet supervisor` process on a fresh SQLite store and a private
 * key prefix of the shared Redis, and `taskfleet worker` processes with the built-in `echo` handler. The store is
 * read directly (read-only) to follow workflows and to read each step task's start and finish times, so the
 * measurement adds no request per workflow.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { workerEnv } from '../../src/cli/workerProcess';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { PACKAGE_ROOT } from '../../src/version';
import { onCleanup, spawnTracked, stopProcess } from './processes';
import { waitUntil } from './stats';
import { cleanEnv, startSupervisorProcess } from './taskfleet';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');

export type WorkflowShape = 'diamond' | 'chain';

/** Five echo steps: a → b, c, d → e (diamond), or a → b → c → d → e (chain). */
export function workflowOf(shape: WorkflowShape, i: number): { name: string; steps: object[] } {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const needs = (k: number): string[] => {
    if (k === 0) return [];
    if (shape === 'chain') return [ids[k - 1]!];
    return k === 4 ? ['b', 'c', 'd'] : ['a'];
  };
  return {
    name: `bench-${i}`,
    steps: ids.map((id, k) => ({ id, needs: needs(k), task: { type: 'echo', payload: { i, step: id } } })),
  };
}

export class WorkflowsFleet {
  private readonly dir: string;
  private readonly prefix: string;
  private readonly vars: Record<string, string>;
  private supervisor: Awaited<ReturnType<typeof startSupervisorProcess>> | null = null;
  private readonly workers: ChildProcess[] = [];
  private reader: Database.Database | null = null;
  private readonly removeCleanup: () => void;

  constructor(
    private readonly redisUrl: string,
    name: string,
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-workflows-'));
    this.prefix = `tfworkflows-${process.pid}-${name}`;
    this.vars = {
      TASKFLEET_REDIS_URL: redisUrl,
      TASKFLEET_REDIS_PREFIX: this.prefix,
      TASKFLEET_SQLITE_PATH: path.join(this.dir, 'workflows.db'),
      TASKFLEET_LOG_LEVEL: 'warn',
      // The workflows, not the per-key rate limit, are what is measured.
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    };
    const dir = this.dir;
    const prefix = this.prefix;
    this.removeCleanup = onCleanup(async () => {
      await deleteKeysUnder(redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  /** The supervisor, then `workers` worker processes of `concurrency` slots; resolves once all are running. */
  async start(workers: number, concurrency: number): Promise<void> {
    this.supervisor = await startSupervisorProcess(this.vars);
    this.reader = new Database(this.vars.TASKFLEET_SQLITE_PATH, { readonly: true, fileMustExist: true });
    this.reader.pragma('busy_timeout = 5000');
    const ids = Array.from({ length: workers }, (_, i) => `bench-wf-${i}`);
    for (const id of ids) {
      const child = spawnTracked(process.execPath, [BIN, 'worker', '--id', id, '--concurrency', String(concurrency)], {
        env: workerEnv(cleanEnv(this.vars)),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      this.workers.push(child);
    }
    const state = this.db().prepare<[string], { state: string }>('SELECT state FROM agents WHERE id = ?');
    await waitUntil(
      () => {
        const dead = this.workers.find((w) => w.exitCode !== null);
        if (dead) throw new Error(`a worker exited with code ${dead.exitCode}`);
        return ids.every((id) => state.get(id)?.state === 'running');
      },
      `${workers} workers to register`,
      30_000,
      50,
    );
  }

  get pids(): { supervisor: number | undefined; workers: number[] } {
    return { supervisor: this.supervisor?.child.pid, workers: this.workers.map((w) => w.pid!) };
  }

  /** Submits one workflow over HTTP; answers its id. */
  async submit(body: object): Promise<string> {
    if (!this.supervisor) throw new Error('workflows fleet: not started');
    return (JSON.parse(await this.supervisor.api.post('/v1/workflows', JSON.stringify(body))) as { id: string }).id;
  }

  /** Workflows by state (to say what went wrong when a run does not finish). */
  states(): Record<string, number> {
    const rows = this.db()
      .prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM workflows GROUP BY state')
      .all();
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Succeeded workflows so far, and the last one's finish time (ms). */
  succeeded(): { n: number; lastFinishedAt: number | null } {
    return this.db()
      .prepare<[], { n: number; lastFinishedAt: number | null }>(
        `SELECT count(*) AS n, max(finished_at) AS lastFinishedAt FROM workflows WHERE state = 'succeeded'`,
      )
      .get()!;
  }

  /** Whether workflow `id` ended, and how. */
  stateOf(id: string): string | undefined {
    return this.db().prepare<[string], { state: string }>('SELECT state FROM workflows WHERE id = ?').get(id)?.state;
  }

  /** The start and finish time (ms) of each step's task of workflow `id` (its first round), by step id. */
  stepTimes(id: string): Map<string, { startedAt: number; finishedAt: number }> {
    const rows = this.db()
      .prepare<[string], { step: string; startedAt: number; finishedAt: number }>(
        `SELECT s.step_id AS step, t.started_at AS startedAt, t.finished_at AS finishedAt
         FROM workflow_steps s JOIN tasks t ON t.id = s.task_id WHERE s.workflow_id = ?`,
      )
      .all(id);
    return new Map(rows.map((r) => [r.step, { startedAt: r.startedAt, finishedAt: r.finishedAt }]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => stopProcess(w, 30_000)));
    this.workers.length = 0;
    if (this.supervisor) {
      await stopProcess(this.supervisor.child);
      this.supervisor.api.close();
      this.supervisor = null;
    }
    this.reader?.close();
    this.reader = null;
    await deleteKeysUnder(this.redisUrl, this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
    this.removeCleanup();
  }

  private db(): Database.Database {
    if (!this.reader) throw new Error('workflows fleet: no store');
    return this.reader;
  }
}
