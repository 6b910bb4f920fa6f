/**
 * Chaos: two supervisors run at once on one store and one Redis, while workers are killed (so both lease
 * reapers and both heartbeat enforcers act on the same leases and agents) and Redis is flushed (so both
 * reconcilers re-send everything; a private redis-server, since FLUSHALL must be atomic). Background loops must not double-act: one take-back and one outcome per
 * attempt, one claim per attempt, no agent state entered twice in a row.
 */
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../src/cli/redisBootstrap';
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, doubleAgentTransitions, expectInvariants, reportLine } from '../helpers/chaosInvariants';

describe('chaos: two supervisors at once', () => {
  let fleet: ChaosFleet | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await redis?.stop();
  });

  it('never acts twice on one lease, attempt or agent', async () => {
    redis = await startPrivateRedis();
    fleet = ChaosFleet.create({ TASKFLEET_REDIS_URL: redis.url });
    const f = fleet;
    const a = await f.startInProcessSupervisor();
    const b = await f.startSupervisorProcess();
    let generation = 0;
    const spawn = (k: (typeof WORKER_KINDS)[number]) =>
      f.spawnWorker({ id: `${k.kind}-${generation++}`, capabilities: k.capabilities, concurrency: 6 });
    await Promise.all(WORKER_KINDS.map(spawn));

    const ids: string[] = [];
    let submitting = true;
    const submitter = (async () => {
      for (let i = 0; i < 3000; i += 200) {
        // Alternate between the two supervisors' APIs.
        ids.push(...(await f.submitBatch((i / 200) % 2 === 0 ? a.url : b.url, chaosTasks(200, i))));
        await sleep(150); // submission pacing: tasks keep arriving while the faults happen
      }
      submitting = false;
    })();

    const faults: Array<{ at: number; tasks: Array<{ id: string; attempt: number }> }> = [];
    const joins: Array<Promise<unknown>> = [];
    let flushed = false;
    while (faults.length < 5 && (submitting || f.pending() > 200)) {
      await sleep(500 + Math.random() * 400); // fault pacing: the next fault at a random moment
      if (faults.length === 2 && !flushed) {
        flushed = true;
        const admin = new Redis(f.config.redisUrl);
        await admin.flushall();
        admin.disconnect();
      }
      const killed = await f.killRandomWorker();
      if (!killed) continue;
      faults.push({ at: killed.at, tasks: killed.tasks });
      joins.push(spawn(killed.kind));
    }
    await submitter;
    await Promise.all(joins);
    await f.waitAllTerminal(120_000);

    const report = checkInvariants(f.db(), ids);
    const agentDoubles = doubleAgentTransitions(f.db());
    const recoveries = faults.map((x) => f.takenBackAfter(x.at, x.tasks));
    reportLine(
      'two supervisors, worker kill -9 ×5, FLUSHALL once',
      report,
      recoveries,
      `double actions ${report.doubleActions}, agent states entered twice ${agentDoubles.length}`,
    );
    expectInvariants(report);
    expect(report.doubleActions).toBe(0);
    expect(agentDoubles).toEqual([]);
    expect(report.succeeded).toBe(ids.length);
  }, 200_000);
});
