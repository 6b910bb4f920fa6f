/**
 * `npm run bench:agents`: agents in any language (issue 16), measured on real fleets (supervisor processes,
 * a fresh SQLite store, a private key prefix on the shared Redis): how soon a waiting claim long poll hears of
 * a new task, and how many no-op tasks a second one Python agent and one Node worker run. `--help` says what
 * each figure is.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { BenchAgent, claimLatency, type ClaimLatency } from './agentsClaim';
import { AGENT_PREFIX, AgentsFleet, type AgentKind } from './agentsFleet';
import { clockTicksPerSecond, cpuPerTask, localRedisPid, takeCpuSnapshot } from './cpu';
import { cleanupAll, killAllSync } from './processes';
import { fmt } from './report';
import { figure, interruption, waitUntil, wallMs, type Figure } from './stats';

interface AgentsOptions {
  samples: number;
  pauseMs: number;
  cross: boolean;
  tasks: number;
  batch: number;
  concurrency: number;
  runs: number;
  json?: string;
  cpuProf?: string;
  redisUrl: string;
}

const HELP = `
Figures:
  submit → claim answered (idle fleet): the benchmark registers as an HTTP agent (type echo, heartbeats every
    heartbeatMs) and, --samples times: sends a claim long poll (waitSeconds 30), waits --pause-ms so that the
    claim is waiting, submits one echo task (POST /v1/tasks), and times from just before the submit is sent
    to the arrival of the claim's answer; then completes the task. p50 / p99 / max in ms, after 3 warm-up
    rounds. Then the same with a second supervisor process on the same store and Redis started, the claim
    held on the first and the task submitted to the second (the work doorbell crosses by Redis pub/sub);
    --no-cross leaves that out.
  no-op throughput: one agent with --concurrency slots serving type echo: the Python agent
    (python3 examples/python/agent.py) or a Node worker (taskfleet worker, built-in echo handler), each on a
    fresh fleet. After one warm-up task, --tasks echo tasks are submitted in batches of --batch while it runs;
    tasks/s is from just before the first submit to the last finish time in the store (read every 50 ms from
    the store, no request per task). Runs interleave (python, node, python, node, …), --runs of each: median
    (min–max). Also CPU ms per task of the agent process and the supervisor (/proc utime + stime).
  The per-key rate limit is raised for the whole benchmark: the agents are measured, not the limit.
Example: npm run bench:agents -- --samples 100 --runs 1 --json /tmp/agents.json`;

const wholeNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

function parseOptions(argv: string[]): AgentsOptions {
  return new Command('npm run bench:agents --')
    .description('submit → claim answered for an HTTP agent, and no-op tasks/s of one Python agent and one Node worker')
    .option('--samples <n>', 'claim latency samples per measurement', wholeNumber('--samples'), 300)
    .option('--pause-ms <n>', 'from sending a claim to submitting its task', wholeNumber('--pause-ms'), 50)
    .option('--no-cross', 'leave out the submit sent to a second supervisor')
    .option('--tasks <n>', 'echo tasks per throughput run', wholeNumber('--tasks'), 3000)
    .option('--batch <n>', 'tasks per batch submit (≤ 1000)', wholeNumber('--batch'), 500)
    .option('--concurrency <n>', 'slots of the measured agent', wholeNumber('--concurrency'), 8)
    .option('--runs <n>', 'throughput runs of each agent (figures are medians)', wholeNumber('--runs'), 3)
    .option('--json <file>', 'also write the figures and every run to this file')
    .option('--cpu-prof <dir>', 'run the supervisors under node --cpu-prof, profiles into this folder')
    .option('--redis-url <url>', 'the Redis to use (a private key prefix on it)', 'redis://127.0.0.1:6379')
    .addHelpText('after', HELP)
    .parse(argv)
    .opts<AgentsOptions>();
}

interface LatencyFigures {
  oneSupervisor: ClaimLatency;
  acrossSupervisors: ClaimLatency | null;
}

async function latencyPhase(o: AgentsOptions): Promise<LatencyFigures> {
  const fleet = new AgentsFleet(o.redisUrl, 'claim', o.cpuProf);
  try {
    await fleet.addSupervisor();
    const agent = new BenchAgent(fleet.agentApi(0), `${AGENT_PREFIX}claim`);
    await agent.register();
    try {
      console.error(`bench:agents: submit → claim answered, ${o.samples} samples, one supervisor`);
      const oneSupervisor = await claimLatency(agent, fleet.supervisor(0).api, o.samples, o.pauseMs);
      let acrossSupervisors: ClaimLatency | null = null;
      if (o.cross) {
        console.error(`bench:agents: submit → claim answered, ${o.samples} samples, submitted to a second supervisor`);
        const second = await fleet.addSupervisor();
        acrossSupervisors = await claimLatency(agent, second.api, o.samples, o.pauseMs);
      }
      return { oneSupervisor, acrossSupervisors };
    } finally {
      await agent.stop();
    }
  } finally {
    await fleet.stop();
  }
}

interface ThroughputRun {
  kind: AgentKind;
  tasks: number;
  seconds: number;
  perSecond: number;
  /** CPU ms per task of the agent's process and of the supervisor's. */
  agentCpuMs: number;
  supervisorCpuMs: number;
}

