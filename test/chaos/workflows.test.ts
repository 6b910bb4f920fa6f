/**
 * Chaos: workflows of five steps with a gate run while workers are killed with SIGKILL and Redis is flushed
 * (a private redis-server), and, in a second scenario, while the supervisor process is killed and restarted on
 * the same port. Every workflow is submitted over HTTP with an Idempotency-Key and sent again with the same key
 * until it is answered, so a retry cannot store a workflow twice.
 *
 * The shape: analyse → fix → check (a judge gate on fix that rejects round 1) and ship, which needs fix and so
 * starts only after check approved; notes needs analyse only. Seven tasks per workflow: fix and check run twice.
 *
 * Checked from the SQLite file once everything ended: every workflow succeeded; each step released once per
 * round (one `step_released` event, one task per idempotency key `workflow:<id>:<step>:<round>`, no step task
 * without its `step_released` event); each round's result recorded once (one `step_succeeded`, `step_failed` or
 * `gate_rejected` event: a gate's rejected round is recorded as its `gate_rejected`); ship's task first started
 * after the task of check's approving round succeeded, and was released after that approval was recorded; and
 * the task invariants of the chaos suite.
 */
import type Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../src/cli/redisBootstrap';
import { ChaosFleet, TASK_CAPABILITY_SETS, WORKER_KINDS, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { waitFor } from '../helpers/fleet';

/** Rounds each step runs in the end: check rejects round 1 of fix (approveFromRound 2), so both run twice. */
const EXPECTED_ROUNDS: Record<string, number> = { analyse: 1, fix: 2, check: 2, ship: 1, notes: 1 };

function workflowBody(i: number): object {
  const chaos = (step: string, k: number) => ({
    type: 'chaos',
    payload: { ms: 5 + ((i * 7 + k * 11) % 26), tag: 'wf', i, step },
    requiredCapabilities: TASK_CAPABILITY_SETS[(i + k) % TASK_CAPABILITY_SETS.length],
    maxAttempts: 10,
  });
  return {
    name: `chaos-${i}`,
    steps: [
      { id: 'analyse', task: chaos('analyse', 0) },
      { id: 'fix', needs: ['analyse'], task: chaos('fix', 1) },
      {
        id: 'check',
        validates: 'fix',
        needs: ['fix'],
        task: { type: 'judge', payload: { approveFromRound: 2 }, maxAttempts: 10 },
      },
      { id: 'ship', needs: ['fix'], task: chaos('ship', 2) },
      { id: 'notes', needs: ['analyse'], task: chaos('notes', 3) },
    ],
  };
}

/**
 * Submits workflows 0..n-1 from `clients` concurrent clients. Each request is sent again with the same
 * Idempotency-Key after any failure but a 4xx (a refused connection, a reset, a timeout: the supervisor may be
 * dead), so each workflow is stored once whatever happened to the earlier tries. Answers the ids by index and
 * how many requests failed visibly.
 */
async function submitAll(f: ChaosFleet, url: () => string, n: number, run: string, paceMs = 0, clients = 4) {
  const ids: string[] = new Array<string>(n);
  let next = 0;
  let failures = 0;
  const client = async () => {
    for (let i = next++; i < n; i = next++) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const headers = { 'idempotency-key': `chaos-${run}-${i}` };
          ids[i] = (await f.post<{ id: string }>(url(), '/v1/workflows', workflowBody(i), 10_000, headers)).id;
          break;
        } catch (err) {
          if (/: 4\d\d /.test((err as Error).message) || Date.now() > deadline) throw err;
          failures++;
          await sleep(100); // the supervisor is down or restarting: the client tries again shortly
        }
      }
      if (paceMs > 0) await sleep(paceMs); // submission pacing: workflows keep arriving while the faults happen
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { ids, failures };
}

const unfinishedWorkflows = (db: Database.Database) =>
  db
    .prepare<[], { n: number }>(`SELECT count(*) AS n FROM workflows WHERE state IN ('running', 'waiting_approval')`)
    .get()!.n;

