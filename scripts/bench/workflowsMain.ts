/**
 * `npm run bench:workflows`: workflows (issue 19) on a real fleet (a supervisor process, a fresh SQLite store, a
 * private key prefix on the shared Redis, worker processes): how many workflows of five no-op steps a second
 * the fleet completes, and, on an idle fleet, how soon a step starts after the step it needs finished. `--help`
 * says what each figure is.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { clockTicksPerSecond, cpuPerTask, localRedisPid, takeCpuSnapshot } from './cpu';
import { cleanupAll, killAllSync } from './processes';
import { fmt } from './report';
import { figure, interruption, percentiles, waitUntil, wallMs, type Figure, type Percentiles } from './stats';
import { WorkflowsFleet, workflowOf, type WorkflowShape } from './workflowsFleet';

interface WorkflowsOptions {
  workflows: number;
  shape: WorkflowShape;
  workers: number;
  concurrency: number;
  clients: number;
  runs: number;
  samples: number;
  json?: string;
  redisUrl: string;
}

const HELP = `
Figures:
  throughput: on a fresh fleet (one supervisor process, --workers worker processes of --concurrency slots with
    the built-in echo handler), --workflows workflows of five echo steps (--shape diamond: a → b, c, d → e;
    chain: a → b → c → d → e) are submitted over HTTP (POST /v1/workflows) by --clients concurrent clients.
    workflows/s is from just before the first submit to the last workflow's finish time in the store (read
    every 50 ms, no request per workflow); steps/s is five times that. Also the CPU ms per workflow of the
    supervisor, of the workers together and of Redis when it runs on this machine (/proc utime + stime). --runs fresh fleets: median (min–max).
  step → next step (idle fleet): on one more fresh fleet, chains of five echo steps are submitted one at a
    time, each after the previous one ended; each link (a → b, b → c, …) is a sample: from the finish time of
    the needed step's task to the start time of the next step's task (both as the store recorded them, in ms).
    --samples samples (rounded up to whole chains), after one warm-up chain; p50 / p99 / max.
Example: npm run bench:workflows -- --workflows 200 --runs 1 --samples 100 --json /tmp/workflows.json`;

const wholeNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

function parseOptions(argv: string[]): WorkflowsOptions {
  return new Command('npm run bench:workflows --')
    .description('workflows of five no-op steps per second, and step → next step latency on an idle fleet')
    .option('--workflows <n>', 'workflows per throughput run', wholeNumber('--workflows'), 500)
    .option(
      '--shape <shape>',
      'diamond or chain',
      (v) => {
        if (v !== 'diamond' && v !== 'chain') throw new InvalidArgumentError('--shape must be diamond or chain');
        return v;
      },
      'diamond',
    )
    .option('--workers <n>', 'worker processes', wholeNumber('--workers'), 2)
    .option('--concurrency <n>', 'slots of each worker', wholeNumber('--concurrency'), 16)
    .option('--clients <n>', 'concurrent submitting clients', wholeNumber('--clients'), 8)
    .option('--runs <n>', 'throughput runs (figures are medians)', wholeNumber('--runs'), 3)
    .option('--samples <n>', 'step → next step samples on the idle fleet', wholeNumber('--samples'), 200)
    .option('--json <file>', 'also write the figures and every run to this file')
    .option('--redis-url <url>', 'the Redis to use (a private key prefix on it)', 'redis://127.0.0.1:6379')
    .addHelpText('after', HELP)
    .parse(argv)
    .opts<WorkflowsOptions>();
}

interface ThroughputRun {
  workflows: number;
  seconds: number;
  submitSeconds: number;
  perSecond: number;
  supervisorCpuMs: number;
  workersCpuMs: number;
  /** NaN when Redis is not on this machine. */
  redisCpuMs: number;
}

async function throughputRun(o: WorkflowsOptions, run: number, redisPid?: number): Promise<ThroughputRun> {
  const fleet = new WorkflowsFleet(o.redisUrl, `run${run}`);
  try {
    await fleet.start(o.workers, o.concurrency);
    // One workflow first: the supervisor learns the workers' pool and every process opens its connections.
    const warm = await fleet.submit(workflowOf(o.shape, -1));
    await waitUntil(() => fleet.stateOf(warm) === 'succeeded', 'the warm-up workflow', 60_000, 20);
    const pids = fleet.pids;
    const processes = { producer: pids.supervisor, workers: pids.workers, usesRedis: true };
    const before = takeCpuSnapshot(processes, redisPid);
    const t0 = wallMs();
    let next = 0;
    const client = async () => {
      for (let i = next++; i < o.workflows; i = next++) {
        if (interruption.requested) throw new Error('interrupted');
        await fleet.submit(workflowOf(o.shape, i));
      }
    };
    await Promise.all(Array.from({ length: o.clients }, client));
    const submitSeconds = (wallMs() - t0) / 1000;
    await waitUntil(
      () => fleet.succeeded().n >= o.workflows + 1,
      `${o.workflows} workflows to succeed (${JSON.stringify(fleet.states())})`,
      600_000,
      50,
    );
    const cpu = cpuPerTask(before, takeCpuSnapshot(processes, redisPid), o.workflows, clockTicksPerSecond());
    const seconds = (fleet.succeeded().lastFinishedAt! - t0) / 1000;
    return {
      workflows: o.workflows,
      seconds,
      submitSeconds,
      perSecond: o.workflows / seconds,
      supervisorCpuMs: cpu.producerUs / 1000,
      workersCpuMs: cpu.workersUs.reduce((a, b) => a + b, 0) / 1000,
      redisCpuMs: cpu.redisUs / 1000,
    };
  } finally {
    await fleet.stop();
  }
}