async function throughputRun(
  o: AgentsOptions,
  kind: AgentKind,
  run: number,
  redisPid?: number,
): Promise<ThroughputRun> {
  const fleet = new AgentsFleet(o.redisUrl, `${run}-${kind}`, o.cpuProf);
  try {
    const supervisor = await fleet.addSupervisor();
    const agent = await fleet.startAgent(kind, `${AGENT_PREFIX}${kind}-${run}`, o.concurrency);
    // One task first: the supervisor learns the agent's pool and the agent opens its connections.
    await fleet.submitBatch([{ type: 'echo', payload: {} }]);
    await waitUntil(() => fleet.succeeded().n >= 1, 'the warm-up task', 60_000, 20);
    const processes = { producer: supervisor.child.pid, workers: [agent.child.pid!], usesRedis: true };
    const before = takeCpuSnapshot(processes, redisPid);
    const t0 = wallMs();
    for (let done = 0; done < o.tasks; done += o.batch) {
      if (interruption.requested) throw new Error('interrupted');
      const n = Math.min(o.batch, o.tasks - done);
      await fleet.submitBatch(Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { i: done + i } })));
    }
    await waitUntil(
      () => {
        if (agent.child.exitCode !== null) throw new Error(`${kind} agent exited: ${agent.output()}`);
        return fleet.succeeded().n >= o.tasks + 1;
      },
      `${o.tasks} tasks to succeed (${JSON.stringify(fleet.statuses())})`,
      300_000,
      50,
    );
    const cpu = cpuPerTask(before, takeCpuSnapshot(processes, redisPid), o.tasks, clockTicksPerSecond());
    const seconds = (fleet.succeeded().lastFinishedAt! - t0) / 1000;
    return {
      kind,
      tasks: o.tasks,
      seconds,
      perSecond: o.tasks / seconds,
      agentCpuMs: cpu.workersUs[0]! / 1000,
      supervisorCpuMs: cpu.producerUs / 1000,
    };
  } finally {
    await fleet.stop();
  }
}

interface ThroughputFigures {
  perSecond: Figure;
  agentCpuMs: Figure;
  supervisorCpuMs: Figure;
}

const throughputOf = (runs: ThroughputRun[]): ThroughputFigures => ({
  perSecond: figure(runs.map((r) => r.perSecond)),
  agentCpuMs: figure(runs.map((r) => r.agentCpuMs)),
  supervisorCpuMs: figure(runs.map((r) => r.supervisorCpuMs)),
});

