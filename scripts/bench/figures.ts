/** The figures of one run of one system, and their summary over the runs (median, min, max). */
import type { CpuPerTask } from './cpu';
import type { Driver } from './driver';
import type { Options } from './options';
import { figure, type Figure, type Percentiles } from './stats';

export interface RunFigures {
  /** Which run (1..--runs) these come from: a run of one build is paired with the same run of the other. */
  run: number;
  live: number;
  drain: number;
  batchSubmit: number;
  single: { p50: number; p99: number; achievedRate: number; errors: number };
  latency: { start: Percentiles; complete: Percentiles; wait?: Percentiles; webhook?: Percentiles };
  memory: { supervisorPeakMb: number; workerPeakMb: number; workerIdleMb: number };
  cpu: { live: CpuPerTask; drain: CpuPerTask; workerStartupMs: number };
}

/** µs of CPU per task of each role in one phase, over the runs. */
export interface CpuFigures {
  producerUs: Figure;
  /** One figure per worker process, in the order they were started. */
  workersUs: Figure[];
  /** null for a system that does not use Redis. */
  redisUs: Figure | null;
  totalUs: Figure;
}

export interface SystemFigures {
  label: string;
  durable: boolean;
  tasks: number;
  runsCompleted: number;
  errors: string[];
  throughput: { live: Figure; drain: Figure };
  batchSubmitPerSecond: Figure;
  singleSubmit: { rate: number; p50Ms: Figure; p99Ms: Figure; achievedRate: Figure; errors: number };
  latency: {
    submitToStart: { p50Ms: Figure; p95Ms: Figure; p99Ms: Figure };
    submitToComplete: { p50Ms: Figure; p95Ms: Figure; p99Ms: Figure };
    /** Recorded result → answer of a `?wait=` request held open before it (null: the system has no long poll). */
    resultToWaitAnswer: { p50Ms: Figure; p99Ms: Figure } | null;
    /** Recorded result → its signed `callbackUrl` delivery verified by a receiver here (null: no webhooks). */
    resultToWebhook: { p50Ms: Figure; p99Ms: Figure } | null;
  };
  memory: { supervisorPeakMb: Figure | null; workerPeakMb: Figure; workerIdleMb: Figure };
  cpu: {
    /** What `producerUs` measures: taskfleet's supervisor, or the peer's producer (the benchmark process). */
    producerRole: 'supervisor' | 'producer';
    live: CpuFigures;
    /** The workers start during this phase: their start-up is included. */
    drain: CpuFigures;
    /** CPU of a worker process from its spawn until it is registered and ready (mean of the run's workers). */
    workerStartupMs: Figure;
  };
}

function cpuFigures(phases: CpuPerTask[], usesRedis: boolean): CpuFigures {
  const workerCount = Math.max(0, ...phases.map((p) => p.workersUs.length));
  return {
    producerUs: figure(phases.map((p) => p.producerUs)),
    workersUs: Array.from({ length: workerCount }, (_, i) => figure(phases.map((p) => p.workersUs[i] ?? NaN))),
    redisUs: usesRedis ? figure(phases.map((p) => p.redisUs)) : null,
    totalUs: figure(phases.map((p) => p.totalUs)),
  };
}

export function summarise(driver: Driver, runs: RunFigures[], errors: string[], o: Options): SystemFigures {
  const f = (get: (r: RunFigures) => number) => figure(runs.map(get));
  const usesRedis = driver.cpuProcesses().usesRedis;
  return {
    label: driver.label,
    durable: driver.durable,
    tasks: driver.slow ? Math.min(o.tasks, o.slowTasks) : o.tasks,
    runsCompleted: runs.length,
    errors,
    throughput: { live: f((r) => r.live), drain: f((r) => r.drain) },
    batchSubmitPerSecond: f((r) => r.batchSubmit),
    singleSubmit: {
      rate: o.rate,
      p50Ms: f((r) => r.single.p50),
      p99Ms: f((r) => r.single.p99),
      achievedRate: f((r) => r.single.achievedRate),
      errors: runs.reduce((n, r) => n + r.single.errors, 0),
    },
    latency: {
      submitToStart: {
        p50Ms: f((r) => r.latency.start.p50),
        p95Ms: f((r) => r.latency.start.p95),
        p99Ms: f((r) => r.latency.start.p99),
      },
      submitToComplete: {
        p50Ms: f((r) => r.latency.complete.p50),
        p95Ms: f((r) => r.latency.complete.p95),
        p99Ms: f((r) => r.latency.complete.p99),
      },
      resultToWaitAnswer: runs.some((r) => r.latency.wait)
        ? { p50Ms: f((r) => r.latency.wait?.p50 ?? NaN), p99Ms: f((r) => r.latency.wait?.p99 ?? NaN) }
        : null,
      resultToWebhook: runs.some((r) => r.latency.webhook)
        ? { p50Ms: f((r) => r.latency.webhook?.p50 ?? NaN), p99Ms: f((r) => r.latency.webhook?.p99 ?? NaN) }
        : null,
    },
    memory: {
      supervisorPeakMb: runs.some((r) => Number.isFinite(r.memory.supervisorPeakMb))
        ? f((r) => r.memory.supervisorPeakMb)
        : null,
      workerPeakMb: f((r) => r.memory.workerPeakMb),
      workerIdleMb: f((r) => r.memory.workerIdleMb),
    },
    cpu: {
      producerRole: driver.producerRole,
      live: cpuFigures(
        runs.map((r) => r.cpu.live),
        usesRedis,
      ),
      drain: cpuFigures(
        runs.map((r) => r.cpu.drain),
        usesRedis,
      ),
      workerStartupMs: f((r) => r.cpu.workerStartupMs),
    },
  };
}

/** This build ÷ the baseline, each run paired with the baseline's same run (so both saw the same noise). */
export interface BaselineComparison {
  basis: string;
  pairedRuns: number;
  throughputLive: Figure;
  throughputDrain: Figure;
  cpuLive: { supervisor: Figure; workers: Figure; redis: Figure; total: Figure };
}

export function compareWithBaseline(current: RunFigures[], baseline: RunFigures[]): BaselineComparison | null {
  const pairs = current.flatMap((c) => {
    const b = baseline.find((r) => r.run === c.run);
    return b ? [{ c, b }] : [];
  });
  if (pairs.length === 0) return null;
  const ratio = (get: (r: RunFigures) => number) => figure(pairs.map(({ c, b }) => get(c) / get(b)));
  const workersUs = (r: RunFigures) => r.cpu.live.workersUs.reduce((sum, us) => sum + us, 0);
  return {
    basis:
      'taskfleet ÷ taskfleet@baseline, each run paired with the same run of the baseline; median (min–max) of the pairs',
    pairedRuns: pairs.length,
    throughputLive: ratio((r) => r.live),
    throughputDrain: ratio((r) => r.drain),
    cpuLive: {
      supervisor: ratio((r) => r.cpu.live.producerUs),
      workers: ratio(workersUs),
      redis: ratio((r) => r.cpu.live.redisUs),
      total: ratio((r) => r.cpu.live.totalUs),
    },
  };
}
