import {
  clockTicksPerSecond,
  cpuPerTask,
  cpuTicksOf,
  parseProcStatTicks,
  workerStartupMs,
  type CpuSnapshot,
} from '../../scripts/bench/cpu';
import { compareWithBaseline, type RunFigures } from '../../scripts/bench/figures';

/** A /proc/<pid>/stat line with the given name, utime and stime (fields 14 and 15). */
const statLine = (name: string, utime: number, stime: number) =>
  `4242 (${name}) S 1 4242 4242 0 -1 4194560 9000 0 3 0 ${utime} ${stime} 0 0 20 0 11 0 777 1234567 8901`;

describe('parseProcStatTicks', () => {
  it('adds utime and stime', () => {
    expect(parseProcStatTicks(statLine('node', 1500, 230))).toBe(1730);
  });

  it('counts fields from the last parenthesis, whatever the command name holds', () => {
    expect(parseProcStatTicks(statLine('MainThread) R 9 (x', 40, 2))).toBe(42);
    expect(parseProcStatTicks(statLine('redis server', 7, 5))).toBe(12);
  });

  it('is NaN for text that is not a stat line', () => {
    expect(parseProcStatTicks('')).toBeNaN();
    expect(parseProcStatTicks('4242 (node) S 1 2')).toBeNaN();
  });
});

describe('cpuTicksOf', () => {
  it("follows this process's CPU time as process.cpuUsage() sees it", () => {
    const ticksPerSecond = clockTicksPerSecond();
    const ticksBefore = cpuTicksOf(process.pid);
    const usageBefore = process.cpuUsage();
    let spent = 0;
    while (spent < 150_000) {
      for (let i = 0; i < 1e5; i++) Math.sqrt(i);
      const usage = process.cpuUsage(usageBefore);
      spent = usage.user + usage.system;
    }
    const usage = process.cpuUsage(usageBefore);
    const usageTicks = ((usage.user + usage.system) * ticksPerSecond) / 1e6;
    const ticks = cpuTicksOf(process.pid) - ticksBefore;
    // Each reading rounds down to a tick, and Jest's own threads also run meanwhile.
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(usageTicks) - 2);
    expect(ticks).toBeLessThanOrEqual(Math.ceil(usageTicks) + 5);
  });

  it('is NaN for a process that does not exist', () => {
    expect(cpuTicksOf(undefined)).toBeNaN();
    expect(cpuTicksOf(2 ** 30)).toBeNaN();
  });
});

const snap = (producer: number, workers: Array<[number, number]>, redis: number): CpuSnapshot => ({
  producer,
  workers: new Map(workers),
  redis,
});

describe('cpuPerTask', () => {
  it('gives µs per task of each role and their total', () => {
    const before = snap(
      1_000,
      [
        [11, 500],
        [12, 600],
      ],
      9_000,
    );
    const after = snap(
      1_080,
      [
        [11, 620],
        [12, 730],
      ],
      9_025,
    );
    // 1,000 tasks at 100 ticks/s: one tick is 10 ms, 10 µs per task.
    expect(cpuPerTask(before, after, 1_000, 100)).toEqual({
      producerUs: 800,
      workersUs: [1_200, 1_300],
      redisUs: 250,
      totalUs: 3_550,
    });
  });

  it('counts a worker started during the phase from zero, and leaves out one that stopped', () => {
    const before = snap(0, [[11, 500]], 0);
    const after = snap(10, [[21, 30]], 5);
    const cpu = cpuPerTask(before, after, 100, 100);
    expect(cpu.workersUs).toEqual([3_000]);
    expect(cpu.totalUs).toBe(1_000 + 3_000 + 500);
  });

  it('leaves Redis out of the total when it is not read', () => {
    const cpu = cpuPerTask(snap(0, [], NaN), snap(20, [], NaN), 200, 100);
    expect(cpu.redisUs).toBeNaN();
    expect(cpu.totalUs).toBe(1_000);
  });
});

describe('workerStartupMs', () => {
  it('is the mean CPU of the workers since they started, in ms', () => {
    expect(
      workerStartupMs(
        snap(
          0,
          [
            [1, 30],
            [2, 50],
          ],
          0,
        ),
        100,
      ),
    ).toBe(400);
    expect(workerStartupMs(snap(0, [], 0), 100)).toBeNaN();
  });
});

describe('compareWithBaseline', () => {
  const run = (n: number, live: number, supervisorUs: number, workersUs: number[]): RunFigures => {
    const cpu = { producerUs: supervisorUs, workersUs, redisUs: 25, totalUs: supervisorUs + 25 };
    return {
      run: n,
      live,
      drain: live * 2,
      batchSubmit: 0,
      single: { p50: 0, p99: 0, achievedRate: 0, errors: 0 },
      latency: {
        start: { p50: 0, p95: 0, p99: 0, max: 0, samples: 0 },
        complete: { p50: 0, p95: 0, p99: 0, max: 0, samples: 0 },
      },
      memory: { supervisorPeakMb: 0, workerPeakMb: 0, workerIdleMb: 0 },
      cpu: { live: cpu, drain: cpu, workerStartupMs: 0 },
    };
  };

  it('pairs each run with the same run of the baseline', () => {
    const current = [run(1, 1_100, 80, [100, 100]), run(2, 900, 90, [120, 130]), run(3, 1_000, 70, [90, 110])];
    const baseline = [run(2, 1_000, 100, [100, 150]), run(1, 1_000, 80, [100, 100])];
    const c = compareWithBaseline(current, baseline)!;
    expect(c.pairedRuns).toBe(2);
    expect(c.throughputLive.runs).toEqual([1.1, 0.9]);
    expect(c.throughputLive.median).toBeCloseTo(1.0);
    expect(c.cpuLive.supervisor.runs).toEqual([1, 0.9]);
    expect(c.cpuLive.workers.runs).toEqual([1, 1]);
    expect(c.cpuLive.redis.median).toBe(1);
  });

  it('is null when no run of one build has its twin in the other', () => {
    expect(compareWithBaseline([run(1, 1, 1, [1])], [run(2, 1, 1, [1])])).toBeNull();
    expect(compareWithBaseline([], [])).toBeNull();
  });
});
