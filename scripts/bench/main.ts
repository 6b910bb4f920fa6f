/**
 * `npm run bench`: taskfleet end to end (submit → SQL → BullMQ → worker processes → recorded result) on the
 * embedded store, beside raw BullMQ on the same Redis with the same workers and concurrency, and, when a
 * local PostgreSQL answers, pg-boss and graphile-worker at their defaults and their high-throughput settings.
 *
 * Each run of each system starts on a fresh backend and measures, in this order (measure.ts):
 *  1. dispatch latency on an idle fleet: single tasks one at a time, submit → start and submit → complete;
 *     for taskfleet also recorded result → the answer of a `?wait=` request held open before it, and
 *     recorded result → its signed `callbackUrl` webhook verified by a receiver in this process;
 *  2. throughput with workers running while the tasks arrive (N tasks in batches of 1000; first submit → last
 *     recorded completion): the end-to-end figure the ratios use;
 *  3. throughput of "submit all, then drain": N tasks submitted with no worker running (the batch-submit rate),
 *     then workers started (first start → last completion);
 *  4. single-submit latency at a steady request rate (open loop, measured from each request's planned time),
 *     with the workers running;
 *  5. memory: idle worker RSS after start-up, peak RSS (VmHWM) of the supervisor and workers;
 *  6. CPU per task of each process (supervisor or producer, each worker, Redis) over phases 2 and 3 (cpu.ts).
 * Runs of the systems are interleaved (run 1 of every system, then run 2, …) so that noise from the rest of the
 * machine spreads over all of them; each figure is the median of the runs, with min and max. With
 * `--baseline <dir>`, another checkout's build runs as one more system, so two builds meet the same noise.
 * Last, a store is seeded with 1,000,000 tasks and the stats and list queries are timed against a supervisor
 * on it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { PACKAGE_ROOT } from '../../src/version';
import { clockTicksPerSecond, localRedisPid } from './cpu';
import type { BenchSettings, Driver } from './driver';
import { compareWithBaseline, summarise, type RunFigures, type SystemFigures } from './figures';
import { measureRun, Progress, type CpuSettings } from './measure';
import { parseOptions, type Options } from './options';
import { BullmqDriver, GraphileDriver, PgBossDriver, postgresAnswers } from './peers';
import { cleanupAll, killAllSync } from './processes';
import { QUERY_COUNT, runQueryBench, type QueryFigures } from './queries';
import { fmt, printBaselineComparison, printTables, targets } from './report';
import { interruption } from './stats';
import { baselineBuild, currentBuild, TaskfleetDriver, type TaskfleetBuild } from './taskfleet';

type Results = Map<string, { runs: RunFigures[]; errors: string[] }>;

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

/** The systems to measure, taskfleet (and its baseline build) first; whether PostgreSQL answered. */
async function buildDrivers(o: Options, settings: BenchSettings, builds: TaskfleetBuild[]) {
  const drivers: Driver[] = builds.map((b) => new TaskfleetDriver(settings, b));
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
  return { drivers, postgres };
}

/**
 * The order of the systems in one run. The two builds of taskfleet swap places every other run, so that
 * neither always runs first (on a cooler machine, or right after the other's Redis keys were deleted).
 */
function orderOfRun(drivers: Driver[], run: number): Driver[] {
  const [first, second, ...rest] = drivers;
  if (run % 2 === 0 && first && second?.key === 'taskfleet@baseline') return [second, first, ...rest];
  return drivers;
}

/** Every run of every system, interleaved; a failed run is recorded and the others go on. */
async function runAll(drivers: Driver[], o: Options, progress: Progress, cpu: CpuSettings): Promise<Results> {
  const results: Results = new Map(drivers.map((d) => [d.key, { runs: [], errors: [] }]));
  for (let run = 1; run <= o.runs && !interruption.requested; run++) {
    for (const d of orderOfRun(drivers, run)) {
      if (interruption.requested) break;
      const result = results.get(d.key)!;
      try {
        result.runs.push(await measureRun(d, run, o, progress, cpu));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        result.errors.push(`run ${run}: ${message}`);
        progress.phase(`${d.label}, run ${run}: failed (${message})`);
      }
    }
  }
  return results;
}

