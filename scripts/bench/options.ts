/** The benchmark's command line: `npm run bench -- [options]` (`--help` lists them). */
import { Command, InvalidArgumentError } from 'commander';

export interface Options {
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
  baseline?: string;
  sqliteSynchronous: 'full' | 'normal';
  redisUrl: string;
  postgresUrl: string;
}

const wholeNumber =
  (name: string, min = 1) =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}`);
    return n;
  };

const CPU_HELP = `
CPU per task (rows "CPU µs/task"): each process's CPU time (utime + stime from /proc/<pid>/stat, every thread,
in clock ticks of getconf CLK_TCK) read before and after a phase, divided by the phase's tasks; the median over
the runs, with min and max.
  - live: the phase "workers running while tasks arrive", from the first submit to the last completion;
  - drain: "submit all, then drain"; the workers start during it, so their start-up is included (the row
    "worker start-up CPU" gives it alone: from spawn to registered, for the run's first workers).
Roles: taskfleet's supervisor, or a peer's producer (this benchmark process, whose client submits the tasks);
each worker process; Redis, the whole server (process_id of INFO server, counted only when it runs on this
machine), so it also counts anything else using that Redis at the time; total, their sum. PostgreSQL's CPU is
not read: the totals of pg-boss and graphile-worker leave their database out.

Two builds side by side: --baseline <dir> runs another checkout of taskfleet (with \`npm ci\` and
\`npm run build\` done there) as one more system, taskfleet@baseline, in the same interleaved runs (the two
builds swap places every other run), with this checkout's no-op handler and the same settings (with
--cpu-prof <prof>, the baseline's profiles go to <prof>/baseline). The line
"taskfleet ÷ taskfleet@baseline" gives the ratios of each run paired with the other build's same run.
Example: npm run bench -- --no-peers --no-queries --runs 5 --baseline ../main`;

export function parseOptions(argv: string[]): Options {
  return new Command('npm run bench --')
    .description('taskfleet end to end beside raw BullMQ, pg-boss and graphile-worker, on this machine')
    .option(
      '--tasks <n>',
      'no-op tasks per throughput measurement (at least 20,000 for published figures)',
      wholeNumber('--tasks'),
      20_000,
    )
    .option(
      '--slow-tasks <n>',
      'tasks for configurations that poll slowly (pg-boss at its defaults)',
      wholeNumber('--slow-tasks'),
      1_000,
    )
    .option('--runs <n>', 'runs of every system (figures are medians over runs)', wholeNumber('--runs'), 3)
    .option('--workers <n>', 'worker processes per system', wholeNumber('--workers'), 2)
    .option('--concurrency <n>', 'concurrency of each worker process', wholeNumber('--concurrency'), 50)
    .option('--latency-samples <n>', 'single tasks on the idle fleet per run', wholeNumber('--latency-samples'), 300)
    .option('--rate <n>', 'single submits per second in the steady-rate measurement', wholeNumber('--rate'), 1_000)
    .option('--rate-seconds <n>', 'length of the steady-rate measurement, seconds', wholeNumber('--rate-seconds'), 3)
    .option(
      '--seed-tasks <n>',
      'tasks in the seeded store for the query timings',
      wholeNumber('--seed-tasks'),
      1_000_000,
    )
    .option('--seed-file <path>', 'reuse this seeded SQLite file when it exists (else seed it there and keep it)')
    .option('--no-queries', 'skip the seeded-store query timings')
    .option('--no-peers', 'measure taskfleet only')
    .option('--no-progress', 'no progress bar')
    .option('--cpu-prof <dir>', "run taskfleet's supervisor and workers under node --cpu-prof, profiles into <dir>")
    .option(
      '--baseline <dir>',
      'also run the taskfleet build of another checkout (built) as the system taskfleet@baseline (see below)',
    )
    .option(
      '--sqlite-synchronous <mode>',
      "taskfleet's TASKFLEET_SQLITE_SYNCHRONOUS: full (fsync every commit, the default) or normal",
      (value: string) => {
        if (value !== 'full' && value !== 'normal') throw new InvalidArgumentError('must be full or normal');
        return value;
      },
      'full',
    )
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
    .addHelpText('after', CPU_HELP)
    .parse(argv)
    .opts<Options>();
}
