/**
 * The chaos suite's invariant checks and its figures line, read straight from a fleet's SQLite file after a
 * scenario (see test/helpers/chaos.ts for the fleet itself).
 */
import type Database from 'better-sqlite3';

/** What the invariant check found; `violations` lists examples of anything that broke an invariant. */
export interface ChaosReport {
  tasks: number;
  succeeded: number;
  dead: number;
  lost: number;
  duplicatedResults: number;
  staleResults: number;
  onIncapableWorker: number;
  doubleClaims: number;
  maxAttemptsViolations: number;
  highestAttempt: number;
  maxAttempts: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  doubleActions: number;
  violations: string[];
}

interface TaskRow {
  id: string;
  type: string;
  status: string;
  attempt: number;
  max_attempts: number;
  required_capabilities: string;
  agent_id: string | null;
}

interface EventRow {
  task_id: string;
  kind: string;
  attempt: number;
  agent_id: string | null;
}

const TERMINAL = new Set(['succeeded', 'dead', 'cancelled', 'expired']);

interface AgentCapabilities {
  caps: Set<string>;
  types: string[];
}

/** Everything the check reads from the store, in one snapshot. */
interface History {
  byId: Map<string, TaskRow>;
  perTask: Map<string, EventRow[]>;
  agents: Map<string, AgentCapabilities>;
}

function readHistory(db: Database.Database): History {
  const tasks = db.prepare<[], TaskRow>('SELECT * FROM tasks').all();
  const events = db
    .prepare<[], EventRow>(
      `SELECT task_id, kind, attempt, agent_id FROM task_events
       WHERE kind IN ('started', 'succeeded', 'result_rejected', 'released', 'lease_expired', 'lease_reclaimed',
                      'retry_scheduled', 'dead')
       ORDER BY seq`,
    )
    .all();
  const agents = new Map(
    db
      .prepare<[], { id: string; capabilities: string; types: string }>('SELECT id, capabilities, types FROM agents')
      .all()
      .map((a) => [
        a.id,
        { caps: new Set(JSON.parse(a.capabilities) as string[]), types: JSON.parse(a.types) as string[] },
      ]),
  );
  const perTask = new Map<string, EventRow[]>();
  for (const e of events) {
    const list = perTask.get(e.task_id);
    if (list) list.push(e);
    else perTask.set(e.task_id, [e]);
  }
  return { byId: new Map(tasks.map((t) => [t.id, t])), perTask, agents };
}

function emptyReport(tasks: number): ChaosReport {
  return {
    tasks,
    succeeded: 0,
    dead: 0,
    lost: 0,
    duplicatedResults: 0,
    staleResults: 0,
    onIncapableWorker: 0,
    doubleClaims: 0,
    maxAttemptsViolations: 0,
    highestAttempt: 0,
    maxAttempts: 0,
    rejected: 0,
    rejectedBy: {},
    doubleActions: 0,
    violations: [],
  };
}

/** Keeps the first 20 examples: enough to see what broke, few enough to read. */
function violation(r: ChaosReport, msg: string): void {
  if (r.violations.length < 20) r.violations.push(msg);
}

/** One `succeeded` event for a succeeded task (none otherwise), from its current attempt and agent. */
function checkResults(r: ChaosReport, t: TaskRow, evs: EventRow[]): void {
  const results = evs.filter((e) => e.kind === 'succeeded');
  if (results.length !== (t.status === 'succeeded' ? 1 : 0)) {
    r.duplicatedResults++;
    violation(r, `task ${t.id} (${t.status}) has ${results.length} succeeded events`);
  }
  for (const e of results) {
    if (e.attempt !== t.attempt || e.agent_id !== t.agent_id) {
      r.staleResults++;
      violation(
        r,
        `task ${t.id}: result of attempt ${e.attempt} by ${e.agent_id}, current ${t.attempt} by ${t.agent_id}`,
      );
    }
  }
}

/** Each claim by a capable agent, once per attempt; one take-back and one outcome per attempt at most. */
function checkAttempts(r: ChaosReport, t: TaskRow, evs: EventRow[], agents: Map<string, AgentCapabilities>): void {
  const required = JSON.parse(t.required_capabilities) as string[];
  const claims = new Map<number, number>();
  const takeBacks = new Map<number, number>();
  const outcomes = new Map<number, number>();
  const bump = (m: Map<number, number>, attempt: number) => m.set(attempt, (m.get(attempt) ?? 0) + 1);
  for (const e of evs) {
    if (e.kind === 'started') {
      bump(claims, e.attempt);
      const agent = e.agent_id ? agents.get(e.agent_id) : undefined;
      if (!agent || !required.every((c) => agent.caps.has(c)) || !agent.types.includes(t.type)) {
        r.onIncapableWorker++;
        violation(r, `task ${t.id} needs [${required.join(',')}] but attempt ${e.attempt} ran on ${e.agent_id}`);
      }
    } else if (e.kind === 'lease_expired' || e.kind === 'lease_reclaimed') {
      bump(takeBacks, e.attempt);
    } else if (e.kind === 'retry_scheduled' || e.kind === 'dead') {
      bump(outcomes, e.attempt);
    } else if (e.kind === 'result_rejected') {
      r.rejected++;
      const by = e.agent_id ?? '(none)';
      r.rejectedBy[by] = (r.rejectedBy[by] ?? 0) + 1;
    }
  }
  for (const [attempt, n] of claims) {
    if (n > 1) {
      r.doubleClaims++;
      violation(r, `task ${t.id}: attempt ${attempt} was claimed ${n} times`);
    }
  }
  for (const [label, m] of [
    ['lease take-backs', takeBacks],
    ['outcomes', outcomes],
  ] as const) {
    for (const [attempt, n] of m) {
      if (n > 1) {
        r.doubleActions++;
        violation(r, `task ${t.id}: attempt ${attempt} has ${n} ${label}`);
      }
    }
  }
}