async function queryFigures(o: Options, progress: Progress): Promise<QueryFigures> {
  let seeded = 0;
  return runQueryBench({
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

/** taskfleet's end-to-end throughput ÷ each peer's best configuration. */
function ratiosOf(systems: Record<string, SystemFigures>, results: Results) {
  const tf = systems.taskfleet;
  const ratio = (peer: SystemFigures | undefined, mode: 'live' | 'drain') =>
    tf && peer ? tf.throughput[mode].median / peer.throughput[mode].median : null;
  const best = (...keys: string[]) =>
    keys
      .map((k) => systems[k])
      .filter((s): s is SystemFigures => s !== undefined)
      .sort((a, b) => b.throughput.live.median - a.throughput.live.median)[0];
  const baseline = results.get('taskfleet@baseline');
  return {
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
    vsBaseline: baseline ? compareWithBaseline(results.get('taskfleet')?.runs ?? [], baseline.runs) : null,
  };
}

function machine(loadBefore: number[]) {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
    loadAverageAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  const loadBefore = os.loadavg();
  const builds = [currentBuild(), ...(o.baseline ? [baselineBuild(o.baseline)] : [])];
  if (!(await redisAnswers(o.redisUrl))) throw new Error(`no Redis answers at ${o.redisUrl} (--redis-url)`);
  const cpu: CpuSettings = { redisPid: await localRedisPid(o.redisUrl), ticksPerSecond: clockTicksPerSecond() };
  if (cpu.redisPid === undefined)
    console.error(`bench: Redis at ${o.redisUrl} is not on this machine: its CPU is not counted`);
  const settings: BenchSettings = {
    workers: o.workers,
    concurrency: o.concurrency,
    redisUrl: o.redisUrl,
    postgresUrl: o.postgresUrl,
    sqliteSynchronous: o.sqliteSynchronous,
    ...(o.cpuProf ? { cpuProfDir: path.resolve(o.cpuProf) } : {}),
  };
  const { drivers, postgres } = await buildDrivers(o, settings, builds);

  const progress = new Progress(o.progress, plannedUnits(drivers, o));
  const results = await runAll(drivers, o, progress, cpu);
  const queries = o.queries && !interruption.requested ? await queryFigures(o, progress) : null;
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
  const ratios = ratiosOf(systems, results);
  const t = targets(systems, ratios, queries);
  const date = new Date().toISOString();
  const report = {
    date,
    machine: machine(loadBefore),
    settings: { ...o, postgres, clockTicksPerSecond: cpu.ticksPerSecond, redisPid: cpu.redisPid ?? null },
    builds: Object.fromEntries(builds.map((b) => [b.key, { root: b.root, commit: b.commit }])),
    systems,
    queries,
    ratios,
    targets: t,
  };

  console.log(
    `\ntaskfleet benchmark, ${date}: ${report.machine.cpus} cores (${report.machine.cpuModel}), Node ${process.version}, ` +
      `load ${report.machine.loadAverageBefore[0]} before / ${report.machine.loadAverageAfter[0]} after; ` +
      `${o.runs} runs, ${o.workers} workers × concurrency ${o.concurrency}`,
  );
  printTables(systems, t, queries);
  console.log(
    `ratios (taskfleet ÷ peer, end to end): vs BullMQ ${fmt(ratios.vsBullmq, 2)}, vs pg-boss ${fmt(ratios.vsPgBoss, 2)}, ` +
      `vs graphile-worker ${fmt(ratios.vsGraphileWorker, 2)}`,
  );
  if (ratios.vsBaseline) printBaselineComparison(ratios.vsBaseline);
  const file = path.resolve(
    o.json ?? path.join(PACKAGE_ROOT, 'bench-results', `bench-${date.replace(/[:.]/g, '-')}.json`),
  );
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`figures written to ${file}`);
  if ([...results.values()].some((r) => r.errors.length > 0)) process.exitCode = 1;
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