const spread = (f: Figure, digits: number) =>
  f.runs.length > 1 ? `${fmt(f.median, digits)} (${fmt(f.min, digits)}–${fmt(f.max, digits)})` : fmt(f.median, digits);

function print(o: AgentsOptions, latency: LatencyFigures, throughput: Record<AgentKind, ThroughputFigures>): void {
  const row = (name: string, l: ClaimLatency | null) =>
    l
      ? `  ${name.padEnd(34)} ${[l.claim.p50, l.claim.p99, l.claim.max].map((v) => fmt(v, 2).padStart(8)).join('')}` +
        `   (the submit's own answer: p50 ${fmt(l.submit.p50, 2)})`
      : `  ${name.padEnd(34)} not measured`;
  console.log(`submit → claim answered, idle fleet, ms (${o.samples} samples)      p50     p99     max`);
  console.log(row('submitted to the claim’s supervisor', latency.oneSupervisor));
  console.log(row('submitted to a second supervisor', latency.acrossSupervisors));
  console.log(
    `no-op throughput, one agent × concurrency ${o.concurrency}, ${o.tasks} echo tasks in batches of ${o.batch}, ` +
      `${o.runs} runs each: median (min–max)`,
  );
  console.log(`  ${'agent'.padEnd(34)} ${'tasks/s'.padEnd(22)} ${'CPU ms/task: agent'.padEnd(22)} supervisor`);
  for (const [kind, t] of Object.entries(throughput)) {
    const name = kind === 'python' ? 'Python agent (HTTP)' : 'Node worker (SQL + BullMQ)';
    console.log(
      `  ${name.padEnd(34)} ${spread(t.perSecond, 0).padEnd(22)} ${spread(t.agentCpuMs, 2).padEnd(22)} ` +
        spread(t.supervisorCpuMs, 2),
    );
  }
}

function pythonVersion(): string {
  try {
    return execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'no python3';
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  if (o.batch > 1000) throw new InvalidArgumentError('--batch must be ≤ 1000 (the batch API takes 1000 at most)');
  if (!(await redisAnswers(o.redisUrl))) throw new Error(`no Redis answers at ${o.redisUrl} (--redis-url)`);
  const loadAverageBefore = os.loadavg();
  const latency = await latencyPhase(o);
  const redisPid = await localRedisPid(o.redisUrl);
  const runs: ThroughputRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const kind of ['python', 'node'] as const) {
      if (interruption.requested) throw new Error('interrupted');
      console.error(`bench:agents: throughput run ${run} of ${o.runs}: ${kind}`);
      runs.push(await throughputRun(o, kind, run, redisPid));
    }
  }
  const throughput = {
    python: throughputOf(runs.filter((r) => r.kind === 'python')),
    node: throughputOf(runs.filter((r) => r.kind === 'node')),
  };
  const date = new Date().toISOString();
  const machine = {
    cpus: os.cpus().length,
    node: process.version,
    python: pythonVersion(),
    loadAverageBefore,
    loadAverageAfter: os.loadavg(),
  };
  console.log(
    `\ntaskfleet agents benchmark, ${date}: ${machine.cpus} cores, Node ${machine.node}, ${machine.python}, ` +
      `load average ${loadAverageBefore.map((l) => l.toFixed(2)).join(' ')} before`,
  );
  print(o, latency, throughput);
  if (o.json) {
    const file = path.resolve(o.json);
    writeFileSync(file, `${JSON.stringify({ date, machine, settings: o, latency, throughput, runs }, null, 2)}\n`);
    console.log(`figures written to ${file}`);
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interruption.requested) return void cleanupAll().finally(() => process.exit(130));
    interruption.requested = true;
    console.error(`\nbench:agents: ${sig}: stopping every process and removing the benchmark's keys and files`);
  });
}
process.on('exit', killAllSync);

main()
  .catch((err: unknown) => {
    if (interruption.requested) process.exitCode = 130;
    else {
      console.error(`bench:agents: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  })
  .finally(() => cleanupAll().then(() => process.exit()));
