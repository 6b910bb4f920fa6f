/**
 * Background WAL checkpoints on a thread of their own.
 *
 * By default the connection whose commit pushes the WAL past 1,000 pages checkpoints it, inside that commit:
 * with a worker and a supervisor committing hundreds of times a second, every commit past the mark tried
 * again (a checkpoint cannot finish while a reader still uses the WAL), with two fsyncs each, on the event
 * loop of whichever process was unlucky. Measured on 2 cores, that was about a tenth of all the CPU a task
 * cost. Instead, the supervisor's store runs PASSIVE checkpoints every `intervalMs` on this thread, and
 * every connection's own auto-checkpoint is set high enough to act only as a safety net (a fleet running
 * without a supervisor).
 *
 * The thread's code is a string (a `worker_threads` eval worker), so it runs the same from `dist/` and
 * from TypeScript sources under jest.
 */
import { Worker } from 'node:worker_threads';

const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy, closing, or out of space (SQLITE_FULL: the database file cannot grow): the WAL keeps every
    // commit meanwhile, and the next round copies it once there is room.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, intervalMs: number): Checkpointer {
  const thread = new Worker(THREAD, {
    eval: true,
    workerData: { file, intervalMs, driver: require.resolve('better-sqlite3') },
    // Small heaps: the thread only calls into SQLite.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  thread.unref();
  // A failure here only costs speed (the connections' own auto-checkpoints take over).
  thread.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  let stopping: Promise<void> | null = null;
  return {
    stop: () =>
      (stopping ??= (async () => {
        thread.postMessage('stop');
        const timeout = setTimeout(() => void thread.terminate(), 2_000);
        await exited;
        clearTimeout(timeout);
      })()),
  };
}
