/**
 * Static checks of the mssql adapter, for what no SQL Server here can check: every port method is
 * implemented, every statement is used, every statement's parameters match the @names its text uses, every
 * table is schema-qualified, every column a statement writes exists in the migrations, and the JS side of
 * INSERT_TASKS agrees with its T-SQL. Plus the adapter's pure helpers (outcomes, JSON heads, times).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ConflictError, ValidationError } from '../../src/domain/errors';
import { listMigrations, migrationsDir } from '../../src/store/mssql/deploy/migrations';
import { fromDate, toIsoMs } from '../../src/store/mssql/rows';
import { agentColumns, taskColumns, type Statement } from '../../src/store/mssql/statement';
import * as agents from '../../src/store/mssql/statements/agents';
import * as background from '../../src/store/mssql/statements/background';
import * as fleet from '../../src/store/mssql/statements/fleet';
import * as lease from '../../src/store/mssql/statements/lease';
import * as logs from '../../src/store/mssql/statements/logs';
import * as pools from '../../src/store/mssql/statements/pools';
import * as schema from '../../src/store/mssql/statements/schema';
import * as security from '../../src/store/mssql/statements/security';
import * as tasks from '../../src/store/mssql/statements/tasks';
import { runMsHead } from '../../src/store/mssql/lease';
import { prepareInsert } from '../../src/store/mssql/tasks';
import { newTask, T0 } from '../contract/fixtures';

const ROOT = path.join(__dirname, '..', '..');
const MSSQL = path.join(ROOT, 'src', 'store', 'mssql');

const isStatement = (v: unknown): v is Statement =>
  typeof v === 'object' && v !== null && 'text' in v && 'params' in v && 'idempotent' in v;

const modules = { agents, background, fleet, lease, logs, pools, schema, security, tasks };
const named: Array<[string, Statement]> = Object.values(modules).flatMap((m) =>
  Object.entries(m).flatMap(([k, v]) => (isStatement(v) ? [[k, v] as [string, Statement]] : [])),
);
const shapes = Array.from({ length: 32 }, (_, bits) =>
  tasks.listTasksStatement({
    status: !!(bits & 1),
    type: !!(bits & 2),
    capability: !!(bits & 4),
    beforeId: !!(bits & 8),
    submittedBy: !!(bits & 16),
  }),
);
const all: Statement[] = [...named.map(([, s]) => s), ...shapes];

/** Method names of an interface or class in a TypeScript file. */
function members(file: string, kind: 'interface' | 'class', name: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    const match =
      (kind === 'interface' && ts.isInterfaceDeclaration(node) && node.name.text === name) ||
      (kind === 'class' && ts.isClassDeclaration(node) && node.name?.text === name);
    if (match) {
      for (const m of node.members) {
        // A forwarder to a part (`readonly getSchedule: Store['getSchedule'] = …`) implements a method too.
        const forwarder = ts.isPropertyDeclaration(m) && m.type !== undefined && /^Store\[/.test(m.type.getText());
        const isMethod = ts.isMethodSignature(m) || ts.isMethodDeclaration(m) || forwarder;
        if (isMethod && m.name && ts.isIdentifier(m.name)) out.push(m.name.text);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out.sort();
}

/** The @names a statement's text uses as parameters: not its DECLAREd variables, not @@functions. */
function parametersUsed(text: string): string[] {
  const declared = new Set<string>();
  for (const d of text.matchAll(/DECLARE\s+([^;]+);/g)) {
    for (const v of (d[1] ?? '').matchAll(/@(\w+)/g)) declared.add(v[1] ?? '');
  }
  const used = [...text.matchAll(/(?<!@)@(\w+)/g)].map((m) => m[1] ?? '');
  return [...new Set(used.filter((u) => !declared.has(u)))].sort();
}

/** Column names of every table the migrations create. */
function migrationTables(): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  for (const m of listMigrations(migrationsDir())) {
    const text = fs.readFileSync(m.path, 'utf8');
    for (const t of text.matchAll(/CREATE TABLE \[\$\(Schema\)\]\.\[(\w+)\] \(([\s\S]*?)\n {2}\);/g)) {
      const columns = [
        ...(t[2] ?? '').matchAll(/^\s+(\w+)\s+(?:varchar|nvarchar|int|bigint|bit|float|datetime2|AS)\b/gm),
      ];
      tables.set(t[1] ?? '', new Set(columns.map((c) => c[1] ?? '')));
    }
    // Columns later migrations add to a table: `ALTER TABLE [$(Schema)].[t]` then `ADD column type`.
    for (const added of text.matchAll(/ALTER TABLE \[\$\(Schema\)\]\.\[(\w+)\]\s+ADD (\w+) /g)) {
      tables.get(added[1] ?? '')?.add(added[2] ?? '');
    }
  }
  return tables;
}

describe('the mssql adapter implements the whole port', () => {
  it('has a method for every method of Store, and nothing the port lacks', () => {
    // Store and the parts it extends (the agent, webhook, schedule, purge, route control and workflow ports).
    const port = [
      ...members(path.join(ROOT, 'src', 'store', 'port.ts'), 'interface', 'Store'),
      ...members(path.join(ROOT, 'src', 'store', 'agentPort.ts'), 'interface', 'AgentStore'),
      ...members(path.join(ROOT, 'src', 'store', 'schedulePort.ts'), 'interface', 'ScheduleStore'),
      ...members(path.join(ROOT, 'src', 'store', 'webhookPort.ts'), 'interface', 'WebhookStore'),
      ...members(path.join(ROOT, 'src', 'store', 'purgePort.ts'), 'interface', 'PurgeStore'),
      ...members(path.join(ROOT, 'src', 'store', 'routeControlPort.ts'), 'interface', 'RouteControlStore'),
      ...members(path.join(ROOT, 'src', 'store', 'workflowPort.ts'), 'interface', 'WorkflowStore'),
      ...members(path.join(ROOT, 'src', 'store', 'routeMinutesPort.ts'), 'interface', 'RouteMinuteStore'),
    ].sort();
    const adapter = members(path.join(MSSQL, 'mssqlStore.ts'), 'class', 'MssqlStore');
    expect(port.length).toBeGreaterThan(30);
    expect(adapter).toEqual(port);
  });
});

describe('the statements', () => {
  const adapterSources = [
    ...fs
      .readdirSync(MSSQL)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(MSSQL, f)),
    ...fs.readdirSync(path.join(MSSQL, 'deploy')).map((f) => path.join(MSSQL, 'deploy', f)),
  ]
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');

  it.each(named.map(([k, s]) => [k, s] as const))('%s is named after its export and used by the adapter', (k, s) => {
    expect(s.name).toBe(k);
    expect(adapterSources).toMatch(new RegExp(`\\b${k}\\b`));
  });

  it('includes the listTasks family, used by the adapter', () => {
    expect(adapterSources).toMatch(/\blistTasksStatement\b/);
    expect(new Set(shapes.map((s) => s.name)).size).toBe(32);
  });

  it.each(all.map((s) => [s.name, s] as const))('%s declares exactly the parameters its text uses', (_n, s) => {
    expect(parametersUsed(s.text)).toEqual(Object.keys(s.params).sort());
  });

  it.each(all.map((s) => [s.name, s] as const))('%s names every table with the schema variable', (_n, s) => {
    const bare =
      /(?<!\[\$\(Schema\)\]\.\[|@)\b(tasks|task_events|routes|agents|agent_events|api_keys|audit_log|pools|schema_version)\b/;
    expect(s.text).not.toMatch(bare);
    expect(s.text).not.toMatch(/\bdbo\./i);
  });

  it.each(all.map((s) => [s.name, s] as const))('%s balances its parentheses and BEGIN … END blocks', (_n, s) => {
    const code = s.text.replace(/N?'(?:[^']|'')*'/g, "''");
    expect((code.match(/\(/g) ?? []).length).toBe((code.match(/\)/g) ?? []).length);
    const begins = (code.match(/\bBEGIN\b(?!\s+TRANSACTION)/g) ?? []).length;
    expect(begins).toBe((code.match(/\bEND\b/g) ?? []).length - (code.match(/\bCASE\b/g) ?? []).length);
    // A write transaction always ends: one COMMIT per BEGIN TRANSACTION (a ROLLBACK may end it earlier).
    expect((code.match(/BEGIN TRANSACTION;/g) ?? []).length).toBe((code.match(/COMMIT TRANSACTION;/g) ?? []).length);
  });

  it('marks as idempotent only reads and the writes that are safe to repeat', () => {
    const writes = all.filter((s) => /\b(INSERT|UPDATE|DELETE|MERGE)\b/.test(s.text));
    expect(
      writes
        .filter((s) => s.idempotent)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['HEARTBEAT', 'MARK_DISPATCHED', 'RECORD_AGENT_SAMPLES', 'RENEW_LEASE', 'SET_AGENT_RECYCLE']);
    for (const s of all.filter((x) => !writes.includes(x)))
      expect({ [s.name]: s.idempotent }).toEqual({ [s.name]: true });
  });

  it('runs every multi-statement write in one transaction with XACT_ABORT ON', () => {
    for (const s of all.filter((x) => /BEGIN TRANSACTION/.test(x.text))) {
      expect({ [s.name]: s.text.startsWith('SET XACT_ABORT ON;') }).toEqual({ [s.name]: true });
    }
  });

  it('takes the lease scans and reaper writes with READPAST + READCOMMITTEDLOCK (legal under RCSI)', () => {
    for (const s of [fleet.RECLAIM_LEASE, background.REQUEUE_EXPIRED_LEASE, background.EXPIRE_TASK]) {
      expect(s.text).toMatch(
        /WITH target AS \(\s*SELECT TOP \(1\)[\s\S]*WITH \(UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK\)/,
      );
    }
    for (const s of [background.SELECT_EXPIRED_LEASES, background.SELECT_OVERDUE, fleet.SELECT_LEASES_OF]) {
      expect(s.text).toContain('WITH (READPAST, READCOMMITTEDLOCK)');
    }
    for (const s of all) {
      if (s.text.includes('READPAST'))
        expect({ [s.name]: /READPAST[^)]*READCOMMITTEDLOCK/.test(s.text) }).toEqual({ [s.name]: true });
    }
  });

  it('fences every lease-bound write with the attempt and the holder', () => {
    for (const s of [
      lease.RENEW_LEASE,
      lease.COMPLETE_TASK,
      lease.FAIL_TASK,
      lease.FINISH_CANCELLED,
      lease.RELEASE_TASK,
    ]) {
      expect(s.text).toContain("t.status = 'running' AND t.attempt = @attempt AND t.agent_id = @agentId");
    }
    expect(fleet.RECLAIM_LEASE.text).toContain("status = 'running' AND attempt = @attempt AND agent_id = @agentId");
    expect(background.REQUEUE_EXPIRED_LEASE.text).toContain(
      "status = 'running' AND attempt = @attempt AND lease_expires_at < @now",
    );
  });

  it('upserts with MERGE … WITH (HOLDLOCK)', () => {
    for (const s of all.filter((x) => x.text.includes('MERGE '))) expect(s.text).toMatch(/MERGE \S+ WITH \(HOLDLOCK\)/);
    expect(agents.REGISTER_AGENT.text).toContain('MERGE [$(Schema)].[agents] WITH (HOLDLOCK)');
    expect(tasks.INSERT_TASKS.text).toContain('MERGE [$(Schema)].[routes] WITH (HOLDLOCK)');
  });
});

describe('the statements agree with the migrations', () => {
  const tables = migrationTables();
  const columnsOf = (table: string) => {
    const c = tables.get(table);
    if (!c) throw new Error(`no table ${table} in the migrations`);
    return c;
  };

  it('finds every table', () => {
    expect([...tables.keys()].sort()).toEqual(
      [
        'agent_events',
        'agent_metrics',
        'agents',
        'api_keys',
        'audit_log',
        'circuit_breakers',
        'pools',
        'route_controls',
        'route_events',
        'route_minutes',
        'routes',
        'schedule_runs',
        'schedules',
        'schema_version',
        'task_events',
        'task_log_drops',
        'task_logs',
        'tasks',
        'webhook_attempts',
        'webhook_cursor',
        'webhook_deliveries',
        'webhook_key_secrets',
        'webhook_subscriptions',
        'workflow_events',
        'workflow_steps',
        'workflow_webhook_cursor',
        'workflows',
      ].sort(),
    );
  });

  it('reads task and agent rows by columns that exist', () => {
    for (const c of taskColumns().split(', '))
      expect({ tasks: c, ok: columnsOf('tasks').has(c) }).toEqual({ tasks: c, ok: true });
    for (const c of agentColumns().split(', '))
      expect({ agents: c, ok: columnsOf('agents').has(c) }).toEqual({ agents: c, ok: true });
  });

  it.each(all.map((s) => [s.name, s] as const))('%s inserts and updates only columns that exist', (_n, s) => {
    for (const ins of s.text.matchAll(/INSERT INTO \[\$\(Schema\)\]\.\[(\w+)\] \(([^)]*)\)/g)) {
      const table = columnsOf(ins[1] ?? '');
      for (const c of (ins[2] ?? '').split(',').map((x) => x.trim()))
        expect({ column: c, ok: table.has(c) }).toEqual({ column: c, ok: true });
    }
    const updates = s.text.matchAll(/UPDATE (\S+)\s+SET\s+([\s\S]*?)(?=\bOUTPUT\b|\bFROM\b|\bWHERE\b|\bWHEN\b|;)/g);
    for (const u of updates) {
      const target = u[1] ?? '';
      // An alias names the table its FROM gives it (`UPDATE c SET … FROM [schema].[route_controls] AS c`).
      const aliased = new RegExp(`FROM \\[\\$\\(Schema\\)\\]\\.\\[(\\w+)\\] AS ${target}\\b`).exec(s.text)?.[1];
      const table = /\[(\w+)\]$/.exec(target)?.[1] ?? aliased ?? (s.name === 'REGISTER_AGENT' ? 'agents' : 'tasks');
      const assigned = (u[2] ?? '').split(/,\s*(?=\w+\s*=)/).map((a) => /^(\w+)\s*=/.exec(a.trim())?.[1]);
      for (const c of assigned)
        expect({ table, column: c, ok: columnsOf(table).has(c ?? '') }).toEqual({ table, column: c, ok: true });
    }
  });

  it('INSERT_TASKS reads exactly the fields prepareInsert sends', () => {
    const paths = [...tasks.INSERT_TASKS.text.matchAll(/'\$\.(\w+)'/g)].map((m) => m[1]).sort();
    const [row] = JSON.parse(prepareInsert([newTask()]).json) as Array<Record<string, unknown>>;
    expect(Object.keys(row ?? {}).sort()).toEqual(paths);
  });
});

