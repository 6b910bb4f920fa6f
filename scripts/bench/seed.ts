/**
 * Seeds a SQLite store with a realistic mix of tasks for the query benchmark, straight through better-sqlite3
 * with the store's own schema (applySchema), in large transactions. The secondary indexes of tasks and
 * task_events are dropped during the load and created again from their own definitions afterwards (a sorted
 * build is much faster than a million random index inserts): the schema ends exactly as applySchema left it.
 *
 * The mix, over the last seven days (ids are UUIDv7 of the creation time, so newest-first is by id):
 *  - 20 routes: 10 task types × capability sets ([], [gpu], [fs], [cuda, gpu], [region.eu]), and a rare
 *    21st one (render on [gpu, tpu], 0.5 % of the tasks);
 *  - 90 % succeeded, 2 % queued (a quarter of them delayed), 1.5 % running, 5 % dead, 1 % cancelled,
 *    0.5 % expired; the events each status implies (submitted, started, succeeded, failed, retry_scheduled,
 *    dead, …), about 3.1 per task; 12 agents.
 *
 * Usable alone: `npm run bench:seed -- --tasks 1000000 --file /tmp/seed.db`.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import { v7 as uuidv7 } from 'uuid';
import { routeKey } from '../../src/domain/capabilities';
import { applySchema } from '../../src/store/sqlite/schema';
import { InterruptedError, interruption } from './stats';

export const SEED_TYPES = [
  'render',
  'transcode',
  'thumbnail',
  'ocr',
  'index',
  'email',
  'report',
  'etl',
  'backup',
  'scan',
];
const CAPABILITY_SETS: string[][] = [[], ['gpu'], ['fs'], ['cuda', 'gpu'], ['region.eu']];
/** 20 routes: each type with two capability sets. */
export const SEED_ROUTES = SEED_TYPES.flatMap((type, i) => [
  { type, capabilities: CAPABILITY_SETS[i % 5]! },
  { type, capabilities: CAPABILITY_SETS[(i + 2) % 5]! },
]);
/** A rare route: a capability filter on `tpu` must look far for its matches. */
export const RARE_ROUTE = { type: 'render', capabilities: ['gpu', 'tpu'] };
const AGENTS = Array.from({ length: 12 }, (_, i) => ({
  id: `seed-worker-${i}`,
  capabilities: i % 3 === 0 ? ['cuda', 'fs', 'gpu', 'region.eu'] : i % 3 === 1 ? ['gpu', 'cuda'] : ['fs'],
}));

const DAY = 86_400_000;

/** A deterministic pseudo-random sequence (mulberry32), so two seeds of one size are the same data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function statusFor(r: number): string {
  if (r < 0.9) return 'succeeded';
  if (r < 0.92) return 'queued';
  if (r < 0.935) return 'running';
  if (r < 0.985) return 'dead';
  if (r < 0.995) return 'cancelled';
  return 'expired';
}

export interface SeedResult {
  tasks: number;
  events: number;
  seconds: number;
  /** An id from the middle of the id range: a cursor for pages deep in the list. */
  middleId: string;
}

