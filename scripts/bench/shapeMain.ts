/**
 * `npm run bench:shape`: what the fleet's shape costs and where work lands (issue 14), measured on a real fleet
 * (supervisor and worker processes, SQLite, a private key prefix on the shared Redis) so that a change to
 * dispatch is measured with the same tool before and after. `--help` says what each figure is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEV_WORKERS } from '../../src/cli/dev';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { PACKAGE_ROOT } from '../../src/version';
import { cleanupAll, killAllSync } from './processes';
import { placementShare, routeTasks, type Placement, type WorkerConnections } from './shape';
import { ShapeFleet } from './shapeFleet';
import { figure, interruption, percentiles, sleep, type Figure, type Percentiles } from './stats';

interface ShapeOptions {
  runs: number;
  capabilities: string[];
  types: string[];
  concurrency: number;
  placementTasks: number;
  placementRate: number;
  json?: string;
  redisUrl: string;
}

const HELP = `
Figures (each the median over --runs fresh fleets, with min and max):
  routes: one worker with capabilities --capabilities (a–f) and the built-in handlers is sent one task for
    each subset of its capabilities (2^6 = 64) for each of --types (3 → 192 routes), by the batch API; once
    every task is final, and the worker's connection count has held still for 2 s:
    - "Redis connections": the worker's clients in CLIENT LIST, before any task arrived and after; a client is
      the worker's when its address is one of the worker process's own sockets (/proc/<pid>/fd and
      /proc/<pid>/net/tcp), else (Redis elsewhere) by name. Split by name: "worker" (taskfleet-worker-<id>,
      its command connection, and -producer), "bullmq" (BullMQ's blocking duplicates, which it renames
      <prefix>:<queue>), "other".
    - "worker RSS": VmRSS of /proc/<pid>/status, MiB, at the same two moments.
  placement: a fleet like \`taskfleet dev\`'s (worker-general with no capabilities × 8, worker-files [fs] × 4,
    worker-gpu [gpu,cuda] × 2) is sent --placement-tasks generic tasks (type echo, no requirements), one at a
    time at --placement-rate a second, far below what the general worker alone can run, after one warm-up task
    and 2.5 s (so that the supervisor's view of the pools is warm; that task is left out of the figures);
    - "share on general": of the tasks that started while worker-general ran fewer than 8 other tasks (from
      each task's agent and started/finished times in the store), the share that ran on worker-general.
      Placing generic work on the tightest pool would make it 100 %.
    - "submit → start": p50 and p99 of each task's createdAt → startedAt in the store (whole ms), since
      placement is on the hot path;
    - "tasks by worker": where they all ran (median per worker).
Example: npm run bench:shape -- --runs 5`;

const wholeNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function parseShapeOptions(argv: string[]): ShapeOptions {
  return new Command('npm run bench:shape --')
    .description('Redis connections and memory of a worker across routes, and where generic tasks run')
    .option('--runs <n>', 'fresh fleets per measurement (figures are medians)', wholeNumber('--runs'), 3)
    .option('--capabilities <list>', "the routes worker's capabilities", list, ['a', 'b', 'c', 'd', 'e', 'f'])
    .option('--types <list>', 'the task types sent to it (built-in handlers)', list, ['echo', 'sleep', 'fail'])
    .option('--concurrency <n>', "the routes worker's concurrency", wholeNumber('--concurrency'), 8)
    .option('--placement-tasks <n>', 'generic tasks per placement run', wholeNumber('--placement-tasks'), 200)
    .option('--placement-rate <n>', 'generic tasks submitted per second', wholeNumber('--placement-rate'), 20)
    .option('--json <file>', 'where to write the figures (default bench-results/shape-<date>.json)')
    .option('--redis-url <url>', 'the Redis to use (a private key prefix on it)', 'redis://127.0.0.1:6379')
    .addHelpText('after', HELP)
    .parse(argv)
    .opts<ShapeOptions>();
}

const WARM_UP_MS = 2_500;

const PAYLOADS: Record<string, unknown> = { echo: {}, sleep: { ms: 0 }, fail: { times: 0 } };

interface RoutesRun {
  routes: number;
  before: { connections: WorkerConnections; rssMb: number };
  after: { connections: WorkerConnections; rssMb: number };
  finished: Record<string, number>;
}

async function routesRun(o: ShapeOptions, run: number): Promise<RoutesRun> {
  const fleet = new ShapeFleet(o.redisUrl, `${run}-routes`);
  const id = 'shape-routes';
  try {
    await fleet.start([{ id, capabilities: o.capabilities, concurrency: o.concurrency }]);
    const before = await fleet.settled(id);
    const tasks = routeTasks(o.types, o.capabilities, (t) => PAYLOADS[t] ?? {});
    await fleet.submitBatch(tasks);
    await fleet.waitFinished(tasks.length);
    const after = await fleet.settled(id);
    const finished: Record<string, number> = {};
    for (const t of fleet.tasks()) finished[t.status] = (finished[t.status] ?? 0) + 1;
    return { routes: tasks.length, before, after, finished };
  } finally {
    await fleet.stop();
  }
}

interface PlacementRun extends Placement {
  /** Submit → start of the generic tasks, ms (the store's millisecond times). */
  startMs: Percentiles;
}

