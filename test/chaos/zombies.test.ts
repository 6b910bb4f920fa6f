/**
 * Chaos: zombies. A worker that stalls without dying (SIGSTOP: no lease renewals, no heartbeats) and then
 * resumes (SIGCONT), and workers whose clock is skewed (TASKFLEET_TEST_CLOCK_SKEW_MS, see
 * src/config/testHooks.ts), so that their leases expire early or late from the supervisor's point of view.
 * Their tasks are taken back and finished by others; their late results must be rejected by fencing (the
 * attempt), leaving `result_rejected` events and never a second result.
 */
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { waitFor } from '../helpers/fleet';

/** How long a SIGSTOP lasts. */
const STOP_MS = 3000;

describe('chaos: zombie workers', () => {
  let fleet: ChaosFleet | undefined;
  afterEach(() => fleet?.stop());

  it('rejects the late results of workers that stall without dying', async () => {
    // A freeze after 25 missed heartbeats (5 s) rather than 10 (2 s), so that a stall can outlast the lease and
    // the suspension by seconds, not tenths of one (on a loaded machine the supervisor's loops run late).
    fleet = ChaosFleet.create({ TASKFLEET_HEARTBEAT_THRESHOLDS: '3,5,25' });
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    await Promise.all(
      WORKER_KINDS.map((k) => f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 })),
    );
    // Three of the tasks block their worker's event loop for 3 s on their first attempt: longer than the lease
    // (1.5 s) and the enforcer's suspension (5 missed heartbeats, 1 s), shorter than a freeze (5 s), so the
    // worker comes back and takes work again.
    const stallAt = new Set([400, 1400, 2400]);
    const ids: string[] = [];
    for (let i = 0; i < 3000; i += 200) {
      const tasks = chaosTasks(200, i).map((t: any) =>
        stallAt.has(t.payload.i) ? { ...t, payload: { ...t.payload, stallMs: 3000 } } : t,
      );
      ids.push(...(await f.submitBatch(sup.url, tasks)));
      await sleep(200); // submission pacing: tasks keep arriving while the faults happen
    }
    await f.waitAllTerminal(120_000);

    const report = checkInvariants(f.db(), ids);
    const stalls = f
      .db()
      .prepare<[], { id: string; agent: string; at: number; back: number | null }>(
        `SELECT t.id, s.agent_id AS agent, s.at,
           (SELECT min(b.at) FROM task_events b WHERE b.task_id = t.id AND b.attempt = 1
              AND b.kind IN ('lease_expired', 'lease_reclaimed')) AS back
         FROM tasks t JOIN task_events s ON s.task_id = t.id AND s.kind = 'started' AND s.attempt = 1
         WHERE json_extract(t.payload, '$.stallMs') IS NOT NULL`,
      )
      .all();
    const stalledAgents = new Set(stalls.map((s) => s.agent));
    const byStalled = [...stalledAgents].reduce((n, a) => n + (report.rejectedBy[a] ?? 0), 0);
    reportLine(
      'stalled workers (event loop blocked 3 s) ×3',
      report,
      stalls.map((s) => (s.back === null ? null : (s.back - s.at) / 1000)),
      `late results rejected from the stalled workers ${byStalled}`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(ids.length);
    expect(stalls).toHaveLength(3);
    expect(stalls.every((s) => s.back !== null)).toBe(true);
    // At least the stalled task itself reports late each time.
    expect(byStalled).toBeGreaterThanOrEqual(3);
  }, 200_000);

  it('rejects the late results of workers stopped by SIGSTOP, and resumes after SIGCONT', async () => {
    fleet = ChaosFleet.create();
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    let generation = 0;
    const spawn = (k: (typeof WORKER_KINDS)[number]) =>
      f.spawnWorker({ id: `${k.kind}-${generation++}`, capabilities: k.capabilities, concurrency: 6 });
    await Promise.all(WORKER_KINDS.map(spawn));

    const ids: string[] = [];
    const stops: Array<{ id: string; at: number; tasks: Array<{ id: string; attempt: number }>; gap: number }> = [];
    let submitting = true;
    const submitter = (async () => {
      // 2,400 tasks, and more (up to 4,800) while the two stops have not happened: a fleet fast enough to
      // drain the first 2,400 before a worker could be caught with tasks running still meets both stops.
      for (let i = 0; i < 4800 && (i < 2400 || stops.length < 2); i += 200) {
        ids.push(...(await f.submitBatch(sup.url, chaosTasks(200, i), { retryStalls: true })));
        await sleep(250); // submission pacing: tasks keep arriving while the faults happen
      }
      submitting = false;
    })();

    while (stops.length < 2 && (submitting || f.pending() > 100)) {
      await sleep(400); // fault pacing, and the pace of looking for a worker that holds tasks
      const victim = f.aliveWorkers().find((w) => !stops.some((s) => s.id === w.id) && f.runningOn(w.id).length > 0);
      if (!victim) continue;
      const kind = WORKER_KINDS.find((k) => k.capabilities.join(',') === victim.capabilities.join(','))!;
      const tasks = f.runningOn(victim.id);
      const at = Date.now();
      await f.signal(victim, 'SIGSTOP');
      // The fault itself, for a fixed time (longer than the lease, 1.5 s, and a freeze, 10 heartbeats or 2 s),
      // not until a state: a stop that catches the worker inside a write transaction holds SQLite's write lock,
      // so no take-back or freeze can be recorded until it resumes.
      await sleep(STOP_MS);
      victim.child.kill('SIGCONT');
      // The longest pause between two task events while it was stopped: when the stop caught the worker inside
      // a write transaction, SQLite's single write lock held every writer of the fleet for the whole stop.
      const gap = f
        .db()
        .prepare<[number, number], { gap: number | null }>(
          `SELECT max(at - prev) AS gap FROM (SELECT at, lag(at) OVER (ORDER BY seq) AS prev FROM task_events
             WHERE at BETWEEN ? AND ?)`,
        )
        .get(at, at + STOP_MS)!.gap;
      stops.push({ id: victim.id, at, tasks, gap: (gap ?? STOP_MS) / 1000 });
      await spawn(kind); // it comes back frozen (it missed 10 heartbeats): replace its capacity
    }
    await submitter;
    await f.waitAllTerminal(120_000);

    const report = checkInvariants(f.db(), ids);
    const byStopped = stops.reduce((n, s) => n + (report.rejectedBy[s.id] ?? 0), 0);
    reportLine(
      'workers stopped by SIGSTOP for 3 s ×2',
      report,
      stops.map((s) => f.takenBackAfter(s.at, s.tasks)),
      `late results rejected from the stopped workers ${byStopped}, ` +
        `longest pause of all task writes during a stop ${Math.max(...stops.map((s) => s.gap)).toFixed(2)} s`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(ids.length);
    expect(stops).toHaveLength(2);
  }, 200_000);

  it('rejects the late results of workers whose clock is skewed', async () => {
    // Lenient heartbeat thresholds (4 s / 8 s / 16 s): the enforcer would otherwise suspend the slow clock's
    // agent at once (its heartbeats look 2 s old), and only the lease, not the enforcer, is under test here.
    fleet = ChaosFleet.create({ TASKFLEET_HEARTBEAT_THRESHOLDS: '20,40,80' });
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    await Promise.all([
      ...WORKER_KINDS.slice(0, 3).map((k) =>
        f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 }),
      ),
      // 2 s behind: each lease it takes is already expired from the supervisor's point of view (lease 1.5 s).
      f.spawnWorker({
        id: 'slow-clock',
        capabilities: ['cuda', 'fs', 'gpu'],
        concurrency: 6,
        env: { TASKFLEET_TEST_CLOCK_SKEW_MS: '-2000' },
      }),
      // 2 s ahead: its leases outlive it by 2 s; stalled, its tasks come back only after lease + skew.
      f.spawnWorker({
        id: 'fast-clock',
        capabilities: ['cuda', 'fs', 'gpu'],
        concurrency: 6,
        env: { TASKFLEET_TEST_CLOCK_SKEW_MS: '2000' },
      }),
    ]);

    const ids: string[] = [];
    for (let i = 0; i < 3000; i += 300) {
      ids.push(...(await f.submitBatch(sup.url, chaosTasks(300, i))));
      await sleep(150); // submission pacing: tasks keep arriving while the faults happen
    }
    // The fast clock's worker stalls while it holds leases; it resumes after they were taken back.
    const fast = f.workers.get('fast-clock')!;
    await waitFor(
      () => f.runningOn('fast-clock').length > 0 || f.pending() === 0,
      30_000,
      'fast-clock to hold leases',
      5,
    );
    const stalledAt = await f.stopOutsideWrites(fast);
    const held = f.runningOn('fast-clock');
    if (held.length > 0) await waitFor(() => f.takenBackAfter(stalledAt, held) !== null, 30_000, 'take-back', 50);
    fast.child.kill('SIGCONT');
    await f.waitAllTerminal(120_000);

    const report = checkInvariants(f.db(), ids);
    const took = (agent: string) =>
      f
        .db()
        .prepare<[string], { n: number }>(
          `SELECT count(*) AS n FROM task_events WHERE kind = 'started' AND agent_id = ?`,
        )
        .get(agent)!.n;
    reportLine(
      'skewed clocks (-2 s, +2 s and stalled)',
      report,
      [f.takenBackAfter(stalledAt, held)],
      `slow clock: ${took('slow-clock')} claims, ${report.rejectedBy['slow-clock'] ?? 0} late results rejected; ` +
        `fast clock: ${took('fast-clock')} claims, ${report.rejectedBy['fast-clock'] ?? 0} rejected`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(ids.length);
    expect(report.rejectedBy['slow-clock'] ?? 0).toBeGreaterThan(0);
  }, 200_000);
});
