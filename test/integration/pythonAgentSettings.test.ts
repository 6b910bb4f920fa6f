/**
 * The Python agent (examples/python/agent.py, a real `python3` process over HTTP with an agent key) follows an
 * admin's settings from its heartbeat answers: a PATCH of concurrency resizes its slots, disabled types are not
 * claimed, both without a restart.
 */
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { maxOverlap } from '../helpers/overlap';
import { PythonAgents, createAgentKey, waitForLog, type PythonAgent } from '../helpers/pythonAgent';

const redis = fileInspector();

describe('the Python agent and its settings', () => {
  let fleet: Fleet | undefined;
  const f = () => fleet!;
  const agents = new PythonAgents({ logDir: () => f().dir });
  let agent: PythonAgent;

  beforeAll(async () => {
    fleet = await Fleet.start();
    const key = await createAgentKey(f().config.sqlitePath, 'pys-');
    agent = await agents.spawn(f().url, key, { id: 'pys-1', concurrency: 4 });
  });
  afterAll(async () => {
    await agents.killAll();
    await stopAndVerifyClean(fleet, redis);
  });

  const ids = async (tasks: Array<Record<string, unknown>>): Promise<string[]> =>
    (await f().submitBatch(tasks)).map((t: { id: string }) => t.id);
  const sleeps = (n: number, ms: number) => Array.from({ length: n }, () => ({ type: 'sleep', payload: { ms } }));
  const applied = (concurrency: number) =>
    waitFor(
      async () => (await f().sup.store.getAgent('pys-1'))?.concurrency === concurrency,
      15_000,
      `the agent to report concurrency ${concurrency}`,
    );

  it('applies a concurrency PATCH: one task at a time, then several again', async () => {
    await f().request('PATCH', '/v1/agents/pys-1', { concurrency: 1 });
    await applied(1);
    const one = await f().waitTerminal(await ids(sleeps(4, 100)), 30_000);
    expect(one.map((t) => [t.status, t.agentId])).toEqual(Array(4).fill(['succeeded', 'pys-1']));
    expect(maxOverlap(one)).toBe(1);

    await f().request('PATCH', '/v1/agents/pys-1', { concurrency: null });
    await applied(4);
    const several = await ids(sleeps(3, 2_000));
    await waitFor(
      async () =>
        (await Promise.all(several.map((id) => f().sup.store.getTask(id)))).every((t) => t?.status === 'running'),
      15_000,
      'three tasks running at once',
    );
    await f().waitTerminal(several, 30_000);
  }, 90_000);

  it('claims no task of a disabled type, and claims it again once re-enabled', async () => {
    await f().request('PATCH', '/v1/agents/pys-1', { disabledTypes: ['sleep'] });
    // Once it follows the setting, a task of the type claimed in a race with the PATCH is handed back unrun.
    await waitForLog(agent, 'disabled types: sleep', 15_000);
    const [parked] = await ids(sleeps(1, 50));
    const [echo] = await f().waitTerminal(await ids([{ type: 'echo', payload: { n: 1 } }]), 30_000);
    expect(echo).toMatchObject({ status: 'succeeded', agentId: 'pys-1' });
    expect(await f().sup.store.getTask(parked!)).toMatchObject({ status: 'queued', attempt: 0 });
    // No live agent serves sleep now (the directory reads the agents again within a quarter second).
    await waitFor(
      async () => (await f().request('GET', `/v1/tasks/${parked}`)).body.routable === false,
      5_000,
      'the sleep task to show unroutable',
    );
    expect(await f().sup.store.getTask(parked!)).toMatchObject({ status: 'queued', attempt: 0 });

    await f().request('PATCH', '/v1/agents/pys-1', { disabledTypes: [] });
    const [ran] = await f().waitTerminal([parked!], 30_000);
    expect(ran).toMatchObject({ status: 'succeeded', agentId: 'pys-1' });
  }, 60_000);
});