async function placementRun(o: ShapeOptions, run: number): Promise<PlacementRun> {
  const fleet = new ShapeFleet(o.redisUrl, `${run}-placement`);
  try {
    await fleet.start(DEV_WORKERS);
    // One task first, then a wait, so that the figure is placement and not the fleet's start (before pools,
    // every worker learnt a route within TASKFLEET_ROUTE_REFRESH_MS of its first task).
    await fleet.submitOne({ type: 'echo', payload: { warmUp: true } });
    await fleet.waitFinished(1);
    await sleep(WARM_UP_MS);
    const t0 = Date.now();
    for (let i = 0; i < o.placementTasks; i++) {
      if (interruption.requested) throw new Error('interrupted');
      const wait = t0 + (i * 1000) / o.placementRate - Date.now();
      if (wait > 0) await sleep(wait);
      await fleet.submitOne({ type: 'echo', payload: { i } });
    }
    await fleet.waitFinished(o.placementTasks + 1);
    const general = DEV_WORKERS.find((w) => w.capabilities.length === 0)!;
    const tasks = fleet.tasks().filter((t) => t.createdAt >= t0);
    const startMs = percentiles(tasks.flatMap((t) => (t.startedAt === null ? [] : [t.startedAt - t.createdAt])));
    return { ...placementShare(tasks, general.id, general.concurrency), startMs };
  } finally {
    await fleet.stop();
  }
}

const mib = (x: number) => x.toFixed(1);
const show = (f: Figure, fmt: (x: number) => string = String) =>
  `${fmt(f.median)} (min ${fmt(f.min)}, max ${fmt(f.max)})`;

async function main(): Promise<void> {
  const o = parseShapeOptions(process.argv);
  if (!(await redisAnswers(o.redisUrl))) throw new Error(`no Redis answers at ${o.redisUrl} (--redis-url)`);
  const loadBefore = os.loadavg();
  const routes: RoutesRun[] = [];
  const placement: PlacementRun[] = [];
  for (let run = 1; run <= o.runs && !interruption.requested; run++) {
    console.error(`bench:shape: run ${run} of ${o.runs}: routes`);
    routes.push(await routesRun(o, run));
    console.error(`bench:shape: run ${run} of ${o.runs}: placement`);
    placement.push(await placementRun(o, run));
  }
  if (interruption.requested) {
    process.exitCode = 130;
    return;
  }
  const agents = [...new Set(placement.flatMap((p) => Object.keys(p.byAgent)))].sort();
  const figures = {
    routes: routes[0]?.routes ?? 0,
    connectionsBefore: figure(routes.map((r) => r.before.connections.total)),
    connectionsAfter: figure(routes.map((r) => r.after.connections.total)),
    bullmqConnectionsAfter: figure(routes.map((r) => r.after.connections.bullmq)),
    rssBeforeMb: figure(routes.map((r) => r.before.rssMb)),
    rssAfterMb: figure(routes.map((r) => r.after.rssMb)),
    placementShareOnGeneral: figure(placement.map((p) => p.share)),
    placementWithRoom: figure(placement.map((p) => p.withRoom)),
    placementStartP50Ms: figure(placement.map((p) => p.startMs.p50)),
    placementStartP99Ms: figure(placement.map((p) => p.startMs.p99)),
    tasksByWorker: Object.fromEntries(agents.map((a) => [a, figure(placement.map((p) => p.byAgent[a] ?? 0))])),
  };
  const date = new Date().toISOString();
  const caps = o.capabilities.join(',');
  console.log(
    `\ntaskfleet fleet-shape benchmark, ${date}: ${os.cpus().length} cores, Node ${process.version}, ${o.runs} runs`,
  );
  console.log(
    `routes: one worker [${caps}] × concurrency ${o.concurrency}, ${figures.routes} routes (${o.types.join(', ')} × ${2 ** o.capabilities.length} capability subsets)`,
  );
  console.log(
    `  Redis connections, before any task → after: ${show(figures.connectionsBefore)} → ${show(figures.connectionsAfter)}; BullMQ's after: ${show(figures.bullmqConnectionsAfter)}`,
  );
  console.log(`  worker RSS MiB, before → after: ${show(figures.rssBeforeMb, mib)} → ${show(figures.rssAfterMb, mib)}`);
  console.log(`placement: taskfleet dev's fleet, ${o.placementTasks} generic echo tasks at ${o.placementRate}/s`);
  console.log(
    `  share on worker-general while it had a free slot: ${show(figures.placementShareOnGeneral, (x) => `${(x * 100).toFixed(1)} %`)} of ${show(figures.placementWithRoom)} tasks`,
  );
  console.log(
    `  submit → start ms, p50 / p99: ${show(figures.placementStartP50Ms)} / ${show(figures.placementStartP99Ms)}`,
  );
  console.log(`  tasks by worker: ${agents.map((a) => `${a} ${figures.tasksByWorker[a]!.median}`).join(', ')}`);
  const file = path.resolve(
    o.json ?? path.join(PACKAGE_ROOT, 'bench-results', `shape-${date.replace(/[:.]/g, '-')}.json`),
  );
  mkdirSync(path.dirname(file), { recursive: true });
  const report = {
    date,
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg(),
    },
    settings: o,
    figures,
    runs: { routes, placement },
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`figures written to ${file}`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interruption.requested) return void cleanupAll().finally(() => process.exit(130));
    interruption.requested = true;
    console.error(`\nbench:shape: ${sig}: stopping every process and removing the benchmark's keys and files`);
  });
}
process.on('exit', killAllSync);

main()
  .catch((err: unknown) => {
    console.error(`bench:shape: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().then(() => process.exit()));
