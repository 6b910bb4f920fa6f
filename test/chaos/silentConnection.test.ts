/**
 * Chaos: every Redis connection of the fleet (the supervisor's and each worker's) goes silent mid-run, three
 * times: no bytes either way, no FIN, no RST, as when an Azure NAT gateway drops idle flows or a failover leaves
 * sockets that neither answer nor error. New connections pass. Each process must notice by itself (command
 * deadlines, the blocking-read watchdog), reconnect and carry on: nothing lost, nothing run or recorded twice.
 * The deadlines are the defaults (TASKFLEET_REDIS_COMMAND_TIMEOUT_MS 5 s), so the figure is what a user gets.
 */
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { FaultProxy } from '../helpers/faultProxy';
import { REDIS_URL, waitFor } from '../helpers/fleet';

describe('chaos: Redis connections go silent', () => {
  let proxy: FaultProxy | undefined;
  let fleet: ChaosFleet | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await proxy?.close();
  });

  it('every process notices, reconnects and resumes by itself; nothing lost or recorded twice', async () => {
    proxy = await FaultProxy.start(REDIS_URL);
    const p = proxy;
    fleet = ChaosFleet.create({ TASKFLEET_REDIS_URL: p.url });
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    await Promise.all(
      WORKER_KINDS.map((k) => f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 })),
    );

    const total = 2400;
    const ids: string[] = [];
    let next = 0;
    const submit = async (n: number, capabilities?: string[]): Promise<string[]> => {
      const from = next;
      next += n;
      const tasks = chaosTasks(n, from).map((t) => (capabilities ? { ...t, requiredCapabilities: capabilities } : t));
      const sent = await f.submitBatch(sup.url, tasks);
      ids.push(...sent);
      return sent;
    };
    let submitting = true;
    // Submissions go on through every silence: the supervisor's own connection is silenced too.
    const submitter = (async () => {
      while (submitting && next < total) {
        await submit(150);
        await sleep(150); // submission pacing: tasks keep arriving while the faults happen
      }
    })();
    const progress = (n: number) => waitFor(() => f.pending() < next - n || next >= total, 60_000, 'progress', 50);

    // Recovery: from the silence until every task submitted just after it has been claimed. Those tasks reach
    // the workers only once the supervisor and the workers have each noticed and replaced their connections.
    const recoveries: number[] = [];
    const silenced: number[] = [];
    // Resumed: from the silence until the first of those tasks was claimed.
    const resumed: number[] = [];
    let lastAt = 0;
    for (let i = 0; i < 3; i++) {
      await progress(100);
      await sleep(1000); // fault pacing: the fleet has been working for a while on its current connections
      lastAt = Date.now();
      silenced.push(p.silence());
      const after = await submit(60);
      await waitFor(() => f.allClaimedAfter(lastAt, after) !== null, 60_000, `claims after silence ${i + 1}`, 100);
      recoveries.push(f.allClaimedAfter(lastAt, after)!);
      resumed.push(f.firstClaimAfter(lastAt, after)!);
    }
    submitting = false;
    await submitter;
    // Every worker consumes again after the last silence. An idle worker notices later than a busy one (its
    // command connection is quiet until its blocking read's watchdog fires), and the others may have drained
    // the tasks all of them can run by then: tasks keep arriving, a few at a time, until each has claimed one.
    // They ask for the whole capability set of a worker that has not claimed yet, so its pool is the tightest
    // (the `all` worker is no task mix's tightest pool and otherwise gets only what spills).
    const firstClaims = () =>
      f
        .db()
        .prepare<[number], { agent_id: string; first: number }>(
          `SELECT agent_id, MIN(at) AS first FROM task_events WHERE kind = 'started' AND at >= ? GROUP BY agent_id`,
        )
        .all(lastAt);
    await waitFor(
      async () => {
        const claimed = new Set(firstClaims().map((r) => r.agent_id));
        const waiting = WORKER_KINDS.filter((k) => !claimed.has(k.kind));
        if (waiting.length === 0) return true;
        for (const k of waiting) await submit(3, k.capabilities);
        return false;
      },
      60_000,
      'every worker to claim a task after the last silence',
      500,
    );
    await f.waitAllTerminal(90_000);

    const report = checkInvariants(f.db(), ids);
    const claims = firstClaims().sort((a, b) => a.agent_id.localeCompare(b.agent_id));
    const consuming = claims.map((r) => r.agent_id);
    const eachResumed = claims.map((r) => `${r.agent_id} ${((r.first - lastAt) / 1000).toFixed(1)} s`).join(', ');
    reportLine(
      'Redis connections silent ×3 (no FIN, no RST)',
      report,
      recoveries,
      `consumption resumed after ${resumed.map((x) => x.toFixed(2)).join(' / ')} s, connections silenced ${silenced.join(' + ')}, ${p.connections} opened in all, each worker's first claim after the last: ${eachResumed}`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(ids.length);
    // Each silence caught at least every worker's command connection and one blocking read of each.
    for (const n of silenced) expect(n).toBeGreaterThanOrEqual(WORKER_KINDS.length * 2);
    expect(consuming).toEqual(WORKER_KINDS.map((k) => k.kind).sort());
  }, 240_000);
});
