import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { listMigrations, migrationsDir } from '../../src/store/mssql/deploy/migrations';
import { openSqliteStore, sqlitePragma } from '../../src/store/sqlite/sqliteStore';
import type { ClaimResult, Store } from '../../src/store/port';
import { applySchema, MIGRATIONS, SCHEMA_VERSION } from '../../src/store/sqlite/schema';
import * as backgroundSql from '../../src/store/sqlite/statements/background';
import * as fleetSql from '../../src/store/sqlite/statements/fleet';
import * as purgeSql from '../../src/store/sqlite/statements/purge';
import * as retrySql from '../../src/store/sqlite/statements/retry';
import * as routeMinutesSql from '../../src/store/sqlite/statements/routeMinutes';
import * as securitySql from '../../src/store/sqlite/statements/security';
import * as workflowSql from '../../src/store/sqlite/statements/workflows';
import { eventKinds, LEASE_MS, newTask, T0 } from './fixtures';
import { storeContract, type StatusChange } from './store.contract';

function freshDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'taskfleet-sqlite-'));
}

/**
 * A second connection on the store's file with triggers that log every status a task is inserted with or
 * changed to: what the contract suite checks against canTransition. Test-only: the store never has them.
 */
function recordStatusChanges(file: string): Database.Database {
  const recorder = new Database(file);
  recorder.exec(`
    CREATE TABLE test_status_changes (seq INTEGER PRIMARY KEY, from_status TEXT, to_status TEXT NOT NULL);
    CREATE TRIGGER test_status_inserted AFTER INSERT ON tasks
    BEGIN INSERT INTO test_status_changes (from_status, to_status) VALUES (NULL, NEW.status); END;
    CREATE TRIGGER test_status_changed AFTER UPDATE OF status ON tasks WHEN OLD.status <> NEW.status
    BEGIN INSERT INTO test_status_changes (from_status, to_status) VALUES (OLD.status, NEW.status); END;`);
  return recorder;
}

let dir: string | undefined;
let recorder: Database.Database | undefined;

