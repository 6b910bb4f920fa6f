/**
 * Chaos: workers die by SIGKILL at random moments while a few thousand tasks run, and new workers join.
 * Their leases run out (or the heartbeat enforcer takes them back) and other capable workers finish the tasks.
 */
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';

describe('chaos: random kill -9 of workers', () => {
  let fleet: ChaosFleet;
  afterEach(() => fleet?.stop());

  it('loses no task, records each result once, and respects capabilities', async () => {
    fleet = ChaosFleet.create();
    const sup = await fleet.startInProcessSupervisor();
    let generation = 0;
    const spawn = (kind: (typeof WORKER_KINDS)[number]) =>
      fleet.spawnWorker({ id: `${kind.kind}-${generation++}`, capabilities: kind.capabilities, concurrency: 6 });
    await Promise.all(WORKER_KINDS.map(spawn));

    const total = 3000;
    const ids: string[] = [];
    let submitting = true;
    const submitter = (async () => {
      for (let i = 0; i < total; i += 250) {
        ids.push(...(await fleet.submitBatch(sup.url, chaosTasks(250, i))));
        await sleep(150); // submission pacing: tasks keep arriving while the faults happen
      }
      submitting = false;
    })();

    const faults: Array<{ at: number; tasks: Array<{ id: string; attempt: number }> }> = [];
    const joins: Array<Promise<unknown>> = [];
    while (faults.length < 8 && (submitting || fleet.pending() > 200)) {
      await sleep(400 + Math.random() * 400); // fault pacing: the next kill at a random moment
      const killed = await fleet.killRandomWorker();
      if (!killed) continue;
      faults.push({ at: killed.at, tasks: killed.tasks });
      joins.push(spawn(killed.kind));
    }
    await submitter;
    await Promise.all(joins);
    await fleet.waitAllTerminal(90_000);

    const report = checkInvariants(fleet.db(), ids);
    // Recovery: from the kill until every lease the victim held was taken back (expired or reclaimed).
    const recoveries = faults.map((f) => fleet.takenBackAfter(f.at, f.tasks));
    reportLine(
      'worker kill -9',
      report,
      recoveries,
      `${faults.length} workers killed, ${generation} started, longest wait for a first claim ${fleet.longestFirstWait().toFixed(1)} s`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(total);
    expect(faults.length).toBeGreaterThanOrEqual(4);
  }, 180_000);
});
