/**
 * What the benchmark needs from each system under test. One instance measures one configuration, and one
 * `setup()`..`teardown()` cycle is one run on a fresh backend (SQLite file, Redis prefix or PostgreSQL schema).
 */
import type { CpuProcesses } from './cpu';
import type { Memory } from './processes';

export interface BenchSettings {
  /** Worker processes and the concurrency of each (the same for every system). */
  workers: number;
  concurrency: number;
  redisUrl: string;
  postgresUrl: string;
  /** taskfleet's TASKFLEET_SQLITE_SYNCHRONOUS, given to its supervisor and workers. */
  sqliteSynchronous: 'full' | 'normal';
  /** When set, taskfleet's processes run with `node --cpu-prof` and write their profiles here. */
  cpuProfDir?: string;
}

/** When the tasks of one phase started and finished, in wall-clock ms (see stats.wallMs). */
export interface Window {
  firstStart: number;
  lastEnd: number;
}

export interface Driver {
  /** Key in the JSON figures, e.g. `taskfleet`, `pgBossFast`. */
  readonly key: string;
  readonly label: string;
  /** Durable: a task survives the loss of the queue's memory. */
  readonly durable: boolean;
  /** A slow configuration measures fewer tasks and latency samples (pg-boss at its defaults polls every 2 s). */
  readonly slow: boolean;

  setup(run: number): Promise<void>;
  teardown(): Promise<void>;
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;

  /** Starts counting a new phase: completions and their window from now on. */
  beginPhase(): Promise<void>;
  /** Submits `n` no-op tasks in batches of 1000 (the system's batch API), one batch at a time. */
  submitBatches(n: number, progress: (submitted: number) => void): Promise<void>;
  /** Submits one task through the single-submit API (resolves when the system acknowledged it). */
  submitOne(): Promise<void>;
  /** Tasks of the current phase completed so far. */
  completed(): Promise<number>;
  /** First start and last recorded completion of the current phase's tasks. */
  window(): Promise<Window>;
  /** One task on an idle fleet: ms from just before the submit to its start, and to its recorded completion. */
  latencySample(): Promise<{ start: number; complete: number }>;
  /**
   * One task on an idle fleet, waited for with the system's long poll (taskfleet's `?wait=`): ms from its
   * recorded result to the wait's answer. Absent for a system without one.
   */
  waitSample?(): Promise<number>;
  /**
   * One task on an idle fleet whose completion is reported by a signed webhook (taskfleet's `callbackUrl`): ms
   * from its recorded result to the verified delivery reaching the benchmark's receiver. Absent without webhooks.
   */
  webhookSample?(): Promise<number>;
  /** Memory of the system's own long-running processes (workers; the supervisor where there is one). */
  memory(): { supervisor?: Memory; workers: Memory[] };
  /** The processes whose CPU time counts towards the system now (its running workers, its producer). */
  cpuProcesses(): CpuProcesses;
  /** What the CPU figures call the producer's role: `supervisor` for taskfleet, `producer` for a peer. */
  readonly producerRole: 'supervisor' | 'producer';
}
