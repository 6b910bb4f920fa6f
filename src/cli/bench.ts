/**
 * `taskfleet bench`: a quick end-to-end measurement on this machine. It starts its own supervisor on a
 * fresh SQLite file and its own worker processes, then measures
 *  - throughput: N no-op (echo) tasks submitted in batches of 1000, from the first submit to the last result;
 *  - dispatch latency on an idle fleet: single submits one at a time, submit → start and submit → finish.
 * Times come from the store (createdAt, startedAt, finishedAt), all stamped by the same machine's clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { configToEnv, withoutSecrets, type Config } from '../config/config';
import { generateApiKey } from '../security/apiKeys';
import { buildSupervisor } from '../supervisor/supervisor';
import { PACKAGE_ROOT } from '../version';

export interface BenchOptions {
  tasks: number;
  workers: number;
  concurrency: number;
  latencySamples: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

interface TaskRef {
  id: string;
}

async function post<T>(url: string, key: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function runBench(base: Config, o: BenchOptions): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-bench-'));
  const config: Config = {
    ...base,
    port: 0,
    host: '127.0.0.1',
    sqlitePath: path.join(dir, 'bench.db'),
    redisPrefix: `tfbench-${process.pid}`,
    logLevel: 'warn',
    logFormat: 'json',
    // Its own supervisor: a session admin key, and no rate limit worth the name (it measures the fleet).
    adminApiKey: generateApiKey(),
    rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  };
  const key = config.adminApiKey ?? '';
  const sup = await buildSupervisor(config, { log: pino({ level: 'warn' }) });
  const env = { ...withoutSecrets(process.env), ...configToEnv(config) };
  const bin = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < o.workers; i++) {
      children.push(
        spawn(process.execPath, [bin, 'worker', '--id', `bench-${i}`, '--concurrency', String(o.concurrency)], {
          env,
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    const waitUntil = async (cond: () => Promise<boolean>) => {
      while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
    };
    await waitUntil(
      async () => (await sup.store.listAgents()).filter((a) => a.state === 'running').length === o.workers,
    );
    // Warm-up: creates the route so every worker consumes it before timing starts.
    const warm = await post<TaskRef>(`${sup.url}/v1/tasks`, key, { type: 'echo', payload: null });
    await waitUntil(async () => (await sup.store.getTask(warm.id))?.status === 'succeeded');
    await new Promise((r) => setTimeout(r, 2 * config.routeRefreshMs));

    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < o.tasks; i += 1000) {
      const n = Math.min(1000, o.tasks - i);
      const res = await post<{ tasks: TaskRef[] }>(`${sup.url}/v1/tasks/batch`, key, {
        tasks: Array.from({ length: n }, () => ({ type: 'echo', payload: null })),
      });
      ids.push(...res.tasks.map((t) => t.id));
    }
    const submitted = performance.now();
    // Done when nothing is queued or running any more (every submitted task has its result).
    const busy = async () =>
      (await sup.store.listTasks({ status: 'queued', limit: 1 })).length +
        (await sup.store.listTasks({ status: 'running', limit: 1 })).length >
      0;
    await waitUntil(async () => !(await busy()));
    const finished = performance.now();

    const startLat: number[] = [];
    const endLat: number[] = [];
    for (let i = 0; i < o.latencySamples; i++) {
      const t = await post<TaskRef>(`${sup.url}/v1/tasks`, key, { type: 'echo', payload: i });
      await waitUntil(async () => (await sup.store.getTask(t.id))?.status === 'succeeded');
      const rec = (await sup.store.getTask(t.id))!;
      startLat.push(rec.startedAt! - rec.createdAt);
      endLat.push(rec.finishedAt! - rec.createdAt);
    }
    startLat.sort((a, b) => a - b);
    endLat.sort((a, b) => a - b);
    return {
      tasks: o.tasks,
      workers: o.workers,
      concurrency: o.concurrency,
      submitSeconds: (submitted - started) / 1000,
      totalSeconds: (finished - started) / 1000,
      throughputPerSecond: o.tasks / ((finished - started) / 1000),
      submitRatePerSecond: o.tasks / ((submitted - started) / 1000),
      startLatencyP50Ms: pct(startLat, 50),
      startLatencyP99Ms: pct(startLat, 99),
      finishLatencyP50Ms: pct(endLat, 50),
      finishLatencyP99Ms: pct(endLat, 99),
    };
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) =>
            c.exitCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGTERM')),
          ),
      ),
    );
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
