import { Redis } from 'ioredis';
import { Fleet, REDIS_URL, waitFor } from '../helpers/fleet';
import { maxOverlap } from '../helpers/overlap';

describe('a worker’s concurrency limit', () => {
  let fleet: Fleet;
  afterEach(() => fleet?.stop());

  it('holds across every route it consumes, and comes back in full after a busy spell', async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'c3', capabilities: ['x'], concurrency: 3 });
    const wave = Array.from({ length: 12 }, (_, i) => ({
      type: 'sleep',
      payload: { ms: 250 },
      requiredCapabilities: i % 2 === 0 ? [] : ['x'],
    }));
    const first = await fleet.waitTerminal((await fleet.submitBatch(wave)).map((t: { id: string }) => t.id));
    expect(first.every((t) => t.status === 'succeeded')).toBe(true);
    expect(new Set(first.map((t) => t.requiredCapabilities.join()))).toEqual(new Set(['', 'x']));
    expect(maxOverlap(first)).toBeLessThanOrEqual(3);

    // After having been full, the worker still runs three at once (not one at a time).
    const second: string[] = (
      await fleet.submitBatch(Array.from({ length: 3 }, () => ({ type: 'sleep', payload: { ms: 3000 } })))
    ).map((t: { id: string }) => t.id);
    await waitFor(
      async () =>
        (await Promise.all(second.map((id) => fleet.sup.store.getTask(id)))).every((t) => t?.status === 'running'),
      2500,
      'three tasks running at once',
    );
    await fleet.waitTerminal(second);
  }, 60_000);

  it('runs a dispatch batch bigger than its free slots once per task, sending the rest on, and clears the markers', async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_DISPATCH_BATCH: '10' } });
    await fleet.spawnWorker({ id: 'c4', concurrency: 4 });
    const ids: string[] = (
      await fleet.submitBatch(Array.from({ length: 25 }, () => ({ type: 'sleep', payload: { ms: 100 } })))
    ).map((t: { id: string }) => t.id);
    const done = await fleet.waitTerminal(ids);
    expect(done.every((t) => t.status === 'succeeded' && t.attempt === 1)).toBe(true);
    expect(maxOverlap(done)).toBeLessThanOrEqual(4);
    for (const id of ids) {
      const kinds = (await fleet.sup.store.listTaskEvents(id)).map((e) => e.kind);
      expect(kinds).toEqual(['submitted', 'started', 'succeeded']);
    }
    const redis = new Redis(REDIS_URL);
    try {
      await waitFor(
        async () => (await redis.exists(`${fleet.config.redisPrefix}:sleep:taskfleet-batches`)) === 0,
        5_000,
        'the batch markers to be removed',
      );
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