const LINKS: Array<[string, string]> = [
  ['a', 'b'],
  ['b', 'c'],
  ['c', 'd'],
  ['d', 'e'],
];

/** Step → next step latency, ms: chains submitted one at a time on an idle fleet. */
async function stepLatency(o: WorkflowsOptions): Promise<Percentiles> {
  const fleet = new WorkflowsFleet(o.redisUrl, 'latency');
  const samples: number[] = [];
  try {
    await fleet.start(o.workers, o.concurrency);
    const chains = 1 + Math.ceil(o.samples / LINKS.length);
    for (let i = 0; i < chains; i++) {
      const id = await fleet.submit(workflowOf('chain', i));
      await waitUntil(
        () => {
          const state = fleet.stateOf(id);
          if (state !== 'running' && state !== 'succeeded') throw new Error(`workflow ${id} is ${state}`);
          return state === 'succeeded';
        },
        `chain ${i} to succeed`,
        60_000,
        5,
      );
      if (i === 0) continue; // the warm-up chain
      const times = fleet.stepTimes(id);
      for (const [from, to] of LINKS) samples.push(times.get(to)!.startedAt - times.get(from)!.finishedAt);
    }
    return percentiles(samples);
  } finally {
    await fleet.stop();
  }
}

const spread = (f: Figure, digits: number) =>
  f.runs.length > 1 ? `${fmt(f.median, digits)} (${fmt(f.min, digits)}–${fmt(f.max, digits)})` : fmt(f.median, digits);

function print(o: WorkflowsOptions, runs: ThroughputRun[], latency: Percentiles): void {
  const perSecond = figure(runs.map((r) => r.perSecond));
  console.log(
    `throughput: ${o.workflows} workflows of 5 echo steps (${o.shape}), ${o.workers} workers × concurrency ` +
      `${o.concurrency}, ${o.clients} clients, ${o.runs} runs: median (min–max)`,
  );
  console.log(`  workflows/s        ${spread(perSecond, 1)}`);
  console.log(`  steps/s            ${spread(figure(runs.map((r) => r.perSecond * 5)), 0)}`);
  console.log(`  submit phase, s    ${spread(figure(runs.map((r) => r.submitSeconds)), 2)}`);
  console.log(
    `  CPU ms/workflow    supervisor ${spread(figure(runs.map((r) => r.supervisorCpuMs)), 2)}, ` +
      `workers (all) ${spread(figure(runs.map((r) => r.workersCpuMs)), 2)}, ` +
      `Redis ${spread(figure(runs.map((r) => r.redisCpuMs)), 2)}`,
  );
  console.log(
    `step → next step start, idle fleet, ms (${latency.samples} samples): p50 ${fmt(latency.p50, 0)}, ` +
      `p99 ${fmt(latency.p99, 0)}, max ${fmt(latency.max, 0)}`,
  );
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  if (!(await redisAnswers(o.redisUrl))) throw new Error(`no Redis answers at ${o.redisUrl} (--redis-url)`);
  const loadAverageBefore = os.loadavg();
  const redisPid = await localRedisPid(o.redisUrl);
  const runs: ThroughputRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    if (interruption.requested) throw new Error('interrupted');
    console.error(`bench:workflows: throughput run ${run} of ${o.runs}`);
    runs.push(await throughputRun(o, run, redisPid));
  }
  console.error(`bench:workflows: step → next step, ${o.samples} samples on an idle fleet`);
  const latency = await stepLatency(o);
  const date = new Date().toISOString();
  const machine = { cpus: os.cpus().length, node: process.version, loadAverageBefore, loadAverageAfter: os.loadavg() };
  console.log(
    `\ntaskfleet workflows benchmark, ${date}: ${machine.cpus} cores, Node ${machine.node}, load average ` +
      `${loadAverageBefore.map((l) => l.toFixed(2)).join(' ')} before, ` +
      `${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(' ')} after`,
  );
  print(o, runs, latency);
  if (o.json) {
    const file = path.resolve(o.json);
    writeFileSync(file, `${JSON.stringify({ date, machine, settings: o, runs, latency }, null, 2)}\n`);
    console.log(`figures written to ${file}`);
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interruption.requested) return void cleanupAll().finally(() => process.exit(130));
    interruption.requested = true;
    console.error(`\nbench:workflows: ${sig}: stopping every process and removing the benchmark's keys and files`);
  });
}
process.on('exit', killAllSync);

main()
  .catch((err: unknown) => {
    if (interruption.requested) process.exitCode = 130;
    else {
      console.error(`bench:workflows: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  })
  .finally(() => cleanupAll().then(() => process.exit()));
