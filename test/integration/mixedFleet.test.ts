/**
 * One fleet of Node workers and Python agents (examples/python/agent.py over HTTP), with a `taskfleet supervisor`
 * process that can be killed: every task succeeds exactly once and only on an agent that covers it, also when a
 * Python agent dies with SIGKILL in the middle of long tasks or the supervisor does while the agents long-poll.
 */
import { readFileSync } from 'node:fs';
import { ChaosFleet } from '../helpers/chaos';
import { checkInvariants, expectInvariants, reportLine } from '../helpers/chaosInvariants';
import { waitFor } from '../helpers/fleet';
import { PythonAgents, createAgentKey, isRunning } from '../helpers/pythonAgent';

const SETS: string[][] = [[], ['fs'], ['gpu'], ['cuda', 'gpu'], ['fs', 'gpu']];

/** `n` short tasks over the routes of SETS: echo, and every third one a sleep of 5 to 24 ms. */
function mixedTasks(n: number, sets = SETS): object[] {
  return Array.from({ length: n }, (_, i) => ({
    type: i % 3 === 0 ? 'sleep' : 'echo',
    payload: i % 3 === 0 ? { ms: 5 + (i % 20) } : { i },
    requiredCapabilities: sets[i % sets.length],
  }));
}

describe('a mixed fleet of Node workers and Python agents', () => {
  let fleet: ChaosFleet | undefined;
  const agents = new PythonAgents({ logDir: () => fleet!.dir });
  afterEach(async () => {
    await agents.killAll();
    await fleet?.stop();
    fleet = undefined;
  });

  /** Succeeded tasks per agent, from the store. */
  const ranOn = (f: ChaosFleet) =>
    Object.fromEntries(
      f
        .db()
        .prepare<[], { agent_id: string; n: number }>(
          `SELECT agent_id, count(*) AS n FROM tasks WHERE status = 'succeeded' GROUP BY agent_id`,
        )
        .all()
        .map((r) => [r.agent_id, r.n]),
    );

  it('runs 500 tasks of mixed routes, each once and only where it is covered', async () => {
    const f = (fleet = ChaosFleet.create());
    const sup = await f.startSupervisorProcess();
    const key = await createAgentKey(f.dbPath, 'py-');
    await Promise.all([
      f.spawnWorker({ id: 'node-plain', capabilities: [], concurrency: 8 }),
      f.spawnWorker({ id: 'node-fs', capabilities: ['fs'], concurrency: 8 }),
      agents.spawn(sup.url, key, { id: 'py-gpu', capabilities: ['cuda', 'gpu'], concurrency: 8 }),
      agents.spawn(sup.url, key, { id: 'py-fsgpu', capabilities: ['fs', 'gpu'], concurrency: 8 }),
    ]);
    const tasks = mixedTasks(500);
    const ids: string[] = [];
    for (let i = 0; i < tasks.length; i += 100) ids.push(...(await f.submitBatch(sup.url, tasks.slice(i, i + 100))));
    await f.waitAllTerminal(60_000);

    const report = checkInvariants(f.db(), ids);
    reportLine('mixed fleet, 500 tasks', report, [], `ran on ${JSON.stringify(ranOn(f))}`);
    expectInvariants(report);
    expect(report.succeeded).toBe(500);
    // Routes only a Python agent covers ran there; the rest shared the fleet.
    const only = (caps: string) =>
      f
        .db()
        .prepare<[string], { agent_id: string }>(
          `SELECT DISTINCT agent_id FROM tasks WHERE required_capabilities = ? ORDER BY agent_id`,
        )
        .all(caps)
        .map((r) => r.agent_id);
    expect(only('["cuda","gpu"]')).toEqual(['py-gpu']);
    expect(only('["fs","gpu"]')).toEqual(['py-fsgpu']);
    // Which Node worker takes the shared routes depends on placement's view of the pools; together they take some.
    const ran = ranOn(f);
    expect((ran['node-plain'] ?? 0) + (ran['node-fs'] ?? 0)).toBeGreaterThan(0);
  });

  it('finishes the long tasks of a Python agent killed with SIGKILL elsewhere, each recorded once', async () => {
    const f = (fleet = ChaosFleet.create({ TASKFLEET_LEASE_DURATION_MS: '2000' }));
    const sup = await f.startSupervisorProcess();
    const key = await createAgentKey(f.dbPath, 'py-');
    const victim = await agents.spawn(sup.url, key, { id: 'py-victim', capabilities: ['gpu'], concurrency: 4 });
    const long = Array.from({ length: 4 }, () => ({
      type: 'sleep',
      payload: { ms: 1500 },
      requiredCapabilities: ['gpu'],
    }));
    const ids = await f.submitBatch(sup.url, long);
    await waitFor(() => f.runningOn('py-victim').length === 4, 10_000, 'the victim to hold the four tasks');
    await Promise.all([
      agents.spawn(sup.url, key, { id: 'py-heir', capabilities: ['gpu'], concurrency: 4 }),
      f.spawnWorker({ id: 'node-gpu', capabilities: ['gpu'], concurrency: 4 }),
    ]);
    const held = f.runningOn('py-victim');
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await f.waitAllTerminal(30_000);

    const report = checkInvariants(f.db(), ids);
    reportLine('python agent kill -9', report, [f.reclaimedAfter(killedAt, held)]);
    expectInvariants(report);
    expect(report.succeeded).toBe(4);
    for (const t of held) {
      const row = f
        .db()
        .prepare<[string], { agent_id: string; attempt: number }>('SELECT agent_id, attempt FROM tasks WHERE id = ?')
        .get(t.id);
      expect(row?.agent_id).not.toBe('py-victim');
      expect(row?.attempt).toBeGreaterThan(t.attempt);
    }
  });

  it('carries on through a SIGKILL of the supervisor while the agents long-poll, and loses nothing', async () => {
    const f = (fleet = ChaosFleet.create({ TASKFLEET_LEASE_DURATION_MS: '2000' }));
    let sup = await f.startSupervisorProcess();
    const key = await createAgentKey(f.dbPath, 'py-');
    const [cpu, gpu] = await Promise.all([
      agents.spawn(sup.url, key, { id: 'py-cpu', capabilities: ['cpu'], concurrency: 4 }),
      agents.spawn(sup.url, key, { id: 'py-gpu', capabilities: ['gpu'], concurrency: 8 }),
      f.spawnWorker({ id: 'node-plain', capabilities: [], concurrency: 4 }),
    ]);
    // ['cpu'] and ['gpu'] tasks only a Python agent covers; [] tasks the whole fleet.
    const sets = [[], ['cpu'], ['gpu']];
    const running = Array.from({ length: 6 }, () => ({
      type: 'sleep',
      payload: { ms: 1000 },
      requiredCapabilities: ['gpu'],
    }));
    const before = await f.submitBatch(sup.url, [...running, ...mixedTasks(20, sets)]);
    await waitFor(() => f.runningOn('py-gpu').length > 0, 10_000, 'py-gpu to run the long tasks');

    const killedAt = Date.now();
    await f.signal(sup, 'SIGKILL');
    sup = await f.startSupervisorProcess(sup.port);
    const restartedAt = Date.now();
    const after = await f.submitBatch(sup.url, mixedTasks(100, sets));
    await f.waitAllTerminal(60_000);

    const report = checkInvariants(f.db(), [...before, ...after]);
    // Recovery: from the kill until the first task submitted after the restart was claimed.
    reportLine('supervisor kill -9 under python agents', report, [f.firstClaimAfter(killedAt, after)]);
    expectInvariants(report);
    expect(report.succeeded).toBe(126);
    expect(isRunning(cpu) && isRunning(gpu)).toBe(true);
    for (const agent of [cpu, gpu]) {
      expect(readFileSync(agent.logFile, 'utf8')).toMatch(/supervisor unreachable|heartbeat not sent/);
    }
    const claimedSince = (agent: string) =>
      f
        .db()
        .prepare<[string, number], { n: number }>(
          `SELECT count(*) AS n FROM task_events WHERE kind = 'started' AND agent_id = ? AND at >= ?`,
        )
        .get(agent, restartedAt)!.n;
    expect(claimedSince('py-cpu')).toBeGreaterThan(0);
    expect(claimedSince('py-gpu')).toBeGreaterThan(0);
  });
});
