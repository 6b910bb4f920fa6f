/**
 * Chaos: the supervisor process is killed with SIGKILL and restarted on the same port while clients keep
 * submitting single tasks and batches. A submission in flight either fails visibly (the client sees an error)
 * or is stored whole: no batch is half-written, every acknowledged task is in the store, and every stored task
 * ends, including those committed just before the kill whose enqueue never happened (the reconciler sends them).
 */
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { waitFor } from '../helpers/fleet';

interface Submission {
  tag: string;
  size: number;
  ok: boolean;
  ids: string[];
}

describe('chaos: kill -9 of the supervisor', () => {
  let fleet: ChaosFleet | undefined;
  afterEach(() => fleet?.stop());

  it('stores every submission whole or not at all, and loses no accepted task', async () => {
    fleet = ChaosFleet.create();
    const f = fleet;
    let sup = await f.startSupervisorProcess();
    const port = sup.port;
    await Promise.all(
      WORKER_KINDS.slice(0, 3).map((k) => f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 })),
    );

    const submissions: Submission[] = [];
    let serial = 0;
    let running = true;
    // Two clients: single submits and batches of 2 to 60, back to back, so requests are in flight at each kill.
    const client = async (c: number) => {
      while (running) {
        const tag = `c${c}-${serial++}`;
        const size = serial % 3 === 0 ? 1 : 2 + (serial % 59);
        const tasks = chaosTasks(size, serial * 100, tag);
        const s: Submission = { tag, size, ok: false, ids: [] };
        submissions.push(s);
        try {
          if (size === 1) s.ids = [(await f.post<{ id: string }>(sup.url, '/v1/tasks', tasks[0], 5000)).id];
          else s.ids = await f.submitBatch(sup.url, tasks);
          s.ok = true;
        } catch {
          await sleep(50); // the supervisor is down: the client saw the failure and tries again shortly
        }
      }
    };
    const clients = [client(1), client(2)];

    const recoveries: number[] = [];
    for (let i = 0; i < 4; i++) {
      await sleep(700 + Math.random() * 600); // fault pacing: the next kill at a random moment
      const killedAt = Date.now();
      await f.signal(sup, 'SIGKILL');
      sup = await f.startSupervisorProcess(port);
      // Recovery: from the kill until the restarted supervisor accepted a submission.
      const before = submissions.length;
      await waitFor(() => submissions.slice(before).some((s) => s.ok), 20_000, 'an accepted submission');
      recoveries.push((Date.now() - killedAt) / 1000);
    }
    running = false;
    await Promise.all(clients);
    await f.waitAllTerminal(90_000);

    // Every acknowledged task is stored; every stored submission is whole.
    const stored = f
      .db()
      .prepare<[], { tag: string; n: number; submitted: number }>(
        `SELECT json_extract(t.payload, '$.tag') AS tag, count(*) AS n,
           sum((SELECT count(*) FROM task_events e WHERE e.task_id = t.id AND e.kind = 'submitted')) AS submitted
         FROM tasks t GROUP BY tag`,
      )
      .all();
    const byTag = new Map(stored.map((r) => [r.tag, r]));
    const acknowledgedMissing = submissions.filter((s) => s.ok && byTag.get(s.tag)?.n !== s.size);
    const halfWritten = submissions.filter((s) => {
      const n = byTag.get(s.tag)?.n ?? 0;
      return n !== 0 && n !== s.size;
    });
    const withoutSubmittedEvent = stored.filter((r) => r.submitted !== r.n);
    const failedButStored = submissions.filter((s) => !s.ok && byTag.has(s.tag)).length;
    const failed = submissions.filter((s) => !s.ok).length;

    const report = checkInvariants(f.db());
    reportLine(
      'supervisor kill -9 ×4',
      report,
      recoveries,
      `${submissions.length} submissions, ${failed} failed visibly (${failedButStored} of them stored whole), ` +
        `half-written 0/${halfWritten.length}`,
    );
    expectInvariants(report);
    expect(acknowledgedMissing.map((s) => s.tag)).toEqual([]);
    expect(halfWritten.map((s) => s.tag)).toEqual([]);
    expect(withoutSubmittedEvent).toEqual([]);
    expect(report.succeeded).toBe(report.tasks);
    expect(failed).toBeGreaterThan(0);
  }, 180_000);
});
