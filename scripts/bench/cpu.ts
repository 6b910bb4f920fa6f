/**
 * CPU time per task of each process a system runs, read from /proc/<pid>/stat (utime + stime, in clock ticks)
 * before and after a phase. /proc/<pid>/stat sums every thread of the process (libuv's pool, V8's GC threads,
 * SQLite's checkpoint thread, Redis's I/O threads), so nothing a process spends on a task is left out; a tick
 * is 10 ms on Linux, so a phase of a few thousand tasks is exact to a few per cent.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** The processes whose CPU a phase counts: they are read at its start and at its end. */
export interface CpuProcesses {
  /** taskfleet's supervisor, or, for a peer, the producer (the benchmark process itself). */
  producer: number | undefined;
  workers: number[];
  /** Whether the system runs on the shared Redis, whose CPU then counts towards it. */
  usesRedis: boolean;
}

/** CPU ticks of each process at one moment; NaN where a process could not be read. */
export interface CpuSnapshot {
  producer: number;
  /** Worker pid → ticks. */
  workers: Map<number, number>;
  redis: number;
}

/** µs of CPU per task of each role over one phase. */
export interface CpuPerTask {
  producerUs: number;
  /** One figure per worker process, in the order they were started. */
  workersUs: number[];
  /** NaN when the system does not use Redis or Redis is not on this machine. */
  redisUs: number;
  /** Producer, workers and Redis (where it counts). */
  totalUs: number;
}

/**
 * utime + stime from the text of /proc/<pid>/stat. The second field (the command name, in parentheses) may
 * itself hold spaces and parentheses, so the fields are counted from the last `)`: utime and stime are
 * fields 14 and 15 of the line, the 12th and 13th after the name.
 */
export function parseProcStatTicks(stat: string): number {
  const end = stat.lastIndexOf(')');
  if (end < 0) return NaN;
  const fields = stat
    .slice(end + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isInteger(utime) && Number.isInteger(stime) ? utime + stime : NaN;
}

/** A process's CPU ticks so far (every thread); NaN when it has exited or /proc is not there. */
export function cpuTicksOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** Clock ticks per second (`getconf CLK_TCK`); 100, Linux's value everywhere, when getconf is missing. */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/**
 * The pid of the Redis server at `url` when it runs on this machine (`INFO server` names it, and this machine's
 * /proc shows a redis-server under that pid); undefined otherwise (a remote or containerised Redis), and its
 * CPU is then not counted.
 */
export async function localRedisPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pid = Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]);
    if (!Number.isInteger(pid)) return undefined;
    const command = readFileSync(`/proc/${pid}/comm`, 'utf8');
    return command.startsWith('redis') ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

export function takeCpuSnapshot(processes: CpuProcesses, redisPid: number | undefined): CpuSnapshot {
  return {
    producer: cpuTicksOf(processes.producer),
    workers: new Map(processes.workers.map((pid) => [pid, cpuTicksOf(pid)])),
    redis: processes.usesRedis ? cpuTicksOf(redisPid) : NaN,
  };
}

/**
 * µs per task between two snapshots of one phase. A worker missing from `before` was started during the
 * phase (submit all, then drain) and counts from zero, its start-up included; a worker missing from `after`
 * has stopped and cannot be read, so it is left out.
 */
export function cpuPerTask(before: CpuSnapshot, after: CpuSnapshot, tasks: number, ticksPerSecond: number): CpuPerTask {
  const usPerTask = (ticks: number) => (ticks * 1e6) / ticksPerSecond / tasks;
  const producerUs = usPerTask(after.producer - before.producer);
  const workersUs = [...after.workers].map(([pid, ticks]) => usPerTask(ticks - (before.workers.get(pid) ?? 0)));
  const redisUs = usPerTask(after.redis - before.redis);
  const totalUs = producerUs + workersUs.reduce((sum, us) => sum + us, 0) + (Number.isFinite(redisUs) ? redisUs : 0);
  return { producerUs, workersUs, redisUs, totalUs };
}

/** Mean CPU ms of the workers in `snapshot` since they were spawned (read just after they are ready). */
export function workerStartupMs(snapshot: CpuSnapshot, ticksPerSecond: number): number {
  const ticks = [...snapshot.workers.values()];
  if (ticks.length === 0) return NaN;
  return (ticks.reduce((sum, t) => sum + t, 0) * 1000) / ticksPerSecond / ticks.length;
}
