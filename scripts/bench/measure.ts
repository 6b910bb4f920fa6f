/**
 * One run of one system: its fleet started on a fresh backend, each measurement in turn (see main.ts), and
 * the CPU time of its processes read around the two throughput phases.
 */
import cliProgress from 'cli-progress';
import { cpuPerTask, takeCpuSnapshot, workerStartupMs, type CpuPerTask } from './cpu';
import type { Driver } from './driver';
import type { RunFigures } from './figures';
import type { Options } from './options';
import { interruption, percentiles, sleep, waitUntil, wallMs } from './stats';

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

export class Progress {
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

/** Where the CPU time is read: the local Redis server's pid (when there is one) and the clock's tick. */
export interface CpuSettings {
  redisPid: number | undefined;
  ticksPerSecond: number;
}

/** What every measurement of one run needs. */
interface RunContext {
  driver: Driver;
  options: Options;
  progress: Progress;
  cpu: CpuSettings;
  /** Tasks per throughput phase, and the progress units each is worth (a slow system measures fewer). */
  tasks: number;
  weight: number;
}

async function submitAll({ driver, progress, tasks, weight }: RunContext): Promise<void> {
  let submitted = 0;
  await driver.submitBatches(tasks, (s) => {
    progress.add(((s - submitted) * weight) / 2);
    submitted = s;
  });
}

async function waitCompleted({ driver, progress, tasks, weight }: RunContext, what: string): Promise<void> {
  let last = 0;
  await waitUntil(
    async () => {
      const c = await driver.completed();
      progress.add(((c - last) * weight) / 2);
      last = c;
      return c >= tasks;
    },
    `${tasks} tasks of ${driver.label} (${what})`,
    900_000,
    50,
  );
  progress.add(((tasks - last) * weight) / 2);
}

const snapshot = ({ driver, cpu }: RunContext) => takeCpuSnapshot(driver.cpuProcesses(), cpu.redisPid);

async function idleLatency(ctx: RunContext): Promise<RunFigures['latency']> {
  const { driver } = ctx;
  const samples = driver.slow ? Math.min(10, ctx.options.latencySamples) : ctx.options.latencySamples;
  const start: number[] = [];
  const complete: number[] = [];
  for (let i = 0; i < samples; i++) {
    const s = await driver.latencySample();
    start.push(s.start);
    complete.push(s.complete);
    ctx.progress.add(driver.slow ? 200 : 5);
    await sleep(2);
  }
  const latency: RunFigures['latency'] = { start: percentiles(start), complete: percentiles(complete) };
  // Each waits out a 50 ms delay (or an outbox pass, up to 200 ms): fewer samples than the dispatch latency's.
  const few = Math.min(100, samples);
  if (driver.waitSample) latency.wait = percentiles(await oneAtATime(few, () => driver.waitSample!()));
  if (driver.webhookSample) latency.webhook = percentiles(await oneAtATime(few, () => driver.webhookSample!()));
  return latency;
}

async function oneAtATime(n: number, sample: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await sample());
    await sleep(2);
  }
  return out;
}

/** Workers running while the tasks arrive: first submit → last recorded completion. */
async function livePhase(ctx: RunContext): Promise<{ live: number; cpu: CpuPerTask }> {
  await ctx.driver.beginPhase();
  const before = snapshot(ctx);
  const t0 = wallMs();
  await submitAll(ctx);
  await waitCompleted(ctx, 'live');
  const after = snapshot(ctx);
  const window = await ctx.driver.window();
  return {
    live: ctx.tasks / ((window.lastEnd - t0) / 1000),
    cpu: cpuPerTask(before, after, ctx.tasks, ctx.cpu.ticksPerSecond),
  };
}

/** Submit all with no worker running (the batch-submit rate), then drain: first start → last completion. */
async function drainPhase(ctx: RunContext): Promise<{ drain: number; batchSubmit: number; cpu: CpuPerTask }> {
  await ctx.driver.beginPhase();
  const before = snapshot(ctx);
  const t1 = wallMs();
  await submitAll(ctx);
  const batchSubmit = ctx.tasks / ((wallMs() - t1) / 1000);
  await ctx.driver.startWorkers();
  await waitCompleted(ctx, 'drain');
  const after = snapshot(ctx);
  const window = await ctx.driver.window();
  return {
    drain: ctx.tasks / ((window.lastEnd - window.firstStart) / 1000),
    batchSubmit,
    cpu: cpuPerTask(before, after, ctx.tasks, ctx.cpu.ticksPerSecond),
  };
}

/** One run of one system. */
export async function measureRun(
  driver: Driver,
  run: number,
  options: Options,
  progress: Progress,
  cpu: CpuSettings,
): Promise<RunFigures> {
  const tasks = driver.slow ? Math.min(options.tasks, options.slowTasks) : options.tasks;
  const ctx: RunContext = { driver, options, progress, cpu, tasks, weight: driver.slow ? 50 : 1 };
  const label = `${driver.label}, run ${run}/${options.runs}`;

  progress.phase(`${label}: starting`);
  await driver.setup(run);
  try {
    await driver.startWorkers();
    const startup = workerStartupMs(snapshot(ctx), cpu.ticksPerSecond);
    for (let i = 0; i < 3; i++) await driver.latencySample(); // warm-up: routes, connections, JIT
    const idle = driver.memory().workers.map((m) => m.rssMb);

    progress.phase(`${label}: idle-fleet latency`);
    const latency = await idleLatency(ctx);

    progress.phase(`${label}: ${tasks} tasks, workers running while they arrive`);
    const live = await livePhase(ctx);
    await driver.stopWorkers();

    progress.phase(`${label}: ${tasks} tasks submitted, then drained`);
    const drain = await drainPhase(ctx);

    progress.phase(`${label}: single submits at ${options.rate}/s`);
    const single = await steadyRate(
      () => driver.submitOne(),
      options.rate,
      options.rateSeconds,
      () => progress.add(1),
    );

    const mem = driver.memory();
    return {
      run,
      live: live.live,
      drain: drain.drain,
      batchSubmit: drain.batchSubmit,
      single,
      latency,
      memory: {
        supervisorPeakMb: mem.supervisor?.peakMb ?? NaN,
        workerPeakMb: Math.max(...mem.workers.map((m) => m.peakMb)),
        workerIdleMb: Math.max(...idle),
      },
      cpu: { live: live.cpu, drain: drain.cpu, workerStartupMs: startup },
    };
  } finally {
    progress.phase(`${label}: stopping`);
    await driver.teardown();
  }
}