describe('prepareInsert and the outcomes of INSERT_TASKS', () => {
  const row = (id: string, key: string | null = null) => ({
    id,
    type: 'echo',
    status: 'queued',
    attempt: 0,
    max_attempts: 3,
    required_capabilities: '[]',
    priority: 'normal',
    payload: '{"a":1}',
    result: null,
    error: null,
    agent_id: null,
    lease_expires_at: null,
    cancel_requested: false,
    timeout_seconds: null,
    not_before: new Date(T0),
    deadline: null,
    idempotency_key: key,
    request_hash: key ? 'h' : null,
    submitted_by: null,
    trace_parent: null,
    created_at: new Date(T0),
    started_at: null,
    finished_at: null,
    updated_at: new Date(T0),
  });

  it('sends normalised capabilities, route keys, JSON text and times in the datetime2 form', () => {
    const t = newTask({ requiredCapabilities: ['GPU', 'cuda'], payload: null, deadline: T0 + 1, timeoutSeconds: 2.5 });
    const [sent] = JSON.parse(prepareInsert([t]).json) as Array<Record<string, unknown>>;
    expect(sent).toMatchObject({
      ord: 0,
      requiredCapabilities: '["cuda","gpu"]',
      routeKey: 'echo~cuda+gpu',
      payload: 'null',
      timeoutSeconds: 2.5,
      notBefore: '2023-11-14T22:13:20.000',
      deadline: '2023-11-14T22:13:20.001',
      traceParent: null,
    });
  });

  it('sends a key repeated in the batch once, and answers it as a replay of the first', () => {
    const a = newTask({ idempotencyKey: 'k', requestHash: 'h' });
    const b = newTask({ idempotencyKey: 'k', requestHash: 'h' });
    const c = newTask();
    const prepared = prepareInsert([a, b, c]);
    expect((JSON.parse(prepared.json) as unknown[]).length).toBe(2);
    const out = prepared.outcomes([[], [], [row(a.id, 'k'), row(c.id)]]);
    expect(out.map((outcome) => [outcome.created, outcome.task.id])).toEqual([
      [true, a.id],
      [false, a.id],
      [true, c.id],
    ]);
  });

  it('answers a stored key as a replay of the stored task', () => {
    const a = newTask({ idempotencyKey: 'k', requestHash: 'h' });
    const out = prepareInsert([a]).outcomes([[], [row('stored', 'k')], []]);
    expect(out).toEqual([{ created: false, task: expect.objectContaining({ id: 'stored', idempotencyKey: 'k' }) }]);
  });

  it('throws ConflictError for a key reused with another hash, in the batch or in the store', () => {
    const a = newTask({ idempotencyKey: 'dup-key', requestHash: 'h1' });
    const b = newTask({ idempotencyKey: 'dup-key', requestHash: 'h2' });
    expect(() => prepareInsert([a, b])).toThrow(ConflictError);
    const prepared = prepareInsert([a]);
    expect(() => prepared.outcomes([[{ id: 'stored', idempotency_key: 'dup-key' }]])).toThrow(/dup-key.*stored/);
  });

  it('validates capabilities before anything is sent', () => {
    expect(() => prepareInsert([newTask({ requiredCapabilities: ['ok', 'Not Valid!'] })])).toThrow(ValidationError);
  });

  it('builds the head of a failed event so that it completes to the error with runMs', () => {
    const error = { message: 'b"o\\om', name: 'Error', kind: 'handler', runMs: 5 };
    expect(JSON.parse(`${runMsHead(error)}100}`)).toEqual({ ...error, runMs: 100 });
    expect(JSON.parse(`${runMsHead({})}null}`)).toEqual({ runMs: null });
  });
});

describe('times', () => {
  it('maps epoch milliseconds to datetime2 text and Dates exactly, both ways', () => {
    for (const ms of [0, 1, T0, T0 + 999, 253402300799999]) {
      expect(fromDate(new Date(`${toIsoMs(ms)}Z`))).toBe(ms);
    }
    expect(toIsoMs(T0)).toBe('2023-11-14T22:13:20.000');
  });
});
