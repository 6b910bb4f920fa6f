/**
 * The stats and list queries against a supervisor on a seeded store (seed.ts): each timed over HTTP, one at a
 * time, after a warm-up, once the supervisor's first reconciler pass (every queued task re-sent to a new
 * Redis) is done, so nothing else runs meanwhile.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { onCleanup, stopProcess } from './processes';
import { deleteKeysUnder } from '../../src/dispatch/redis';
import { SEED_TYPES, seedStore, type SeedResult } from './seed';
import { percentiles, waitUntil, wallMs } from './stats';
import { startSupervisorProcess } from './taskfleet';

export interface QueryFigures {
  tasks: number;
  events: number;
  seedSeconds: number;
  /** Per query: ms over its repetitions. */
  queries: Record<string, { p50: number; max: number; samples: number }>;
  /** The slowest query's median, ms, and its name. */
  slowestMedianMs: number;
  slowest: string;
}

export interface QueryOptions {
  tasks: number;
  redisUrl: string;
  repetitions: number;
  /** Reuse this seeded file when it exists (and keep it); otherwise seed a temporary one. */
  seedFile?: string;
  progress: (what: string, done: number) => void;
}

export async function runQueryBench(o: QueryOptions): Promise<QueryFigures> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-bench-seed-'));
  const prefix = `tfbench-seed-${process.pid}`;
  const remove = onCleanup(async () => {
    await deleteKeysUnder(o.redisUrl, prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const file = o.seedFile ?? path.join(dir, 'seed.db');
    const seed: SeedResult =
      o.seedFile && existsSync(o.seedFile)
        ? describeSeed(o.seedFile)
        : await seedStore(file, o.tasks, (d) => o.progress('seeding the store', d));
    const sup = await startSupervisorProcess({
      TASKFLEET_REDIS_URL: o.redisUrl,
      TASKFLEET_REDIS_PREFIX: prefix,
      TASKFLEET_SQLITE_PATH: file,
      TASKFLEET_LOG_LEVEL: 'warn',
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    });
    try {
      // The first reconciler pass finds no sentinel in this prefix and re-sends every queued task; wait for it.
      const redis = new Redis(o.redisUrl);
      await waitUntil(
        async () => (await redis.exists(`${prefix}:reconciler:sentinel`)) === 1,
        'the first reconciler pass',
        300_000,
        100,
      );
      redis.disconnect();

      const mid = seed.middleId;
      const list: Array<[string, string]> = [
        ['stats', '/v1/stats'],
        ['list newest', '/v1/tasks?limit=50'],
        ['status=queued', '/v1/tasks?status=queued&limit=50'],
        ['status=running', '/v1/tasks?status=running&limit=50'],
        ['status=succeeded', '/v1/tasks?status=succeeded&limit=50'],
        ['status=dead', '/v1/tasks?status=dead&limit=50'],
        ['type=ocr', `/v1/tasks?type=${SEED_TYPES[3]}&limit=50`],
        ['capability=gpu', '/v1/tasks?capability=gpu&limit=50'],
        ['capability=region.eu', '/v1/tasks?capability=region.eu&limit=50'],
        ['capability=tpu (0.5 % of tasks)', '/v1/tasks?capability=tpu&limit=50'],
        ['capability=absent (no task)', '/v1/tasks?capability=absent&limit=50'],
        ['status=dead&type=ocr', `/v1/tasks?status=dead&type=${SEED_TYPES[3]}&limit=50`],
        ['status=queued&capability=gpu', '/v1/tasks?status=queued&capability=gpu&limit=50'],
        ['cursor page (mid-range)', `/v1/tasks?cursor=${mid}&limit=50`],
        ['status=succeeded cursor page', `/v1/tasks?status=succeeded&cursor=${mid}&limit=50`],
        ['status=dead cursor page', `/v1/tasks?status=dead&cursor=${mid}&limit=50`],
        ['type=ocr cursor page', `/v1/tasks?type=${SEED_TYPES[3]}&cursor=${mid}&limit=50`],
        ['capability=gpu cursor page', `/v1/tasks?capability=gpu&cursor=${mid}&limit=50`],
      ];
      const queries: QueryFigures['queries'] = {};
      let done = 0;
      for (const [name, url] of list) {
        for (let i = 0; i < 2; i++) await sup.api.get(url); // warm-up
        const ms: number[] = [];
        for (let i = 0; i < o.repetitions; i++) {
          const t0 = wallMs();
          await sup.api.get(url);
          ms.push(wallMs() - t0);
        }
        const p = percentiles(ms);
        queries[name] = { p50: p.p50, max: p.max, samples: p.samples };
        o.progress('timing queries', ++done);
      }
      // Also walk five pages from the newest on, following nextCursor, for status=succeeded.
      let cursor: string | undefined;
      const pages: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = wallMs();
        const body = JSON.parse(
          await sup.api.get(`/v1/tasks?status=succeeded&limit=50${cursor ? `&cursor=${cursor}` : ''}`),
        ) as { nextCursor?: string };
        pages.push(wallMs() - t0);
        cursor = body.nextCursor;
      }
      const pp = percentiles(pages);
      queries['status=succeeded next pages'] = { p50: pp.p50, max: pp.max, samples: pp.samples };
      const [slowest, worst] = Object.entries(queries).sort((a, b) => b[1].p50 - a[1].p50)[0]!;
      return {
        tasks: seed.tasks,
        events: seed.events,
        seedSeconds: seed.seconds,
        queries,
        slowestMedianMs: worst.p50,
        slowest,
      };
    } finally {
      await stopProcess(sup.child);
      sup.api.close();
    }
  } finally {
    await deleteKeysUnder(o.redisUrl, prefix);
    rmSync(dir, { recursive: true, force: true });
    remove();
  }
}

/** The figures of a store seeded earlier (--seed-file). */
function describeSeed(file: string): SeedResult {
  const db = new Database(file, { readonly: true });
  try {
    const tasks = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM tasks').get()!.n;
    const events = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM task_events').get()!.n;
    const middleId = db
      .prepare<[number], { id: string }>('SELECT id FROM tasks ORDER BY id LIMIT 1 OFFSET ?')
      .get(Math.floor(tasks / 2))!.id;
    return { tasks, events, seconds: 0, middleId };
  } finally {
    db.close();
  }
}

/** The number of queries runQueryBench times (for the progress bar). */
export const QUERY_COUNT = 18;
