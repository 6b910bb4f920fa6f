/**
 * The stall watch in a real supervisor (loops on, real Redis, real SQLite, real HTTP). The "agent" is the test
 * itself: registered and heartbeated through the store, with free slots, it never consumes, as a worker whose
 * Redis connections went silent would. The supervisor asks it (in its heartbeat answer) to recycle its
 * connections, counts that in telemetry, then marks it degraded with the reason shown in `/v1/agents` and
 * `/metrics`; once the tasks are consumed it is running again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STALL_CLEARED_REASON } from '../../src/domain/stall';
import { runCli } from '../helpers/cli';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';

const redis = fileInspector();
const AGENT = 'stall-a1';
const STALL_MS = 1_500;

/** `taskfleet status` as an operator runs it, against the fleet's API. */
async function status(fleet: Fleet): Promise<string> {
  const run = await runCli(['status'], { TASKFLEET_URL: fleet.url, TASKFLEET_API_KEY: fleet.adminKey });
  if (run.code !== 0) throw new Error(`taskfleet status exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

describe('the stall watch, with an agent that heartbeats but never consumes', () => {
  let fleet: Fleet;
  let dir: string;
  let beating: NodeJS.Timeout | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tf-stall-'));
    fleet = await Fleet.start({
      loops: true,
      env: { TASKFLEET_STALL_AFTER_MS: String(STALL_MS), TASKFLEET_TELEMETRY_FILE: path.join(dir, 'telemetry.jsonl') },
    });
  });

  afterAll(async () => {
    if (beating) clearInterval(beating);
    await stopAndVerifyClean(fleet, redis);
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = async () => (await fleet.sup.store.getAgent(AGENT))!;
  const listed = async () => {
    const res = await fleet.request('GET', '/v1/agents');
    expect(res.status).toBe(200);
    return (res.body.agents as Array<Record<string, unknown>>).find((a) => a.id === AGENT)!;
  };
  const telemetry = () =>
    readFileSync(path.join(dir, 'telemetry.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { kind: string; name: string; properties: Record<string, string> });

  it('asks the agent to recycle, degrades it with the reason, and brings it back once the tasks are consumed', async () => {
    const store = fleet.sup.store;
    await store.registerAgent(
      { id: AGENT, capabilities: ['gpu'], types: ['echo'], concurrency: 4, hostname: 'test', pid: 1, version: 't' },
      Date.now(),
    );
    const beat = () => store.heartbeat({ agentId: AGENT, now: Date.now(), runningTasks: 0, metrics: null });
    beating = setInterval(() => void beat().catch(() => undefined), 100);
    const tasks = await fleet.submitBatch([
      { type: 'echo', requiredCapabilities: ['gpu'], payload: { n: 1 } },
      { type: 'echo', requiredCapabilities: ['gpu'], payload: { n: 2 } },
    ]);
    expect((await listed()).recycleRequestedAt).toBeUndefined();

    // The heartbeat answer carries the request.
    let answer: number | null = null;
    await waitFor(
      async () => (answer = (await beat())?.recycleRequestedAt ?? null) !== null,
      20_000,
      'a recycle request',
    );
    // Asked only once the tasks had waited longer than TASKFLEET_STALL_AFTER_MS.
    expect(answer! - Date.parse(tasks[0].createdAt)).toBeGreaterThan(STALL_MS);
    await waitFor(
      () => telemetry().some((i) => i.name === 'taskfleet.agent_stalls' && i.properties.agentId === AGENT),
      10_000,
      'the stall to be counted',
    );
    expect(telemetry().find((i) => i.name === 'taskfleet.agent_stalls')?.properties.route).toBe('echo~gpu');

    // Still idle a further period after the request: degraded, with the reason.
    await waitFor(async () => (await agent()).state === 'degraded', 20_000, 'the agent to be degraded');
    const view = await listed();
    expect(view).toMatchObject({ state: 'degraded', stateSource: 'enforcer', live: true });
    expect(view.stateReason).toMatch(
      /^stalled: 2 due task\(s\) of route echo~gpu waited \d+ s while it had free slots/,
    );
    expect(view.recycleRequestedAt).toBe(new Date(answer!).toISOString());
    expect(await status(fleet)).toMatch(/^ {4}degraded: stalled: 2 due task\(s\) of route echo~gpu waited/m);
    const metrics = await fleet.request('GET', '/metrics');
    expect(metrics.body).toMatch(/^taskfleet_stalled_agents\{phase="degraded"\} 1$/m);
    expect(
      telemetry().some(
        (i) => i.name === 'AgentStateChanged' && i.properties.agentId === AGENT && i.properties.to === 'degraded',
      ),
    ).toBe(true);

    // It consumes: the tasks run and finish, the stall clears, and the agent is running again.
    for (const t of tasks) {
      const claimed = await store.claimTask({
        taskId: t.id,
        attempt: 0,
        agentId: AGENT,
        now: Date.now(),
        leaseMs: 30_000,
      });
      if (!claimed.claimed) throw new Error(`claim of ${t.id} lost`);
      expect(
        await store.completeTask({ taskId: t.id, attempt: 1, agentId: AGENT, now: Date.now(), result: 'ok' }),
      ).toBe(true);
    }
    await waitFor(async () => (await agent()).state === 'running', 20_000, 'the agent to run again');
    await waitFor(async () => (await agent()).recycleRequestedAt === null, 10_000, 'the request to be cleared');
    expect(await listed()).toMatchObject({ state: 'running', stateReason: STALL_CLEARED_REASON });
    const events = await fleet.request('GET', `/v1/agents/${AGENT}/events`);
    expect((events.body.events as Array<{ to: string }>).map((e) => e.to)).toEqual(['running', 'degraded', 'running']);
  });
});
