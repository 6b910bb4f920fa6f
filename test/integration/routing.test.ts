import { covers } from '../../src/domain/capabilities';
import type { TaskRecord } from '../../src/domain/task';
import { Fleet, waitFor } from '../helpers/fleet';

/**
 * Three worker processes with different capability sets drain 500 tasks of mixed sets and priorities:
 * every task succeeds exactly once, and only on a worker that covers its capability set.
 */
describe('routing by capability across worker processes', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('runs 500 mixed tasks exactly once each, each on a capable worker', async () => {
    fleet = await Fleet.start();
    const workers = [
      { id: 'general', capabilities: [] as string[] },
      { id: 'files', capabilities: ['fs'] },
      { id: 'gpu', capabilities: ['cuda', 'gpu'] },
    ];
    await Promise.all(workers.map((w) => fleet.spawnWorker({ ...w, concurrency: 8 })));
    // Placement reads the pools in the background (every quarter of TASKFLEET_SPILL_AFTER_MS): a pool is placed
    // on once the supervisor has seen it, so the tasks are submitted once it has seen all three.
    await waitFor(
      () => fleet.sup.placement.order({ type: 'echo', capabilities: [] }).length === 3,
      10_000,
      'the supervisor to know the three pools',
    );
    const sets = [[], ['fs'], ['gpu'], ['gpu', 'cuda'], ['cuda']];
    const priorities = ['low', 'normal', 'high', 'critical'];
    const bodies = Array.from({ length: 500 }, (_, i) => ({
      type: 'echo',
      payload: { i },
      requiredCapabilities: sets[i % sets.length],
      priority: priorities[i % priorities.length],
    }));
    const submitted = [
      ...(await fleet.submitBatch(bodies.slice(0, 250))),
      ...(await fleet.submitBatch(bodies.slice(250))),
    ];
    const ids = submitted.map((t: { id: string }) => t.id);
    const done: TaskRecord[] = await fleet.waitTerminal(ids, 90_000);

    const capsOf = new Map(workers.map((w) => [w.id, w.capabilities]));
    for (const [i, task] of done.entries()) {
      expect(task.status).toBe('succeeded');
      expect(task.result).toEqual({ i });
      expect(task.attempt).toBe(1);
      const agentCaps = capsOf.get(task.agentId ?? '');
      expect(agentCaps).toBeDefined();
      expect(covers(agentCaps!, task.requiredCapabilities)).toBe(true);
      const events = await fleet.sup.store.listTaskEvents(task.id);
      expect(events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
      expect(events.filter((e) => e.kind === 'started')).toHaveLength(1);
      expect(events.some((e) => e.kind === 'result_rejected')).toBe(false);
      if (i < 5) expect(events.map((e) => e.kind)).toEqual(['submitted', 'started', 'succeeded']);
    }
    // Every worker did some of the work its capabilities allow.
    const byAgent = new Set(done.map((t) => t.agentId));
    expect([...byAgent].sort()).toEqual(['files', 'general', 'gpu']);
    // Tasks needing gpu/cuda can only have run on the gpu worker, fs only on the files worker.
    for (const t of done) {
      if (t.requiredCapabilities.includes('fs')) expect(t.agentId).toBe('files');
      if (t.requiredCapabilities.some((c) => c === 'gpu' || c === 'cuda')) expect(t.agentId).toBe('gpu');
    }
  }, 120_000);

  it('routes by task type: a worker never receives a type it has no handler for', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'no-fs', capabilities: [] });
    const checksum = await fleet.submit({ type: 'checksum', payload: { path: __filename } });
    const unknown = await fleet.submit({ type: 'no-such-type', payload: {} });
    expect(checksum.routable).toBe(false);
    expect(unknown.routable).toBe(false);
    const echo = await fleet.submit({ type: 'echo', payload: 1 });
    await fleet.waitTerminal([echo.id]);
    // The worker without `fs` does not load the checksum handler, so the task waits, visibly unroutable.
    expect((await fleet.sup.store.getTask(checksum.id))?.status).toBe('queued');
    expect((await fleet.request('GET', `/v1/tasks/${checksum.id}`)).body.routable).toBe(false);

    await fleet.spawnWorker({ id: 'with-fs', capabilities: ['fs'] });
    const [done] = await fleet.waitTerminal([checksum.id]);
    expect(done?.status).toBe('succeeded');
    expect(done?.agentId).toBe('with-fs');
    const { createHash } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    expect((done?.result as { digest: string }).digest).toBe(
      createHash('sha256').update(readFileSync(__filename)).digest('hex'),
    );
    expect((await fleet.sup.store.getTask(unknown.id))?.status).toBe('queued');
    expect((await fleet.request('GET', `/v1/tasks/${unknown.id}`)).body.routable).toBe(false);
  }, 60_000);
});