interface StepRow {
  workflow_id: string;
  step_id: string;
  state: string;
  round: number;
  task_ids: string;
}
interface EventRow {
  seq: number;
  workflow_id: string;
  kind: string;
  step_id: string;
  round: number;
  data: string | null;
}
interface StepTaskRow {
  id: string;
  idempotency_key: string | null;
  workflow: string;
  started: number | null;
  succeeded: number | null;
}

/** What the workflow checks found; `violations` keeps the first examples. */
interface WorkflowReport {
  workflows: number;
  succeeded: number;
  stepTasks: number;
  doubleReleases: number;
  doubleResults: number;
  tasksWithoutRelease: number;
  startedBeforeGate: number;
  violations: string[];
}

/** Every workflow of `ids` (and every step task in the store) against the invariants in the header. */
function checkWorkflows(db: Database.Database, ids: readonly string[]): WorkflowReport {
  const r: WorkflowReport = {
    workflows: ids.length,
    succeeded: 0,
    stepTasks: 0,
    doubleReleases: 0,
    doubleResults: 0,
    tasksWithoutRelease: 0,
    startedBeforeGate: 0,
    violations: [],
  };
  const violation = (msg: string) => r.violations.length < 20 && r.violations.push(msg);
  const states = new Map(
    db
      .prepare<[], { id: string; state: string }>('SELECT id, state FROM workflows')
      .all()
      .map((w) => [w.id, w.state]),
  );
  const steps = db
    .prepare<[], StepRow>('SELECT workflow_id, step_id, state, round, task_ids FROM workflow_steps')
    .all();
  const events = db
    .prepare<[], EventRow>(
      `SELECT seq, workflow_id, kind, step_id, round, data FROM workflow_events
       WHERE kind IN ('step_released', 'step_succeeded', 'step_failed', 'gate_rejected') ORDER BY seq`,
    )
    .all();
  const tasks = db
    .prepare<[], StepTaskRow>(
      `SELECT t.id, t.idempotency_key, t.workflow,
         (SELECT min(at) FROM task_events e WHERE e.task_id = t.id AND e.kind = 'started') AS started,
         (SELECT min(at) FROM task_events e WHERE e.task_id = t.id AND e.kind = 'succeeded') AS succeeded
       FROM tasks t WHERE t.workflow IS NOT NULL`,
    )
    .all();
  const at = (wf: string, step: string, round: number) => `${wf}:${step}:${round}`;
  const released = new Map<string, EventRow[]>();
  const results = new Map<string, EventRow[]>();
  for (const e of events) {
    const m = e.kind === 'step_released' ? released : results;
    const k = at(e.workflow_id, e.step_id, e.round);
    m.set(k, [...(m.get(k) ?? []), e]);
  }
  const taskById = new Map(tasks.map((t) => [t.id, t]));

  // Every step task: its key names its (workflow, step, round), which has one step_released event naming it.
  r.stepTasks = tasks.length;
  const perKey = new Map<string, number>();
  for (const t of tasks) {
    const ctx = JSON.parse(t.workflow) as { id: string; step: string; round: number };
    const key = `workflow:${ctx.id}:${ctx.step}:${ctx.round}`;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    if (t.idempotency_key !== key) violation(`task ${t.id} has key ${t.idempotency_key}, its context says ${key}`);
    const rel = released.get(at(ctx.id, ctx.step, ctx.round)) ?? [];
    if (!rel.some((e) => (JSON.parse(e.data ?? 'null') as { taskId?: string } | null)?.taskId === t.id)) {
      r.tasksWithoutRelease++;
      violation(`task ${t.id} (${key}) has no step_released event naming it`);
    }
  }
  for (const [key, n] of perKey) if (n > 1) violation(`${n} tasks for ${key}`);

  const stepsOf = new Map<string, Map<string, StepRow>>();
  for (const s of steps) stepsOf.set(s.workflow_id, (stepsOf.get(s.workflow_id) ?? new Map()).set(s.step_id, s));
  for (const id of ids) {
    if (states.get(id) === 'succeeded') r.succeeded++;
    else violation(`workflow ${id} is ${states.get(id) ?? 'missing'}`);
    for (const [stepId, rounds] of Object.entries(EXPECTED_ROUNDS)) {
      const s = stepsOf.get(id)?.get(stepId);
      const taskIds = s ? (JSON.parse(s.task_ids) as string[]) : [];
      if (!s || s.state !== 'succeeded' || s.round !== rounds || taskIds.length !== rounds) {
        violation(`workflow ${id} step ${stepId}: ${s?.state} round ${s?.round} tasks ${taskIds.length}`);
      }
      for (let round = 1; round <= Math.max(rounds, s?.round ?? 0); round++) {
        const rel = released.get(at(id, stepId, round)) ?? [];
        const res = results.get(at(id, stepId, round)) ?? [];
        if (rel.length !== 1) {
          r.doubleReleases++;
          violation(`workflow ${id} step ${stepId} round ${round}: released ${rel.length} times`);
        }
        if (res.length !== 1) {
          r.doubleResults++;
          violation(`workflow ${id} step ${stepId} round ${round}: ${res.length} results recorded`);
        }
      }
    }
    checkGate(id, stepsOf.get(id), released, results, taskById, r, violation);
  }
  return r;
}