storeContract(
  'sqlite',
  async () => {
    // A nested path: opening also creates the parent directory.
    const file = path.join((dir = freshDir()), 'data', 'taskfleet.db');
    const store = await openSqliteStore({ path: file });
    recorder = recordStatusChanges(file);
    return store;
  },
  async () => {
    recorder?.close();
    recorder = undefined;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
  async () =>
    recorder
      ?.prepare<[], StatusChange>(
        `SELECT from_status AS "from", to_status AS "to" FROM test_status_changes ORDER BY seq`,
      )
      .all() ?? [],
);

describe('sqlite store: two connections on one file', () => {
  let shared: string;
  const stores: Store[] = [];

  beforeEach(() => {
    shared = freshDir();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    fs.rmSync(shared, { recursive: true, force: true });
  });

  it('claims each of 100 dispatches exactly once across 200 racing claims', async () => {
    const file = path.join(shared, 'taskfleet.db');
    stores.push(...(await Promise.all([openSqliteStore({ path: file }), openSqliteStore({ path: file })])));
    const [first, second] = stores as [Store, Store];
    const tasks = Array.from({ length: 100 }, (_, i) => newTask({ createdAt: T0 + i }));
    await first.insertTasks(tasks);

    const claimVia = (store: Store, agentId: string, taskId: string) =>
      store.claimTask({ taskId, attempt: 0, agentId, now: T0 + 1_000, leaseMs: LEASE_MS });
    // Each store commits the claims asked of it in one turn of the event loop together, so the race is
    // run in rounds of 10 tasks, alternating which connection asks (and so flushes) first: each wins some.
    const racing: Array<Promise<ClaimResult>> = [];
    for (let round = 0; round < 10; round++) {
      const chunk = tasks.slice(round * 10, round * 10 + 10);
      const [a, b] = round % 2 === 0 ? [first, second] : [second, first];
      const [idA, idB] = round % 2 === 0 ? ['agent-1', 'agent-2'] : ['agent-2', 'agent-1'];
      racing.push(...chunk.flatMap((t) => [claimVia(a, idA, t.id), claimVia(b, idB, t.id)]));
      await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(racing);

    const won = results.flatMap((r) => (r.claimed ? [r.task] : []));
    expect(won).toHaveLength(100);
    expect(new Set(won.map((t) => t.id)).size).toBe(100);
    expect(new Set(won.map((t) => t.agentId))).toEqual(new Set(['agent-1', 'agent-2']));
    for (const r of results) {
      if (!r.claimed) expect(r.current).toMatchObject({ status: 'running', attempt: 1 });
    }
    for (const t of tasks) expect(await eventKinds(second, t.id)).toEqual(['submitted', 'started']);
  });
});

describe('sqlite store: out of space', () => {
  let dir: string;
  let store: Store | undefined;

  beforeEach(() => {
    dir = freshDir();
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails whole writes with StoreFullError, writes nothing of a batch, and writes again once there is room', async () => {
    const s = (store = await openSqliteStore({ path: path.join(dir, 'taskfleet.db') }));
    const running = newTask();
    await s.insertTasks([running]);
    await s.claimTask({ taskId: running.id, attempt: 0, agentId: 'agent-1', now: T0 + 1, leaseMs: LEASE_MS });
    // No page may be added from here on: what a full disk does to every write that needs room.
    const pages = sqlitePragma(s, 'page_count') as number;
    sqlitePragma(s, `max_page_count = ${pages}`);

    const big = () => newTask({ payload: { blob: 'p'.repeat(100_000) } });
    const full = { name: 'StoreFullError', status: 503, code: 'store_full' };
    await expect(s.insertTasks([newTask(), big(), newTask()])).rejects.toMatchObject(full);
    const ref = { taskId: running.id, attempt: 1, agentId: 'agent-1', now: T0 + 2 };
    await expect(s.completeTask({ ...ref, result: { blob: 'r'.repeat(100_000) } })).rejects.toMatchObject(full);
    expect((await s.listTasks({ limit: 10 })).map((t) => [t.id, t.status])).toEqual([[running.id, 'running']]);
    expect(await eventKinds(s, running.id)).toEqual(['submitted', 'started']);

    sqlitePragma(s, 'max_page_count = 1073741823');
    await expect(s.insertTasks([newTask(), big()])).resolves.toHaveLength(2);
    await expect(s.completeTask({ ...ref, result: { blob: 'r'.repeat(100_000) } })).resolves.toBe(true);
    expect(await eventKinds(s, running.id)).toEqual(['submitted', 'started', 'succeeded']);
    // Its file system has room: ready.
    await expect(s.ping()).resolves.toBeUndefined();
  });
});

describe('sqlite store: schema migrations', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = freshDir();
    file = path.join(dir, 'taskfleet.db');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A database as a build with only migration 1 left it: a queued task, an agent and a finished attempt. */
  function createVersion1Database(): void {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      const [v1] = MIGRATIONS;
      if (v1 === undefined) throw new Error('no migration 1');
      db.exec(v1);
      db.pragma('user_version = 1');
      db.prepare(
        `INSERT INTO tasks (id, type, status, attempt, max_attempts, required_capabilities, route_key, priority,
           payload, not_before, dispatched_at, created_at, updated_at)
         VALUES ('old-task', 'echo', 'queued', 0, 3, '["gpu"]', 'echo~gpu', 'normal', '{"n":1}', ?, ?, ?, ?)`,
      ).run(T0, T0, T0, T0);
      db.prepare(
        `INSERT INTO routes (key, type, capabilities, created_at) VALUES ('echo~gpu', 'echo', '["gpu"]', ?)`,
      ).run(T0);
      db.prepare(
        `INSERT INTO task_events (task_id, at, kind, attempt, agent_id, data) VALUES ('old-task', ?, 'succeeded', 1, 'old-agent', NULL)`,
      ).run(T0 + 5);
      db.prepare(
        `INSERT INTO agents (id, capabilities, types, concurrency, state, hostname, pid, version, started_at,
           last_heartbeat_at) VALUES ('old-agent', '[]', '["echo"]', 1, 'suspended', 'h', 1, '0.0.1', ?, ?)`,
      ).run(T0, T0);
    } finally {
      db.close();
    }
  }

  function userVersion(): number {
    const db = new Database(file, { readonly: true });
    try {
      return Number(db.pragma('user_version', { simple: true }));
    } finally {
      db.close();
    }
  }

  it('applies the later migrations to a database that has migration 1, keeping its data', async () => {
    createVersion1Database();
    expect(SCHEMA_VERSION).toBe(19);
    const store = await openSqliteStore({ path: file });
    try {
      expect(await store.getTask('old-task')).toMatchObject({
        id: 'old-task',
        status: 'queued',
        requiredCapabilities: ['gpu'],
        payload: { n: 1 },
        submittedBy: null,
        sensitive: false,
      });
      expect(await store.getAgent('old-agent')).toMatchObject({ state: 'suspended', stateSource: 'agent' });
      // An event from before runMs existed: a run of unknown length.
      expect(await store.listAgentRuns('old-agent', T0)).toEqual([{ at: T0 + 5, outcome: 'succeeded', runMs: null }]);
      // The new indexes cover the rows that were already there.
      expect(await store.routeStats(T0)).toEqual([
        { type: 'echo', capabilities: ['gpu'], queued: 1, delayed: 0, running: 0, dead: 0, oldestQueuedAt: T0 },
      ]);
      // The new tables exist and work.
      const key = {
        id: 'k',
        name: 'n',
        role: 'reader' as const,
        hash: 'h',
        prefix: 'p',
        createdAt: T0,
        createdBy: 'cli:root',
        revokedAt: null,
        agentId: null,
        agentPrefix: null,
      };
      await store.insertApiKey(key);
      expect(await store.listApiKeys()).toEqual([key]);
      await store.appendAudit({ at: T0, actor: 'k', actorName: 'n', action: 'a', target: 't', ip: null, detail: 1 });
      expect(await store.listAudit({ limit: 5 })).toHaveLength(1);
      const declared = {
        key: 'echo~gpu',
        capabilities: ['gpu'],
        types: ['echo'],
        note: null,
        declaredBy: 'n',
        declaredAt: T0,
      };
      expect(await store.declarePool(declared)).toEqual({ pool: declared, created: true });
      const [fresh] = await store.insertTasks([newTask({ submittedBy: 'k' })]);
      expect(fresh?.task.submittedBy).toBe('k');
    } finally {
      await store.close();
    }
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });

  it('runs each migration once: reopening a migrated database changes nothing', async () => {
    createVersion1Database();
    await (await openSqliteStore({ path: file })).close();
    const again = await openSqliteStore({ path: file });
    try {
      expect((await again.getTask('old-task'))?.submittedBy).toBeNull();
    } finally {
      await again.close();
    }
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });

  it('refuses a database newer than this build', async () => {
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(openSqliteStore({ path: file })).rejects.toThrow(/newer than this build/);
  });
});