/** Attempts beyond maxAttempts are allowed only for releases (a draining worker handing a task back). */
function checkAttemptCount(r: ChaosReport, t: TaskRow, evs: EventRow[]): void {
  const released = evs.filter((e) => e.kind === 'released').length;
  r.highestAttempt = Math.max(r.highestAttempt, t.attempt);
  r.maxAttempts = Math.max(r.maxAttempts, t.max_attempts);
  if (t.attempt - released > t.max_attempts) {
    r.maxAttemptsViolations++;
    violation(r, `task ${t.id}: attempt ${t.attempt} (${released} released) over maxAttempts ${t.max_attempts}`);
  }
}

/**
 * Checks the invariants over the given tasks (every task in the store when `ids` is omitted):
 *  - every task is in the store and terminal (`lost` otherwise);
 *  - a succeeded task has exactly one `succeeded` event, others none (`duplicatedResults`);
 *  - that event is the current attempt's, by the task's recorded agent (`staleResults`: a zombie's result);
 *  - every claim was made by an agent whose capabilities cover the task's and that has its type;
 *  - one claim per attempt (`doubleClaims`), attempt ≤ maxAttempts + releases;
 *  - one lease take-back and one outcome per attempt (`doubleActions`: two supervisors acting twice).
 */
export function checkInvariants(db: Database.Database, ids?: readonly string[]): ChaosReport {
  const history = readHistory(db);
  const wanted = ids ?? [...history.byId.keys()];
  const r = emptyReport(wanted.length);
  for (const id of wanted) {
    const t = history.byId.get(id);
    if (!t || !TERMINAL.has(t.status)) {
      r.lost++;
      violation(r, `task ${id} is ${t ? t.status : 'missing from the store'}`);
      continue;
    }
    if (t.status === 'succeeded') r.succeeded++;
    if (t.status === 'dead') r.dead++;
    const evs = history.perTask.get(id) ?? [];
    checkResults(r, t, evs);
    checkAttempts(r, t, evs, history.agents);
    checkAttemptCount(r, t, evs);
  }
  return r;
}

/** Agents whose status history shows the same state entered twice in a row (two supervisors acting twice). */
export function doubleAgentTransitions(db: Database.Database): string[] {
  const rows = db
    .prepare<[], { agent_id: string; from_state: string | null; to_state: string; reason: string }>(
      'SELECT agent_id, from_state, to_state, reason FROM agent_events ORDER BY seq',
    )
    .all();
  const last = new Map<string, string>();
  const out: string[] = [];
  for (const e of rows) {
    // A re-registration that keeps a held state records from = to on purpose.
    if (e.from_state !== e.to_state && last.get(e.agent_id) === e.to_state) {
      out.push(`${e.agent_id}: ${e.to_state} twice in a row (${e.reason})`);
    }
    last.set(e.agent_id, e.to_state);
  }
  return out;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Prints the scenario's figures line and returns it. */
export function reportLine(name: string, r: ChaosReport, recoveries: Array<number | null>, extra = ''): string {
  const rec = recoveries.filter((x): x is number => x !== null).sort((a, b) => a - b);
  const line =
    `[chaos] ${name}: tasks ${r.tasks} (succeeded ${r.succeeded}, dead ${r.dead}), lost ${r.lost}, ` +
    `duplicated results ${r.duplicatedResults}, stale results ${r.staleResults}, ` +
    `on incapable worker ${r.onIncapableWorker}, ` +
    `max attempts ${r.maxAttemptsViolations === 0 ? 'respected' : `VIOLATED ×${r.maxAttemptsViolations}`} ` +
    `(highest attempt ${r.highestAttempt} of ${r.maxAttempts}), zombie results rejected ${r.rejected}, ` +
    `recovery p50 ${quantile(rec, 0.5).toFixed(2)} s / max ${(rec[rec.length - 1] ?? NaN).toFixed(2)} s ` +
    `(${rec.length} faults)${extra ? `, ${extra}` : ''}`;
  console.log(line);
  return line;
}

/** The standard assertions of a chaos scenario. */
export function expectInvariants(r: ChaosReport): void {
  expect(r.violations).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.duplicatedResults).toBe(0);
  expect(r.staleResults).toBe(0);
  expect(r.onIncapableWorker).toBe(0);
  expect(r.doubleClaims).toBe(0);
  expect(r.maxAttemptsViolations).toBe(0);
}
