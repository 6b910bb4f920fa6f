/**
 * Chaos: kill -9 of the supervisor after a task's result is committed and its webhook deliveries are in the
 * outbox, before any is sent. The window is made certain with TASKFLEET_TEST_WEBHOOK_HOLD_SENDS (the first
 * supervisor expands events into deliveries but never sends), not with timing. The restarted supervisor sends
 * exactly those deliveries, once each, signed, with the ids the outbox gave them.
 */
import { Webhook } from 'standardwebhooks';
import { ChaosFleet } from '../helpers/chaos';
import { waitFor } from '../helpers/fleet';
import { startReceiver, type Receiver } from '../helpers/webhookReceiver';

describe('chaos: kill -9 of the supervisor between the commit and the webhook send', () => {
  let fleet: ChaosFleet | undefined;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await receiver?.close();
  });

  it('delivers the event after a restart, exactly once per target', async () => {
    fleet = ChaosFleet.create({ TASKFLEET_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
    const f = fleet;
    const r = (receiver = await startReceiver());
    let sup = await f.startSupervisorProcess(undefined, { TASKFLEET_TEST_WEBHOOK_HOLD_SENDS: '1' });
    const { secret: callbackSecret } = await f.post<{ secret: string }>(sup.url, '/v1/webhooks/secret', {});
    const sub = await f.post<{ id: string; secret: string }>(sup.url, '/v1/webhooks', {
      url: `${r.url}/sub`,
      events: ['task.succeeded'],
    });
    await f.spawnWorker({ id: 'hook-worker', capabilities: [] });
    const task = await f.post<{ id: string }>(sup.url, '/v1/tasks', {
      type: 'chaos',
      payload: { ms: 10 },
      callbackUrl: `${r.url}/cb`,
    });

    // Committed: the task succeeded and both deliveries are in the outbox; nothing was sent.
    const deliveries = () =>
      f
        .db()
        .prepare<[string], { id: string; target: string; attempts: number; status: string }>(
          'SELECT id, target, attempts, status FROM webhook_deliveries WHERE task_id = ? ORDER BY target',
        )
        .all(task.id);
    await waitFor(() => deliveries().length === 2, 20_000, 'both deliveries in the outbox');
    expect(
      f.db().prepare<[string], { status: string }>('SELECT status FROM tasks WHERE id = ?').get(task.id)?.status,
    ).toBe('succeeded');
    await f.signal(sup, 'SIGKILL');
    expect(r.received).toEqual([]);
    expect(deliveries().map((d) => [d.attempts, d.status])).toEqual([
      [0, 'pending'],
      [0, 'pending'],
    ]);

    sup = await f.startSupervisorProcess(sup.port);
    await waitFor(() => deliveries().every((d) => d.status === 'succeeded'), 20_000, 'both deliveries sent');
    expect(r.received.map((x) => x.path).sort()).toEqual(['/cb', '/sub']);
    const ids = new Map(deliveries().map((d) => [d.target === 'callback' ? '/cb' : '/sub', d.id]));
    for (const got of r.received) {
      expect(got.headers['webhook-id']).toBe(ids.get(got.path));
      const secret = got.path === '/cb' ? callbackSecret : sub.secret;
      expect(new Webhook(secret).verify(got.body, got.headers)).toMatchObject({
        type: 'task.succeeded',
        data: { task: { id: task.id, status: 'succeeded' } },
      });
    }
    expect(deliveries().map((d) => d.attempts)).toEqual([1, 1]);
  });
});
