/**
 * `npm run bench:purge`: how long the retention purge takes to delete about 1,000,000 finished tasks (with their
 * ~3 events each) from the embedded store, and the longest single transaction (batch) during it. Seeds a SQLite
 * file with the query benchmark's mix (seed.ts: ~96.5 % of the tasks finished), opens it as the supervisor does
 * (synchronous = FULL, background checkpoints), and runs one pass of the supervisor's RetentionPurge with the
 * default batch and pause, every finished task due.
 *
 * `npm run bench:purge -- --tasks 1036300 --pause-ms 100 --file /tmp/purge.db`
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pino from 'pino';
import { loadConfig } from '../../src/config/config';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { RetentionPurge } from '../../src/supervisor/purge';
import { seedStore } from './seed';

/** Seeding this many gives about 1,000,000 finished tasks with seed.ts's mix. */
const DEFAULT_TASKS = 1_036_300;

/** The store with each purgeTasks call timed: one call is one batch, one transaction. */
function timedPurges(store: Store, batchMs: number[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => Promise<unknown>;
      if (prop !== 'purgeTasks') return fn.bind(target);
      return async (...args: unknown[]) => {
        const started = performance.now();
        const rows = await fn.apply(target, args);
        batchMs.push(performance.now() - started);
        return rows;
      };
    },
  });
}

async function main(): Promise<void> {
  const defaults = loadConfig({}).retention;
  const o = new Command('bench:purge')
    .option('--tasks <n>', 'tasks to seed', (v) => Number(v), DEFAULT_TASKS)
    .option('--batch <n>', 'rows per batch (TASKFLEET_PURGE_BATCH)', (v) => Number(v), defaults.batch)
    .option('--pause-ms <n>', 'pause between batches (TASKFLEET_PURGE_PAUSE_MS)', (v) => Number(v), defaults.pauseMs)
    .option('--file <path>', 'the SQLite file to (re)create', path.join(os.tmpdir(), 'taskfleet-bench-purge.db'))
    .parse(process.argv)
    .opts<{ tasks: number; batch: number; pauseMs: number; file: string }>();

  process.stderr.write(`seeding ${o.tasks} tasks into ${o.file}\n`);
  const seeded = await seedStore(o.file, o.tasks, (d) => process.stderr.write(`\rseeded ${d} tasks`));
  process.stderr.write(`\nseeded in ${seeded.seconds.toFixed(1)} s (${seeded.events} events)\n`);

  const store = await openSqliteStore({ path: o.file, checkpointInBackground: true });
  const batchMs: number[] = [];
  const settings = {
    ...defaults,
    succeededMs: 1,
    deadMs: 1,
    agentsMs: 0,
    auditMs: 0,
    batch: o.batch,
    pauseMs: o.pauseMs,
  };
  // Every finished task is due: the seed's newest finish a few seconds from its start.
  const clock = { now: () => Date.now() + 3_600_000 };
  const purge = new RetentionPurge(timedPurges(store, batchMs), settings, clock, pino({ level: 'silent' }));
  const started = performance.now();
  const { tasks } = await purge.pass();
  const totalSeconds = (performance.now() - started) / 1000;
  await store.close();
  for (const f of [o.file, `${o.file}-wal`, `${o.file}-shm`]) rmSync(f, { force: true });

  const sorted = [...batchMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const inBatches = batchMs.reduce((s, ms) => s + ms, 0) / 1000;
  console.log(
    JSON.stringify(
      {
        seededTasks: o.tasks,
        seededEvents: seeded.events,
        purgedTasks: tasks,
        batch: o.batch,
        pauseMs: o.pauseMs,
        batches: batchMs.length,
        totalSeconds: Math.round(totalSeconds * 10) / 10,
        secondsInBatches: Math.round(inBatches * 10) / 10,
        batchMs: { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(sorted.at(-1) ?? 0) },
      },
      null,
      2,
    ),
  );
}

void main();
