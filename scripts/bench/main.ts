/**
 * `npm run bench`: taskfleet end to end (submit → SQL → BullMQ → worker processes → recorded result) on the
 * embedded store, beside raw BullMQ on the same Redis with the same workers and concurrency, and, when a
 * local PostgreSQL answers, pg-boss and graphile-worker at their defaults and their high-throughput settings.
 *
 * Each run of each system starts on a fresh backend and measures, in this order:
 *  1. dispatch latency on an idle fleet: single tasks one at a time, submit → start and submit → complete;
 *  2. throughput with workers running while the tasks arrive (N tasks in batches of 1000; first submit → last
 *     recorded completion): the end-to-end figure the ratios use;
 *  3. throughput of "submit all, then drain": N tasks submitted with no worker running (the batch-submit rate),
 *     then workers started (first start → last completion);
 *  4. single-submit latency at a steady request rate (open loop, measured from each request's planned time),
 *     with the workers running;
 *  5. memory: idle worker RSS after start-up, peak RSS (VmHWM) of the supervisor and workers.
 * Runs of the systems are interleaved (run 1 of every system, then run 2, …) so that noise from the rest of the
 * machine spreads over all of them; each figure is the median of the runs, with min and max. Last, a store is
 * seeded with 1,000,000 tasks and the stats and list queries are timed against a supervisor on it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { PACKAGE_ROOT } from '../../src/version';
import type { BenchSettings, Driver } from './driver';
import { BullmqDriver, GraphileDriver, PgBossDriver, postgresAnswers } from './peers';
import { cleanupAll, killAllSync } from './processes';
import { QUERY_COUNT, runQueryBench, type QueryFigures } from './queries';
import { figure, interruption, percentiles, sleep, waitUntil, wallMs, type Figure, type Percentiles } from './stats';
import { TaskfleetDriver } from './taskfleet';

interface Options {
  tasks: number;
  slowTasks: number;
  runs: number;
  workers: number;
  concurrency: number;
  latencySamples: number;
  rate: number;
  rateSeconds: number;
  seedTasks: number;
  seedFile?: string;
  queries: boolean;
  peers: boolean;
  progress: boolean;
  json?: string;
  cpuProf?: string;
  redisUrl: string;
  postgresUrl: string;
}

interface RunFigures {
  live: number;
  drain: number;
  batchSubmit: number;
  single: { p50: number; p99: number; achievedRate: number; errors: number };
  latency: { start: Percentiles; complete: Percentiles };
  memory: { supervisorPeakMb: number; workerPeakMb: number; workerIdleMb: number };
}

const int =
  (name: string, min = 1) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}`);
    return n;
  };

function parseOptions(argv: string[]): Options {
  return new Command('npm run bench --')
    .description('taskfleet end to end beside raw BullMQ, pg-boss and graphile-worker, on this machine')
    .option(
      '--tasks <n>',
      'no-op tasks per throughput measurement (at least 20,000 for published figures)',
      int('--tasks'),
      20_000,
    )
    .option(
      '--slow-tasks <n>',
      'tasks for configurations that poll slowly (pg-boss at its defaults)',
      int('--slow-tasks'),
      1_000,
    )
    .option('--runs <n>', 'runs of every system (figures are medians over runs)', int('--runs'), 3)
    .option('--workers <n>', 'worker processes per system', int('--workers'), 2)
    .option('--concurrency <n>', 'concurrency of each worker process', int('--concurrency'), 50)
    .option('--latency-samples <n>', 'single tasks on the idle fleet per run', int('--latency-samples'), 300)
    .option('--rate <n>', 'single submits per second in the steady-rate measurement', int('--rate'), 1_000)
    .option('--rate-seconds <n>', 'length of the steady-rate measurement, seconds', int('--rate-seconds'), 3)
    .option('--seed-tasks <n>', 'tasks in the seeded store for the query timings', int('--seed-tasks'), 1_000_000)
    .option('--seed-file <path>', 'reuse this seeded SQLite file when it exists (else seed it there and keep it)')
    .option('--no-queries', 'skip the seeded-store query timings')
    .option('--no-peers', 'measure taskfleet only')
    .option('--no-progress', 'no progress bar')
    .option('--cpu-prof <dir>', "run taskfleet's supervisor and workers under node --cpu-prof, profiles into <dir>")
    .option('--json <file>', 'write the figures as JSON here (default: bench-results/bench-<time>.json)')
    .option(
      '--redis-url <url>',
      'Redis for taskfleet and BullMQ (own key prefixes)',
      process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    )
    .option(
      '--postgres-url <url>',
      'PostgreSQL for pg-boss and graphile-worker (own schemas)',
      process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    )
    .parse(argv)
    .opts<Options>();
}

/** Open-loop single submits at `rate` per second for `seconds`: latency from each request's planned send time. */
async function steadyRate(submit: () => Promise<void>, rate: number, seconds: number, tick: () => void) {
  const total = rate * seconds;
  const latencies: number[] = [];
  const inflight = new Set<Promise<void>>();
  let errors = 0;
  let sent = 0;
  const t0 = wallMs();
  while (sent < total && !interruption.requested) {
    const due = Math.min(total, Math.floor(((wallMs() - t0) * rate) / 1000) + 1);
    while (sent < due) {
      const planned = t0 + (sent * 1000) / rate;
      sent++;
      const p: Promise<void> = submit().then(
        () => void latencies.push(wallMs() - planned),
        () => void errors++,
      );
      inflight.add(p);
      void p.finally(() => {
        inflight.delete(p);
        tick();
      });
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (wallMs() - t0) / 1000;
  const p = percentiles(latencies);
  return { p50: p.p50, p99: p.p99, achievedRate: latencies.length / elapsed, errors };
}

class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private done = 0;

  constructor(
    enabled: boolean,
    readonly total: number,
  ) {
    this.bar =
      enabled && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: ' {bar} {percentage}% | ETA {eta_formatted} | {phase}',
              stream: process.stderr,
              etaBuffer: 200,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
    this.bar?.start(total, 0, { phase: 'starting' });
  }

  phase(text: string): void {
    if (this.bar) this.bar.update(this.done, { phase: text });
    else console.error(`bench: ${text}`);
  }

  add(units: number): void {
    this.done += units;
    this.bar?.update(Math.min(this.done, this.total));
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** One run of one system. */
async function measureRun(d: Driver, run: number, o: Options, progress: Progress): Promise<RunFigures> {
  const n = d.slow ? Math.min(o.tasks, o.slowTasks) : o.tasks;
  const weight = d.slow ? 50 : 1;
  const samples = d.slow ? Math.min(10, o.latencySamples) : o.latencySamples;
  const label = `${d.label}, run ${run}/${o.runs}`;
  const waitCompleted = async (what: string) => {
    let last = 0;
    await waitUntil(
      async () => {
        const c = await d.completed();
        progress.add(((c - last) * weight) / 2);
        last = c;
        return c >= n;
      },
      `${n} tasks of ${d.label} (${what})`,
      900_000,
      50,
    );
    progress.add(((n - last) * weight) / 2);
  };

  progress.phase(`${label}: starting`);
  await d.setup(run);
  try {
    await d.startWorkers();
    for (let i = 0; i < 3; i++) await d.latencySample(); // warm-up: routes, connections, JIT
    const idle = d.memory().workers.map((m) => m.rssMb);

    progress.phase(`${label}: idle-fleet latency`);
    const start: number[] = [];
    const complete: number[] = [];
    for (let i = 0; i < samples; i++) {
      const s = await d.latencySample();
      start.push(s.start);
      complete.push(s.complete);
      progress.add(d.slow ? 200 : 5);
      await sleep(2);
    }

    progress.phase(`${label}: ${n} tasks, workers running while they arrive`);
    await d.beginPhase();
    const t0 = wallMs();
    let submittedUnits = 0;
    await d.submitBatches(n, (s) => {
      progress.add(((s - submittedUnits) * weight) / 2);
      submittedUnits = s;
    });
    await waitCompleted('live');
    const liveWindow = await d.window();
    const live = n / ((liveWindow.lastEnd - t0) / 1000);
    await d.stopWorkers();

    progress.phase(`${label}: ${n} tasks submitted, then drained`);
    await d.beginPhase();
    const t1 = wallMs();
    submittedUnits = 0;
    await d.submitBatches(n, (s) => {
      progress.add(((s - submittedUnits) * weight) / 2);
      submittedUnits = s;
    });
    const batchSubmit = n / ((wallMs() - t1) / 1000);
    await d.startWorkers();
    await waitCompleted('drain');
    const drainWindow = await d.window();
    const drain = n / ((drainWindow.lastEnd - drainWindow.firstStart) / 1000);

    progress.phase(`${label}: single submits at ${o.rate}/s`);
    const single = await steadyRate(
      () => d.submitOne(),
      o.rate,
      o.rateSeconds,
      () => progress.add(1),
    );

    const mem = d.memory();
    return {
      live,
      drain,
      batchSubmit,
      single,
      latency: { start: percentiles(start), complete: percentiles(complete) },
      memory: {
        supervisorPeakMb: mem.supervisor?.peakMb ?? NaN,
        workerPeakMb: Math.max(...mem.workers.map((m) => m.peakMb)),
        workerIdleMb: Math.max(...idle),
      },
    };
  } finally {
    progress.phase(`${label}: stopping`);
    await d.teardown();
  }
}

function plannedUnits(drivers: Driver[], o: Options): number {
  let units = 0;
  for (const d of drivers) {
    const n = d.slow ? Math.min(o.tasks, o.slowTasks) : o.tasks;
    const weight = d.slow ? 50 : 1;
    units += o.runs * (2 * n * weight + (d.slow ? 10 * 200 : o.latencySamples * 5) + o.rate * o.rateSeconds);
  }
  if (o.queries) units += Math.ceil(o.seedTasks / 40) + QUERY_COUNT * 1000;
  return units;
}

interface SystemFigures {
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
  };
  memory: { supervisorPeakMb: Figure | null; workerPeakMb: Figure; workerIdleMb: Figure };
}

function summarise(d: Driver, runs: RunFigures[], errors: string[], o: Options): SystemFigures {
  const f = (get: (r: RunFigures) => number) => figure(runs.map(get));
  return {
    label: d.label,
    durable: d.durable,
    tasks: d.slow ? Math.min(o.tasks, o.slowTasks) : o.tasks,
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
    },
    memory: {
      supervisorPeakMb: runs.some((r) => Number.isFinite(r.memory.supervisorPeakMb))
        ? f((r) => r.memory.supervisorPeakMb)
        : null,
      workerPeakMb: f((r) => r.memory.workerPeakMb),
      workerIdleMb: f((r) => r.memory.workerIdleMb),
    },
  };
}

interface Target {
  name: string;
  target: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  required: boolean;
}

function targets(
  systems: Record<string, SystemFigures>,
  ratios: Record<string, unknown>,
  q: QueryFigures | null,
): Target[] {
  const tf = systems.taskfleet;
  const m = (v: number | null | undefined, ok: (v: number) => boolean) =>
    v === null || v === undefined || !Number.isFinite(v) ? null : ok(v);
  const vsFast =
    systems.pgBossFast && tf ? tf.throughput.live.median / systems.pgBossFast.throughput.live.median : null;
  const vsBull = (ratios.vsBullmq as number | null) ?? null;
  const list: Array<Omit<Target, 'met'> & { ok: (v: number) => boolean }> = [
    {
      name: 'durable throughput vs raw BullMQ',
      target: '≥ 0.5×',
      value: vsBull,
      unit: '×',
      required: true,
      ok: (v) => v >= 0.5,
    },
    {
      name: 'throughput vs pg-boss at its high-throughput settings',
      target: '≥ 1.0×',
      value: vsFast,
      unit: '×',
      required: false,
      ok: (v) => v >= 1,
    },
    {
      name: 'dispatch latency submit → start p50 (idle fleet)',
      target: '≤ 3 ms',
      value: tf?.latency.submitToStart.p50Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 3,
    },
    {
      name: 'dispatch latency submit → start p99 (idle fleet)',
      target: '≤ 10 ms',
      value: tf?.latency.submitToStart.p99Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 10,
    },
    {
      name: 'batch submit rate',
      target: '≥ 20,000 tasks/s',
      value: tf?.batchSubmitPerSecond.median ?? null,
      unit: '/s',
      required: false,
      ok: (v) => v >= 20_000,
    },
    {
      name: `single submit p99 at ${tf?.singleSubmit.rate ?? 1000} requests/s`,
      target: '≤ 25 ms',
      value: tf?.singleSubmit.p99Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 25,
    },
    {
      name: 'idle worker RSS',
      target: '≤ 80 MB (76.3 MiB)',
      value: tf?.memory.workerIdleMb.median ?? null,
      unit: 'MiB',
      required: false,
      ok: (v) => v <= 80e6 / 2 ** 20,
    },
    {
      name: `stats and list queries, ${q ? q.tasks.toLocaleString('en-US') : '1,000,000'} tasks (slowest median${q ? `: ${q.slowest}` : ''})`,
      target: '≤ 50 ms each',
      value: q?.slowestMedianMs ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 50,
    },
  ];
  return list.map(({ ok, ...t }) => ({ ...t, met: m(t.value, ok) }));
}

const fmt = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '—'
    : v >= 1000
      ? Math.round(v).toLocaleString('en-US')
      : v.toFixed(digits);
const fig = (f: Figure | null | undefined, digits = 1) =>
  !f || !Number.isFinite(f.median)
    ? '—'
    : f.runs.length > 1
      ? `${fmt(f.median, digits)} (${fmt(f.min, digits)}–${fmt(f.max, digits)})`
      : fmt(f.median, digits);

/** No colours unless printing to a terminal (a file or CI log gets plain text). */
const STYLE = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };

