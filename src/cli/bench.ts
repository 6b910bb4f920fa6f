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
import { deleteKeysUnder } from '../dispatch/redis';
import { generateApiKey } from '../security/apiKeys';
import { buildSupervisor, type Supervisor } from '../supervisor/supervisor';
import { PACKAGE_ROOT } from '../version';
import { workerEnv } from './workerProcess';

export interface BenchOptions {
  tasks: number;
  workers: number;
  concurrency: number;
  latencySamples: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

interface TaskRef {
  id: string;
}

/** The supervisor the bench talks to, and the session admin key it accepts. */
interface Target {
  supervisor: Supervisor;
  key: string;
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

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}

function benchConfig(base: Config, dir: string): Config {
  return {
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
}

/** Pushes each worker as it starts, so that the ones already running are stopped if a later spawn throws. */
function startWorkers(config: Config, options: BenchOptions, children: ChildProcess[]): void {
  const env = workerEnv({ ...withoutSecrets(process.env), ...configToEnv(config) });
  const bin = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
  for (let i = 0; i < options.workers; i++) {
    children.push(
      spawn(process.execPath, [bin, 'worker', '--id', `bench-${i}`, '--concurrency', String(options.concurrency)], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
  }
}

function stopWorkers(children: ChildProcess[]): Promise<void[]> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
        ),
    ),
  );
}

/** Waits for every worker, then runs one task so that every worker consumes its route before timing starts. */
async function warmUp({ supervisor, key }: Target, workers: number, routeRefreshMs: number): Promise<void> {
  await waitUntil(
    async () => (await supervisor.store.listAgents()).filter((a) => a.state === 'running').length === workers,
  );
  const warm = await post<TaskRef>(`${supervisor.url}/v1/tasks`, key, { type: 'echo', payload: null });
  await waitUntil(async () => (await supervisor.store.getTask(warm.id))?.status === 'succeeded');
  await new Promise((resolve) => setTimeout(resolve, 2 * routeRefreshMs));
}

/** Milliseconds from the first submit to the last one, and to the last result. */
async function measureThroughput({ supervisor, key }: Target, tasks: number) {
  const started = performance.now();
  for (let i = 0; i < tasks; i += 1000) {
    const count = Math.min(1000, tasks - i);
    await post<{ tasks: TaskRef[] }>(`${supervisor.url}/v1/tasks/batch`, key, {
      tasks: Array.from({ length: count }, () => ({ type: 'echo', payload: null })),
    });
  }
  const submitted = performance.now();
  // Done when nothing is queued or running any more (every submitted task has its result).
  const busy = async () =>
    (await supervisor.store.listTasks({ status: 'queued', limit: 1 })).length +
      (await supervisor.store.listTasks({ status: 'running', limit: 1 })).length >
    0;
  await waitUntil(async () => !(await busy()));
  const finished = performance.now();
  return { submitMs: submitted - started, totalMs: finished - started };
}

/** Submit → start and submit → finish of single tasks on the idle fleet, each sorted ascending. */
async function measureLatency({ supervisor, key }: Target, samples: number) {
  const toStart: number[] = [];
  const toFinish: number[] = [];
  for (let i = 0; i < samples; i++) {
    const task = await post<TaskRef>(`${supervisor.url}/v1/tasks`, key, { type: 'echo', payload: i });
    await waitUntil(async () => (await supervisor.store.getTask(task.id))?.status === 'succeeded');
    const record = (await supervisor.store.getTask(task.id))!;
    toStart.push(record.startedAt! - record.createdAt);
    toFinish.push(record.finishedAt! - record.createdAt);
  }
  toStart.sort((a, b) => a - b);
  toFinish.sort((a, b) => a - b);
  return { toStart, toFinish };
}

export async function runBench(base: Config, options: BenchOptions): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-bench-'));
  const config = benchConfig(base, dir);
  const supervisor = await buildSupervisor(config, { log: pino({ level: 'warn' }) });
  const target = { supervisor, key: config.adminApiKey ?? '' };
  const children: ChildProcess[] = [];
  try {
    startWorkers(config, options, children);
    await warmUp(target, options.workers, config.routeRefreshMs);
    const { submitMs, totalMs } = await measureThroughput(target, options.tasks);
    const { toStart, toFinish } = await measureLatency(target, options.latencySamples);
    return {
      tasks: options.tasks,
      workers: options.workers,
      concurrency: options.concurrency,
      submitSeconds: submitMs / 1000,
      totalSeconds: totalMs / 1000,
      throughputPerSecond: options.tasks / (totalMs / 1000),
      submitRatePerSecond: options.tasks / (submitMs / 1000),
      startLatencyP50Ms: percentile(toStart, 50),
      startLatencyP99Ms: percentile(toStart, 99),
      finishLatencyP50Ms: percentile(toFinish, 50),
      finishLatencyP99Ms: percentile(toFinish, 99),
    };
  } finally {
    await stopWorkers(children);
    await supervisor.stop();
    await deleteKeysUnder(config.redisUrl, config.redisPrefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