/** ship was released after check's approval was recorded, and its task first started after that task succeeded. */
function checkGate(
  id: string,
  steps: Map<string, StepRow> | undefined,
  released: Map<string, EventRow[]>,
  results: Map<string, EventRow[]>,
  taskById: Map<string, StepTaskRow>,
  r: WorkflowReport,
  violation: (msg: string) => void,
): void {
  const approval = results.get(`${id}:check:2`)?.[0];
  const approvingTask = taskById.get((JSON.parse(steps?.get('check')?.task_ids ?? '[]') as string[])[1] ?? '');
  const shipRelease = released.get(`${id}:ship:1`)?.[0];
  const shipTask = taskById.get((JSON.parse(steps?.get('ship')?.task_ids ?? '[]') as string[])[0] ?? '');
  if (approval?.kind !== 'step_succeeded' || !approvingTask?.succeeded || !shipRelease || !shipTask?.started) {
    violation(`workflow ${id}: no approval of check round 2, or ship never ran`);
    return;
  }
  if (shipRelease.seq < approval.seq || shipTask.started < approvingTask.succeeded) {
    r.startedBeforeGate++;
    violation(
      `workflow ${id}: ship released at seq ${shipRelease.seq} / started at ${shipTask.started}, ` +
        `check approved at seq ${approval.seq} / its task succeeded at ${approvingTask.succeeded}`,
    );
  }
}

function workflowLine(r: WorkflowReport): string {
  return (
    `workflows ${r.workflows} (succeeded ${r.succeeded}), step tasks ${r.stepTasks}, ` +
    `released twice ${r.doubleReleases}, results recorded twice ${r.doubleResults}, ` +
    `tasks without a release ${r.tasksWithoutRelease}, started before the gate approved ${r.startedBeforeGate}`
  );
}

function expectWorkflows(r: WorkflowReport, n: number): void {
  expect(r.violations).toEqual([]);
  expect(r.succeeded).toBe(n);
  expect(r.stepTasks).toBe(n * Object.values(EXPECTED_ROUNDS).reduce((a, b) => a + b, 0));
}

