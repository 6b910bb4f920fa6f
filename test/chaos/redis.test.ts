/**
 * Chaos: Redis is flushed, restarted, and down for several seconds while a few thousand tasks run (a private
 * redis-server). SQL is the truth: submissions keep being accepted, and the supervisor and the workers resume
 * by themselves once Redis answers again (none may hang on a dead connection).
 */
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../src/cli/redisBootstrap';
import { ChaosFleet, WORKER_KINDS, chaosTasks, sleep } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { waitFor } from '../helpers/fleet';

describe('chaos: Redis FLUSHALL, restart and outage', () => {
  let redis: PrivateRedis | undefined;
  let fleet: ChaosFleet | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await redis?.stop();
  });

  it('resumes by itself after each fault and records every task once', async () => {
    redis = await startPrivateRedis();
    const port = Number(new URL(redis.url).port);
    fleet = ChaosFleet.create({ TASKFLEET_REDIS_URL: redis.url });
    const f = fleet;
    const sup = await f.startInProcessSupervisor();
    const kinds = [WORKER_KINDS[0]!, WORKER_KINDS[1]!, WORKER_KINDS[3]!, WORKER_KINDS[2]!];
    await Promise.all(kinds.map((k) => f.spawnWorker({ id: k.kind, capabilities: k.capabilities, concurrency: 6 })));

    const ids: string[] = [];
    let next = 0;
    const submit = async (n: number) => {
      ids.push(...(await f.submitBatch(sup.url, chaosTasks(n, next))));
      next += n;
    };
    let submitting = true;
    // Submissions go on through every fault: with Redis down they are still accepted (SQL is the truth).
    const submitter = (async () => {
      while (submitting && next < 3000) {
        await submit(150);
        await sleep(150); // submission pacing: tasks keep arriving while the faults happen
      }
    })();

    // Recovery: from the end of a fault until every task that was waiting when it began has been claimed (their
    // jobs were lost with Redis's memory: the reconciler re-sends them).
    const recoveries: number[] = [];
    const recover = async (what: string, waiting: string[], at: number) => {
      await waitFor(() => f.allClaimedAfter(at, waiting) !== null, 60_000, `claims after ${what}`);
      recoveries.push(f.allClaimedAfter(at, waiting)!);
    };
    const progress = (n: number) => waitFor(() => f.pending() < next - n || next >= 3000, 30_000, 'progress', 50);

    for (let i = 0; i < 2; i++) {
      await progress(100);
      const waiting = f.queuedIds();
      const admin = new Redis(redis.url);
      await admin.flushall();
      admin.disconnect();
      await recover('FLUSHALL', waiting, Date.now());
    }
    for (let i = 0; i < 2; i++) {
      await progress(100);
      const waiting = f.queuedIds();
      await redis.stop();
      redis = await startPrivateRedis(port);
      await recover('a restart', waiting, Date.now());
    }
    await progress(100);
    await redis.stop();
    await sleep(4000); // the fault itself: Redis stays down for four seconds while submissions go on
    const waiting = f.queuedIds();
    redis = await startPrivateRedis(port);
    const upAt = Date.now();
    await recover('the outage', waiting, upAt);

    submitting = false;
    await submitter;
    // Every worker still consumes after the last fault: a burst that each of them can serve.
    await submit(200);
    await f.waitAllTerminal(90_000);
    const report = checkInvariants(f.db(), ids);
    const lastAgents = f
      .db()
      .prepare<[number], { agent_id: string }>(
        `SELECT DISTINCT agent_id FROM task_events WHERE kind = 'succeeded' AND at >= ?`,
      )
      .all(upAt)
      .map((r) => r.agent_id)
      .sort();
    reportLine(
      'Redis FLUSHALL ×2, restart ×2, down 4 s',
      report,
      recoveries,
      `workers consuming after the outage: ${lastAgents.join(', ')}`,
    );
    expectInvariants(report);
    expect(report.succeeded).toBe(ids.length);
    expect(lastAgents).toEqual(kinds.map((k) => k.kind).sort());
  }, 180_000);
});