describe('sqlite store: the schema mirrors the T-SQL migrations table for table', () => {
  /** Column names of every table the T-SQL migrations create, with the columns later migrations add. */
  function tsqlTables(): Map<string, string[]> {
    const tables = new Map<string, string[]>();
    for (const migration of listMigrations(migrationsDir())) {
      const text = fs.readFileSync(migration.path, 'utf8');
      for (const table of text.matchAll(/CREATE TABLE \[\$\(Schema\)\]\.\[(\w+)\] \(([\s\S]*?)\n {2}\);/g)) {
        const columns = [
          ...(table[2] ?? '').matchAll(/^\s+(\w+)\s+(?:varchar|nvarchar|int|bigint|bit|float|datetime2|AS)\b/gm),
        ];
        tables.set(table[1] ?? '', columns.map((column) => column[1] ?? '').sort());
      }
      // Columns later migrations add to a table: `ALTER TABLE [$(Schema)].[t]` then `ADD column type` (a
      // constraint added is not a column).
      for (const added of text.matchAll(/ALTER TABLE \[\$\(Schema\)\]\.\[(\w+)\]\s+ADD (?!CONSTRAINT\b)(\w+) /g)) {
        const name = added[1] ?? '';
        tables.set(name, [...(tables.get(name) ?? []), added[2] ?? ''].sort());
      }
    }
    return tables;
  }

  /** Where the two schemas differ on purpose (see the header of src/store/sqlite/schema.ts). */
  const TSQL_ONLY: Record<string, string[]> = {
    tasks: ['route_id'],
    routes: ['id', 'route_hash', 'route_key'],
    route_controls: ['route_id'],
    route_events: ['route_id'],
    route_minutes: ['route_id'],
  };
  const SQLITE_ONLY: Record<string, string[]> = {
    tasks: ['route_key'],
    routes: ['key'],
    route_controls: ['route_key'],
    route_events: ['route_key'],
    route_minutes: ['route_key'],
  };

  it('has every T-SQL table but the version ledger, with the same columns', () => {
    const db = new Database(':memory:');
    try {
      applySchema(db);
      const sqliteTables = db
        .prepare<[], { name: string }>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
        )
        .all()
        .map((row) => row.name);
      const tsql = tsqlTables();
      expect([...tsql.keys()].filter((name) => name !== 'schema_version').sort()).toEqual([...sqliteTables].sort());
      for (const table of sqliteTables) {
        const columns = db
          .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
          .all()
          .map((row) => row.name)
          .filter((name) => !(SQLITE_ONLY[table] ?? []).includes(name));
        const expected = (tsql.get(table) ?? []).filter((name) => !(TSQL_ONLY[table] ?? []).includes(name));
        expect({ table, columns: columns.sort() }).toEqual({ table, columns: expected });
      }
    } finally {
      db.close();
    }
  });
});

