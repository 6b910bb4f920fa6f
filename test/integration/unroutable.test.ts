/**
 * The unroutable-expiry policy (TASKFLEET_UNROUTABLE_EXPIRE_AFTER) against a real supervisor and SQLite file:
 * a task nothing covers for the period is expired with its reason; a covered task, or one not yet due that long,
 * stays queued. Loops are off: the test runs the policy's pass itself.
 */
import { fileInspector, fleetFor } from '../helpers/fleet';

const redis = fileInspector();

describe('unroutable expiry', () => {
  const fleet = fleetFor(redis, { each: true, env: { TASKFLEET_UNROUTABLE_EXPIRE_AFTER: '300ms' } });

  it('expires the tasks nothing could run for the period, with the reason, and no other', async () => {
    const store = fleet().sup.store;
    await store.registerAgent(
      { id: 'covering', capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 'v' },
      Date.now(),
    );
    const orphan = await fleet().submit({ type: 'nobody-runs-this' });
    const covered = await fleet().submit({ type: 'echo' });
    expect(fleet().sup.unroutable.enabled).toBe(true);
    // Not due for the period yet.
    expect(await fleet().sup.unroutable.expire()).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    // Keep the covering agent live.
    await store.heartbeat({ agentId: 'covering', now: Date.now(), runningTasks: 0, metrics: null });
    const late = await fleet().submit({ type: 'nobody-runs-this' });

    expect(await fleet().sup.unroutable.expire()).toBe(1);
    const res = await fleet().request('GET', `/v1/tasks/${orphan.id}/events`);
    expect(res.body.events.map((e: { kind: string; data?: unknown }) => [e.kind, e.data ?? null])).toEqual([
      ['submitted', null],
      ['expired', { reason: 'unroutable' }],
    ]);
    expect((await store.getTask(orphan.id))?.status).toBe('expired');
    expect((await store.getTask(covered.id))?.status).toBe('queued');
    expect((await store.getTask(late.id))?.status).toBe('queued');
    // A second pass (another supervisor's) expires nothing more.
    expect(await fleet().sup.unroutable.expire()).toBe(0);
  });
});

describe('unroutable expiry, by default', () => {
  const fleet = fleetFor(redis);

  it('is off: nothing expires however long a task waits', async () => {
    expect(fleet().sup.unroutable.enabled).toBe(false);
    const orphan = await fleet().submit({ type: 'nobody-runs-this' });
    expect(await fleet().sup.unroutable.expire()).toBe(0);
    expect((await fleet().sup.store.getTask(orphan.id))?.status).toBe('queued');
  });
});