export async function seedStore(
  file: string,
  n: number,
  progress: (done: number) => void = () => undefined,
): Promise<SeedResult> {
  const started = Date.now();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  applySchema(db);
  const indexes = db
    .prepare<[], { name: string; sql: string }>(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('tasks', 'task_events') AND sql IS NOT NULL`,
    )
    .all();
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);

  const now = Date.now();
  const insertTask = db.prepare(`
    INSERT INTO tasks (id, type, status, attempt, max_attempts, required_capabilities, route_key, priority, payload,
      result, error, agent_id, lease_expires_at, cancel_requested, timeout_seconds, not_before, deadline,
      idempotency_key, request_hash, submitted_by, dispatched_at, created_at, started_at, finished_at, updated_at)
    VALUES (@id, @type, @status, @attempt, 3, @caps, @route, @priority, @payload, @result, @error, @agent, @lease, 0,
      NULL, @notBefore, NULL, NULL, NULL, 'seed-key', @createdAt, @createdAt, @startedAt, @finishedAt, @updatedAt)`);
  const insertEvent = db.prepare(
    `INSERT INTO task_events (task_id, at, kind, attempt, agent_id, data) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const rand = random(n);
  const priorities = ['normal', 'normal', 'normal', 'high', 'low', 'critical'];
  let middleId = '';
  const chunk = 20_000;

  db.transaction(() => {
    const insertRoute = db.prepare(
      `INSERT OR IGNORE INTO routes (key, type, capabilities, created_at) VALUES (?, ?, ?, ?)`,
    );
    for (const r of [...SEED_ROUTES, RARE_ROUTE])
      insertRoute.run(routeKey(r.type, r.capabilities), r.type, JSON.stringify(r.capabilities), now - 7 * DAY);
    const insertAgent = db.prepare(`
      INSERT INTO agents (id, capabilities, types, concurrency, state, hostname, pid, version, started_at, last_heartbeat_at,
        running_tasks, metrics, state_source)
      VALUES (?, ?, ?, 8, 'stopped', 'seed-host', 1, 'seed', ?, ?, 0, NULL, 'agent')`);
    for (const a of AGENTS)
      insertAgent.run(a.id, JSON.stringify(a.capabilities), JSON.stringify(SEED_TYPES), now - DAY, now - 60_000);
  })();

  for (let from = 0; from < n; from += chunk) {
    db.transaction(() => {
      for (let i = from; i < Math.min(n, from + chunk); i++) {
        // Creation times rise through the last seven days; the last 0.5 % are from the last minute.
        const createdAt =
          i >= n * 0.995
            ? now - 60_000 + Math.floor(((i - n * 0.995) / (n * 0.005)) * 59_000)
            : now - 7 * DAY + Math.floor((i / n) * (7 * DAY - 120_000));
        const id = uuidv7({ msecs: createdAt });
        if (i === Math.floor(n / 2)) middleId = id;
        const route = i % 200 === 0 ? RARE_ROUTE : SEED_ROUTES[Math.floor(rand() * SEED_ROUTES.length)]!;
        const status = i >= n - 2_000 && rand() < 0.5 ? 'queued' : statusFor(rand());
        const agent = AGENTS[Math.floor(rand() * AGENTS.length)]!.id;
        const runMs = 20 + Math.floor(rand() * 2_000);
        const startedAt =
          status === 'queued' || status === 'cancelled' || status === 'expired'
            ? null
            : createdAt + 5 + Math.floor(rand() * 500);
        const attempt = status === 'dead' ? 3 : startedAt === null ? 0 : rand() < 0.05 ? 2 : 1;
        const finishedAt =
          status === 'succeeded' || status === 'dead'
            ? startedAt! + runMs
            : status === 'cancelled' || status === 'expired'
              ? createdAt + 1_000
              : null;
        const delayed = status === 'queued' && rand() < 0.25;
        insertTask.run({
          id,
          type: route.type,
          status,
          attempt,
          caps: JSON.stringify(route.capabilities),
          route: routeKey(route.type, route.capabilities),
          priority: priorities[i % priorities.length],
          payload: JSON.stringify({ n: i, object: `bucket/${i % 977}/item-${i}.bin` }),
          result: status === 'succeeded' ? JSON.stringify({ ok: true, bytes: i % 65_536 }) : null,
          error:
            status === 'dead'
              ? JSON.stringify({ kind: 'handler', name: 'Error', message: 'upstream timed out' })
              : null,
          agent: startedAt === null ? null : agent,
          lease: status === 'running' ? now + 3_600_000 : null,
          notBefore: delayed ? now + 3_600_000 : createdAt,
          createdAt,
          startedAt,
          finishedAt,
          updatedAt: finishedAt ?? startedAt ?? createdAt,
        });
        insertEvent.run(id, createdAt, 'submitted', 0, null, null);
        if (startedAt !== null) {
          for (let a = 1; a < attempt; a++) {
            insertEvent.run(id, startedAt, 'started', a, agent, null);
            insertEvent.run(
              id,
              startedAt + 10,
              'failed',
              a,
              agent,
              '{"kind":"handler","message":"upstream timed out"}',
            );
            insertEvent.run(id, startedAt + 10, 'retry_scheduled', a, null, '{"delayMs":1000}');
          }
          insertEvent.run(id, startedAt, 'started', attempt, agent, null);
        }
        if (status === 'succeeded') insertEvent.run(id, finishedAt, 'succeeded', attempt, agent, `{"runMs":${runMs}}`);
        else if (status === 'dead') {
          insertEvent.run(id, finishedAt, 'failed', attempt, agent, `{"kind":"handler","runMs":${runMs}}`);
          insertEvent.run(id, finishedAt, 'dead', attempt, null, null);
        } else if (status === 'cancelled' || status === 'expired')
          insertEvent.run(id, finishedAt, status, attempt, null, null);
      }
    })();
    progress(Math.min(n, from + chunk));
    // Between chunks, let signals in (Ctrl-C) and stop when asked to.
    await new Promise((r) => setImmediate(r));
    if (interruption.requested) {
      db.close();
      throw new InterruptedError();
    }
  }
  for (const ix of indexes) db.exec(ix.sql);
  // No ANALYZE: a store in use has no sqlite_stat1 either, and the planner must do without it.
  const events = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM task_events').get()!.n;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { tasks: n, events, seconds: (Date.now() - started) / 1000, middleId };
}

if (require.main === module) {
  const o = new Command('bench:seed')
    .description('seed a SQLite store with a realistic mix of tasks for the query benchmark')
    .option('--tasks <n>', 'tasks', (v) => Number(v), 1_000_000)
    .requiredOption('--file <path>', 'the SQLite file to (re)create')
    .parse(process.argv)
    .opts<{ tasks: number; file: string }>();
  void seedStore(o.file, o.tasks, (d) => process.stderr.write(`\rseeded ${d} tasks`)).then((r) => {
    process.stderr.write('\n');
    console.log(JSON.stringify(r));
  });
}