describe('chaos: workflows under faults', () => {
  let fleet: ChaosFleet | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await redis?.stop();
    fleet = undefined;
    redis = undefined;
  });

  it('200 workflows with workers killed by kill -9 and Redis flushed: each step once, gates respected', async () => {
    redis = await startPrivateRedis();
    const redisUrl = redis.url;
    fleet = ChaosFleet.create({ TASKFLEET_REDIS_URL: redisUrl });
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    let generation = 0;
    const spawn = (kind: (typeof WORKER_KINDS)[number]) =>
      f.spawnWorker({ id: `${kind.kind}-${generation++}`, capabilities: kind.capabilities, concurrency: 6 });
    await Promise.all(WORKER_KINDS.map(spawn));

    const n = 200;
    let submitting = true;
    const submission = submitAll(f, () => sup.url, n, 'kill', 20).finally(() => (submitting = false));

    // Faults in turn: two workers killed (a new one of its kind joins each time), then a FLUSHALL, until the work is
    // nearly done (18 faults at most: on a loaded machine each new worker's start slows the scenario down).
    const kills: Array<{ at: number; tasks: Array<{ id: string; attempt: number }> }> = [];
    const flushes: Array<{ at: number; waiting: string[] }> = [];
    const joins: Array<Promise<unknown>> = [];
    for (let i = 0; i < 18 && (submitting || unfinishedWorkflows(f.db()) > 20); i++) {
      await sleep(500 + Math.random() * 400); // fault pacing: the next fault at a random moment
      if (i % 3 === 2) {
        const waiting = f.queuedIds();
        const admin = new Redis(redisUrl);
        const at = Date.now();
        await admin.flushall();
        admin.disconnect();
        flushes.push({ at, waiting });
        continue;
      }
      const killed = await f.killRandomWorker();
      if (!killed) continue;
      kills.push({ at: killed.at, tasks: killed.tasks });
      joins.push(spawn(killed.kind));
    }
    const { ids, failures } = await submission;
    await Promise.all(joins);
    await waitFor(() => unfinishedWorkflows(f.db()) === 0, 60_000, 'every workflow to end', 100);
    await f.waitAllTerminal(30_000);

    const wf = checkWorkflows(f.db(), ids);
    const report = checkInvariants(f.db());
    const recoveries = [
      ...kills.map((k) => f.takenBackAfter(k.at, k.tasks)),
      ...flushes.map((x) => f.allClaimedAfter(x.at, x.waiting)),
    ];
    reportLine(
      `workflows, worker kill -9 ×${kills.length} and FLUSHALL ×${flushes.length}`,
      report,
      recoveries,
      `${workflowLine(wf)}, ${failures} submits retried`,
    );
    expectInvariants(report);
    expectWorkflows(wf, n);
    expect(kills.length).toBeGreaterThanOrEqual(2);
    expect(flushes.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('workflows with the supervisor killed by kill -9 and restarted: each step once, gates respected', async () => {
    fleet = ChaosFleet.create();
    const f = fleet;
    let sup = await f.startSupervisorProcess();
    const port = sup.port;
    await Promise.all(
      WORKER_KINDS.slice(0, 3).map((k) => f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 })),
    );

    const n = 100;
    let submitting = true;
    const submission = submitAll(f, () => sup.url, n, 'sup', 60).finally(() => (submitting = false));
    const recoveries: number[] = [];
    let whileSubmitting = 0;
    // At least three kills, the first while submissions are in flight; then more while steps are under way.
    for (let i = 0; i < 3 || (i < 6 && unfinishedWorkflows(f.db()) > 10); i++) {
      await sleep((i === 0 ? 200 : 600) + Math.random() * 600); // fault pacing: the next kill at a random moment
      const killedAt = Date.now();
      if (submitting) whileSubmitting++;
      await f.signal(sup, 'SIGKILL');
      sup = await f.startSupervisorProcess(port);
      recoveries.push((Date.now() - killedAt) / 1000); // until the restarted supervisor answered /readyz
    }
    const { ids, failures } = await submission;
    await waitFor(() => unfinishedWorkflows(f.db()) === 0, 60_000, 'every workflow to end', 100);
    await f.waitAllTerminal(30_000);

    const wf = checkWorkflows(f.db(), ids);
    const report = checkInvariants(f.db());
    const stored = f.db().prepare<[], { n: number }>('SELECT count(*) AS n FROM workflows').get()!.n;
    reportLine(
      `workflows, supervisor kill -9 ×${recoveries.length}`,
      report,
      recoveries,
      `${workflowLine(wf)}, ${whileSubmitting} kills while submitting, ${failures} submits retried, ` +
        `${stored} workflows stored`,
    );
    expectInvariants(report);
    expectWorkflows(wf, n);
    expect(new Set(ids).size).toBe(n);
    expect(stored).toBe(n);
    expect(whileSubmitting).toBeGreaterThan(0);
  }, 120_000);
});
