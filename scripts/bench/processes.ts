/**
 * Every process the benchmark starts, so that all of them are stopped on every way out (normal end, error,
 * Ctrl-C), and their peak memory (VmHWM) can be read from /proc.
 */
import { fork, spawn, type ChildProcess, type ForkOptions, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  return track(spawn(cmd, args, opts));
}

export function forkTracked(module: string, args: string[], opts: ForkOptions): ChildProcess {
  return track(fork(module, args, opts));
}

/** Registers a clean-up (Redis keys, a schema, a temp folder) to run on the way out; returns its remover. */
export function onCleanup(fn: () => Promise<void>): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills every tracked process and runs every clean-up; safe to call more than once. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopProcess(c, 2_000)));
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await fn().catch(() => undefined);
  }
}

/** Last resort on process exit: synchronous SIGKILL of anything still running. */
export function killAllSync(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export interface Memory {
  /** Resident set size now, MiB. */
  rssMb: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakMb: number;
}

/** A process's memory from /proc/<pid>/status (NaN where /proc is unavailable). */
export function memoryOf(pid: number | undefined): Memory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: NaN, peakMb: NaN };
  }
}