/** Column names; the legend under the table gives each configuration in full. */
const SHORT: Record<string, string> = {
  taskfleet: 'taskfleet',
  bullmq: 'BullMQ',
  pgBossFast: 'pg-boss fast',
  graphileFast: 'graphile fast',
  pgBossDefault: 'pg-boss dflt',
  graphileDefault: 'graphile dflt',
};

function printTables(systems: Record<string, SystemFigures>, t: Target[], q: QueryFigures | null): void {
  const keys = Object.keys(systems);
  const table = new Table({ ...STYLE, head: ['median (min–max)', ...keys.map((k) => SHORT[k] ?? k)], wordWrap: true });
  const row = (name: string, get: (s: SystemFigures) => string) =>
    table.push([name, ...keys.map((k) => get(systems[k]!))]);
  row('durable', (s) => (s.durable ? 'yes' : 'no'));
  row('tasks per measurement', (s) => s.tasks.toLocaleString('en-US'));
  row('tasks/s, workers running while tasks arrive', (s) => fig(s.throughput.live, 0));
  row('tasks/s, submit all then drain', (s) => fig(s.throughput.drain, 0));
  row('batch submit, tasks/s', (s) => fig(s.batchSubmitPerSecond, 0));
  row(`single submit at ${Object.values(systems)[0]?.singleSubmit.rate ?? 0}/s, p50 ms`, (s) =>
    fig(s.singleSubmit.p50Ms, 1),
  );
  row('single submit, p99 ms', (s) => fig(s.singleSubmit.p99Ms, 1));
  row(
    'single submit, achieved/s (errors)',
    (s) => `${fmt(s.singleSubmit.achievedRate.median, 0)} (${s.singleSubmit.errors})`,
  );
  row('submit → start p50 / p95 / p99 (ms)', (s) =>
    [s.latency.submitToStart.p50Ms, s.latency.submitToStart.p95Ms, s.latency.submitToStart.p99Ms]
      .map((f) => fmt(f.median, 2))
      .join(' / '),
  );
  row('submit → complete p50 / p95 / p99 (ms)', (s) =>
    [s.latency.submitToComplete.p50Ms, s.latency.submitToComplete.p95Ms, s.latency.submitToComplete.p99Ms]
      .map((f) => fmt(f.median, 2))
      .join(' / '),
  );
  row('peak RSS supervisor, MiB', (s) => fig(s.memory.supervisorPeakMb, 0));
  row('peak RSS per worker, MiB', (s) => fig(s.memory.workerPeakMb, 0));
  row('idle worker RSS, MiB', (s) => fig(s.memory.workerIdleMb, 0));
  console.log(table.toString());
  console.log(keys.map((k) => `${SHORT[k] ?? k}: ${systems[k]!.label}`).join('; '));

  if (q) {
    const qt = new Table({
      ...STYLE,
      head: [
        `query (${q.tasks.toLocaleString('en-US')} tasks, ${q.events.toLocaleString('en-US')} events)`,
        'p50 ms',
        'max ms',
      ],
    });
    for (const [name, v] of Object.entries(q.queries)) qt.push([name, fmt(v.p50, 2), fmt(v.max, 2)]);
    console.log(qt.toString());
  }

  const tt = new Table({ ...STYLE, head: ['target', 'wanted', 'measured (median)', 'met'] });
  for (const x of t) {
    tt.push([
      `${x.name}${x.required ? ' (required)' : ''}`,
      x.target,
      x.value === null ? 'not measured' : `${fmt(x.value, 2)} ${x.unit}`,
      x.met === null ? '—' : x.met ? 'yes' : 'NO',
    ]);
  }
  console.log(tt.toString());
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  const loadBefore = os.loadavg();
  if (!(await redisAnswers(o.redisUrl))) throw new Error(`no Redis answers at ${o.redisUrl} (--redis-url)`);
  const settings: BenchSettings = {
    workers: o.workers,
    concurrency: o.concurrency,
    redisUrl: o.redisUrl,
    postgresUrl: o.postgresUrl,
    ...(o.cpuProf ? { cpuProfDir: path.resolve(o.cpuProf) } : {}),
  };
  const drivers: Driver[] = [new TaskfleetDriver(settings)];
  let postgres = false;
  if (o.peers) {
    drivers.push(new BullmqDriver(settings));
    postgres = await postgresAnswers(o.postgresUrl);
    if (postgres) {
      drivers.push(new PgBossDriver(settings, true), new GraphileDriver(settings, true));
      drivers.push(new PgBossDriver(settings, false), new GraphileDriver(settings, false));
    } else {
      console.error(`bench: no PostgreSQL answers at ${o.postgresUrl}: pg-boss and graphile-worker are left out`);
    }
  }

  const progress = new Progress(o.progress, plannedUnits(drivers, o));
  const results = new Map<string, { runs: RunFigures[]; errors: string[] }>(
    drivers.map((d) => [d.key, { runs: [], errors: [] }]),
  );
  for (let run = 1; run <= o.runs && !interruption.requested; run++) {
    for (const d of drivers) {
      if (interruption.requested) break;
      try {
        results.get(d.key)!.runs.push(await measureRun(d, run, o, progress));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        results.get(d.key)!.errors.push(`run ${run}: ${message}`);
        progress.phase(`${d.label}, run ${run}: failed (${message})`);
      }
    }
  }
  let queries: QueryFigures | null = null;
  if (o.queries && !interruption.requested) {
    let seeded = 0;
    queries = await runQueryBench({
      tasks: o.seedTasks,
      redisUrl: o.redisUrl,
      repetitions: 20,
      ...(o.seedFile ? { seedFile: path.resolve(o.seedFile) } : {}),
      progress: (what, done) => {
        if (what === 'seeding the store') {
          progress.add(Math.ceil((done - seeded) / 40));
          seeded = done;
          progress.phase(`seeding a store with ${o.seedTasks.toLocaleString('en-US')} tasks`);
        } else {
          progress.add(1000);
          progress.phase('timing the stats and list queries');
        }
      },
    });
  }
  progress.stop();
  if (interruption.requested) {
    process.exitCode = 130;
    return;
  }

  const systems: Record<string, SystemFigures> = {};
  for (const d of drivers) {
    const r = results.get(d.key)!;
    if (r.runs.length > 0) systems[d.key] = summarise(d, r.runs, r.errors, o);
    else console.error(`bench: ${d.label} failed in every run: ${r.errors.join('; ')}`);
  }
  const tf = systems.taskfleet;
  const ratio = (peer: SystemFigures | undefined, mode: 'live' | 'drain') =>
    tf && peer ? tf.throughput[mode].median / peer.throughput[mode].median : null;
  const best = (...keys: string[]) =>
    keys
      .map((k) => systems[k])
      .filter((s): s is SystemFigures => s !== undefined)
      .sort((a, b) => b.throughput.live.median - a.throughput.live.median)[0];
  const ratios = {
    basis:
      'end-to-end throughput (workers running while tasks arrive: first submit → last recorded result), taskfleet ÷ the peer’s best configuration',
    vsBullmq: ratio(systems.bullmq, 'live'),
    vsPgBoss: ratio(best('pgBossFast', 'pgBossDefault'), 'live'),
    vsGraphileWorker: ratio(best('graphileFast', 'graphileDefault'), 'live'),
    drain: {
      vsBullmq: ratio(systems.bullmq, 'drain'),
      vsPgBoss: ratio(best('pgBossFast', 'pgBossDefault'), 'drain'),
      vsGraphileWorker: ratio(best('graphileFast', 'graphileDefault'), 'drain'),
    },
  };
  const t = targets(systems, ratios, queries);
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
      loadAverageAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    settings: { ...o, postgres },
    systems,
    queries,
    ratios,
    targets: t,
  };

  console.log(
    `\ntaskfleet benchmark, ${report.date}: ${report.machine.cpus} cores (${report.machine.cpuModel}), Node ${process.version}, ` +
      `load ${report.machine.loadAverageBefore[0]} before / ${report.machine.loadAverageAfter[0]} after; ` +
      `${o.runs} runs, ${o.workers} workers × concurrency ${o.concurrency}`,
  );
  printTables(systems, t, queries);
  console.log(
    `ratios (taskfleet ÷ peer, end to end): vs BullMQ ${fmt(ratios.vsBullmq, 2)}, vs pg-boss ${fmt(ratios.vsPgBoss, 2)}, ` +
      `vs graphile-worker ${fmt(ratios.vsGraphileWorker, 2)}`,
  );
  const file = path.resolve(
    o.json ?? path.join(PACKAGE_ROOT, 'bench-results', `bench-${report.date.replace(/[:.]/g, '-')}.json`),
  );
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`figures written to ${file}`);
  const failed = [...results.values()].some((r) => r.errors.length > 0);
  if (failed) process.exitCode = 1;
}

// Ctrl-C: every wait gives up, the current run tears its backend down, then everything left is cleaned up
// (processes, Redis keys, PostgreSQL schemas, temporary files). A second Ctrl-C, or 30 s, forces it.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    const force = () => void cleanupAll().finally(() => process.exit(130));
    if (interruption.requested) return force();
    interruption.requested = true;
    console.error(`\nbench: ${sig}: stopping every process and removing the benchmark's keys, schemas and files`);
    setTimeout(force, 30_000).unref();
  });
}
process.on('exit', killAllSync);

main()
  .catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().then(() => process.exit()));