describe('sqlite store: query plans of the fleet and stats queries', () => {
  let db: Database.Database;

  beforeAll(() => {
    db = new Database(':memory:');
    applySchema(db);
  });

  afterAll(() => db.close());

  const plan = (sql: string, params: Record<string, unknown>) =>
    db
      .prepare<Record<string, unknown>, { id: number; parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
      .all(params);

  it.each([
    [
      'ROUTE_STATS',
      fleetSql.ROUTE_STATS,
      { now: T0 },
      'SEARCH tasks USING COVERING INDEX tasks_status_route_not_before',
    ],
    [
      'COUNT_TASK_EVENTS',
      fleetSql.COUNT_TASK_EVENTS,
      { kinds: '["succeeded","dead"]', since: T0 },
      'SEARCH task_events USING COVERING INDEX task_events_counted_kind_at',
    ],
    [
      'SELECT_AGENT_RUNS',
      fleetSql.SELECT_AGENT_RUNS,
      { agentId: 'a', since: T0 },
      'SEARCH task_events USING INDEX task_events_agent_runs',
    ],
    [
      'SELECT_EXPIRED_LEASES',
      backgroundSql.SELECT_EXPIRED_LEASES,
      { now: T0, limit: 10 },
      'SEARCH tasks USING INDEX tasks_running_lease',
    ],
    [
      'SELECT_OVERDUE',
      backgroundSql.SELECT_OVERDUE,
      { now: T0, limit: 10 },
      'SEARCH tasks USING INDEX tasks_queued_deadline',
    ],
    [
      'SELECT_LEASES_OF',
      fleetSql.SELECT_LEASES_OF,
      { agentId: 'a', limit: 10 },
      'SEARCH tasks USING INDEX tasks_running_agent',
    ],
    [
      'SELECT_AUDIT_BY_ACTION',
      securitySql.SELECT_AUDIT_BY_ACTION,
      { action: 'a', beforeSeq: 10, limit: 10 },
      'SEARCH audit_log USING INDEX audit_log_action_seq',
    ],
    ['SELECT_API_KEYS', securitySql.SELECT_API_KEYS, {}, 'SCAN api_keys USING INDEX api_keys_created'],
    [
      'PURGE_SELECT_TASKS',
      purgeSql.PURGE_SELECT_TASKS,
      { statuses: '["succeeded","cancelled"]', finishedBefore: T0, limit: 10 },
      'SEARCH tasks USING INDEX tasks_finished (status=? AND finished_at>? AND finished_at<?)',
    ],
    [
      'PURGE_WEBHOOK_DELIVERIES',
      purgeSql.PURGE_WEBHOOK_DELIVERIES,
      { ids: '["a"]' },
      'SEARCH webhook_deliveries USING COVERING INDEX webhook_deliveries_task (task_id=?)',
    ],
    [
      'PURGE_AGENTS',
      purgeSql.PURGE_AGENTS,
      { states: '["stopped"]', before: T0, limit: 10 },
      'SEARCH agents USING INDEX agents_state_heartbeat (state=? AND last_heartbeat_at<?)',
    ],
    [
      'PURGE_AUDIT',
      purgeSql.PURGE_AUDIT,
      { before: T0, limit: 10 },
      'SEARCH audit_log USING COVERING INDEX audit_log_at (at<?)',
    ],
    [
      'COUNT_AGENT_RUNS',
      fleetSql.COUNT_AGENT_RUNS,
      { agentIds: '["a","b"]', since: T0 },
      'SEARCH task_events USING INDEX task_events_agent_runs (agent_id=? AND at>?)',
    ],
    [
      'ROLL_UP_ROUTE_MINUTE',
      routeMinutesSql.ROLL_UP_ROUTE_MINUTE,
      { minute: T0 },
      'SEARCH e USING INDEX task_events_counted_kind_at (kind=? AND at>? AND at<?)',
    ],
    [
      'SELECT_ROUTE_MINUTES',
      routeMinutesSql.SELECT_ROUTE_MINUTES,
      { routeKeys: '["echo~"]', since: T0 },
      'SEARCH m USING INDEX sqlite_autoindex_route_minutes_1 (route_key=? AND minute>?)',
    ],
    [
      'PURGE_ROUTE_MINUTES',
      routeMinutesSql.PURGE_ROUTE_MINUTES,
      { before: T0, limit: 10 },
      'SEARCH route_minutes USING COVERING INDEX route_minutes_minute (minute<?)',
    ],
  ])('%s uses its index and never scans a whole table', (_name, sql, params, expected) => {
    const details = plan(sql, params).map((r) => r.detail);
    expect(details.join('\n')).toContain(expected);
    for (const detail of details)
      expect(detail).not.toMatch(/^SCAN (tasks|task_events|audit_log|route_minutes|e|t|m)\b/);
  });

  it.each([
    [
      'SELECT_WORKFLOWS_TO_ADVANCE',
      workflowSql.SELECT_WORKFLOWS_TO_ADVANCE,
      { limit: 10 },
      ['SCAN workflows USING INDEX workflows_dirty', 'SCAN s USING COVERING INDEX workflow_steps_running'],
    ],
    [
      'SELECT_WORKFLOWS_BY_STATE',
      workflowSql.SELECT_WORKFLOWS_BY_STATE,
      { state: 'running', submittedBy: null, beforeId: null, limit: 10 },
      ['SEARCH w USING INDEX workflows_state_id (state=?)'],
    ],
    [
      'SELECT_WORKFLOWS_BY_SUBMITTER',
      workflowSql.SELECT_WORKFLOWS_BY_SUBMITTER,
      { state: null, submittedBy: 'k', beforeId: null, limit: 10 },
      ['SEARCH w USING INDEX workflows_submitted_by_id (submitted_by=?)'],
    ],
    [
      'SELECT_WORKFLOW_EVENTS',
      workflowSql.SELECT_WORKFLOW_EVENTS,
      { workflowId: 'w', afterSeq: 0, limit: 10 },
      ['SEARCH workflow_events USING INDEX workflow_events_workflow_seq (workflow_id=? AND seq>?)'],
    ],
    [
      'PURGE_SELECT_WORKFLOWS',
      workflowSql.PURGE_SELECT_WORKFLOWS,
      { before: T0, limit: 10 },
      ['SEARCH workflows USING INDEX workflows_finished_at (finished_at>? AND finished_at<?)'],
    ],
  ])(
    '%s reads by its index, never a scan of a whole table (tasks are looked up by id)',
    (_name, sql, params, expected) => {
      const details = plan(sql, params).map((r) => r.detail);
      for (const line of expected) expect(details).toContain(line);
      for (const detail of details) {
        expect(detail).not.toMatch(/^SCAN (tasks|workflows|workflow_steps|workflow_events|t|s|w)$/);
        expect(detail).not.toMatch(/^SEARCH t USING .*\(status=\?\)$/);
      }
    },
  );

  it('ROUTE_STATS reads one index range per status and sorts only the per-route rows', () => {
    const rows = plan(fleetSql.ROUTE_STATS, { now: T0 });
    const searches = rows.filter((r) => r.detail.startsWith('SEARCH tasks'));
    expect(searches.map((r) => r.detail)).toEqual(
      Array(3).fill('SEARCH tasks USING COVERING INDEX tasks_status_route_not_before (status=?)'),
    );
    // The only temp b-tree is the outer query's merge of the per-status rows (no sort of every task row).
    const sorts = rows.filter((r) => r.detail.startsWith('USE TEMP B-TREE'));
    expect(sorts.map((r) => [r.parent, r.detail])).toEqual([[0, 'USE TEMP B-TREE FOR GROUP BY']]);
  });

  it('SELECT_RETRY_PAGE and SELECT_CANCEL_PAGE seek one status from the keyset, in id order (no table scan, no sort)', () => {
    const params = {
      status: 'dead',
      afterId: '',
      type: 'echo',
      capability: 'gpu',
      createdBefore: T0,
      submittedBy: 'k1',
      limit: 200,
    };
    for (const sql of [retrySql.SELECT_RETRY_PAGE, retrySql.SELECT_CANCEL_PAGE]) {
      const details = plan(sql, params).map((r) => r.detail);
      expect(details[0]).toBe('SEARCH tasks USING INDEX tasks_status_id (status=? AND id>?)');
      expect(details.join('\n')).not.toMatch(/TEMP B-TREE|SCAN tasks/);
    }
  });

  it('SELECT_QUEUED_ON_ROUTE seeks one route from the keyset and sorts only the rows sharing a not_before', () => {
    const params = { routeKey: 'echo~', dueBefore: T0, sentBefore: T0, afterNotBefore: 0, afterId: '', limit: 10 };
    expect(plan(backgroundSql.SELECT_QUEUED_ON_ROUTE, params).map((r) => r.detail)).toEqual([
      'SEARCH tasks USING INDEX tasks_status_route_not_before (status=? AND route_key=? AND not_before>? AND not_before<?)',
      'USE TEMP B-TREE FOR LAST TERM OF ORDER BY',
    ]);
  });
});

describe('sqlite store: every statement has its twin in the mssql module of the same concern', () => {
  const CONCERNS = [
    'tasks',
    'lease',
    'background',
    'agents',
    'fleet',
    'security',
    'pools',
    'logs',
    'retry',
    'schema',
    'schedules',
    'purge',
    'routeControls',
    'workflows',
    'routeMinutes',
  ] as const;

  /**
   * SQLite statements that are one part of a T-SQL batch: what the batch does in one request, the SQLite
   * operation module of the same concern does with these inside one transaction.
   */
  const PART_OF: Record<string, string> = {
    INSERT_TASK: 'INSERT_TASKS',
    SELECT_TASK_BY_IDEMPOTENCY_KEY: 'INSERT_TASKS',
    INSERT_TASK_EVENT: 'INSERT_TASKS',
    INSERT_ROUTE_IF_NEW: 'INSERT_TASKS',
    SELECT_ROUTE_WITH_CAPABILITY: 'listTasksStatement',
    FAIL_TASK_REQUEUE: 'FAIL_TASK',
    FAIL_TASK_DEAD: 'FAIL_TASK',
    CANCEL_QUEUED: 'REQUEST_CANCEL',
    REQUEST_CANCEL_RUNNING: 'REQUEST_CANCEL',
    KILL_EXPIRED_LEASE: 'REQUEUE_EXPIRED_LEASE',
    UPSERT_AGENT: 'REGISTER_AGENT',
    REREGISTER_KEEPING_STATE: 'REGISTER_AGENT',
    INSERT_AGENT_EVENT: 'SET_AGENT_STATE',
    RECLAIM_LEASE_REQUEUE: 'RECLAIM_LEASE',
    RECLAIM_LEASE_KILL: 'RECLAIM_LEASE',
    SELECT_POOL: 'DECLARE_POOL',
    SELECT_REPORTING_ATTEMPT: 'APPEND_TASK_LOGS',
    INSERT_TASK_LOG: 'APPEND_TASK_LOGS',
    UPSERT_TASK_LOG_DROPS: 'APPEND_TASK_LOGS',
    SELECT_TASK_LOG_DROPS: 'SELECT_TASK_LOGS',
    SELECT_RETRY_PAGE: 'RETRY_TASKS',
    SELECT_CANCEL_PAGE: 'CANCEL_TASKS',
    INSERT_SCHEDULE_RUN: 'ADVANCE_SCHEDULE',
    PURGE_SELECT_TASKS: 'PURGE_TASKS',
    PURGE_WEBHOOK_DELIVERIES: 'PURGE_TASKS',
    SPEND_ROUTE_CLAIM: 'CLAIM_TASK',
    SELECT_ROUTE_HELD: 'CLAIM_TASK',
    SELECT_ROUTE_EXISTS: 'SELECT_ROUTE_CONTROL',
    ENSURE_ROUTE_CONTROL: 'SET_ROUTE_PAUSED',
    INSERT_ROUTE_EVENT: 'SET_ROUTE_PAUSED',
    SELECT_WORKFLOW_BY_KEY: 'INSERT_WORKFLOW',
    INSERT_WORKFLOW_STEP: 'INSERT_WORKFLOW',
    SELECT_WORKFLOW_STEPS: 'SELECT_WORKFLOW',
    SELECT_WORKFLOWS_BY_STATE: 'SELECT_WORKFLOWS',
    SELECT_WORKFLOWS_BY_SUBMITTER: 'SELECT_WORKFLOWS',
    UPDATE_WORKFLOW_STEP: 'APPLY_WORKFLOW_CHANGE',
    INSERT_WORKFLOW_EVENT: 'APPLY_WORKFLOW_CHANGE',
    PURGE_SELECT_WORKFLOWS: 'PURGE_WORKFLOWS',
    PURGE_WORKFLOW_EVENTS: 'PURGE_WORKFLOWS',
    PURGE_WORKFLOW_STEPS: 'PURGE_WORKFLOWS',
  };
  /** The ledger of deployed migrations: SQLite keeps its version in PRAGMA user_version (sqlite/schema.ts). */
  const MSSQL_ONLY = ['SELECT_SCHEMA_VERSION', 'SELECT_SCHEMA_LEDGER'];

  /** WHERE fragments shared by several statements, not statements (mssql/statements/lease.ts has its own). */
  const FRAGMENTS = ['LEASE_HELD'];

  const statementNames = (module: Record<string, unknown>) =>
    Object.keys(module).filter(
      (name) => !FRAGMENTS.includes(name) && (/^[A-Z_]+$/.test(name) || name === 'listTasksStatement'),
    );

  it.each(CONCERNS)('%s', async (concern) => {
    const sqliteNames = statementNames(await import(`../../src/store/sqlite/statements/${concern}`));
    const mssqlNames = statementNames(await import(`../../src/store/mssql/statements/${concern}`));
    const missing = sqliteNames.filter((name) => !mssqlNames.includes(PART_OF[name] ?? name));
    expect({ concern, sqliteWithoutTwin: missing }).toEqual({ concern, sqliteWithoutTwin: [] });
    const covered = new Set(sqliteNames.map((name) => PART_OF[name] ?? name));
    const alone = mssqlNames.filter((name) => !covered.has(name) && !MSSQL_ONLY.includes(name));
    expect({ concern, mssqlWithoutTwin: alone }).toEqual({ concern, mssqlWithoutTwin: [] });
  });
});
