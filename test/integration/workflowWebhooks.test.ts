/**
 * Workflow webhook events over real HTTP: a supervisor in this process (loops off: the test drives the outbox
 * by hand), a worker process, a real SQLite file, Redis under a private prefix, and a real receiver on 127.0.0.1.
 * Signatures are verified with the `standardwebhooks` library, as a receiver would.
 */
import { Webhook } from 'standardwebhooks';
import { makeKeys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { pump, startReceiver, type Receiver } from '../helpers/webhookReceiver';

const redis = fileInspector();

describe('workflow webhook events', () => {
  const fleet = fleetFor(redis, { env: { TASKFLEET_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    await fleet().spawnWorker({ id: 'wfhook-w1' });
  });
  afterAll(() => receiver.close());

  it('sends workflow.waiting_approval and workflow.succeeded to the submitter subscriptions, signed, beside task events', async () => {
    const keys = await makeKeys(fleet());
    const as = { key: keys.submitter.key };
    const sub = await fleet().request(
      'POST',
      '/v1/webhooks',
      { url: `${receiver.url}/hook`, events: ['workflow.waiting_approval', 'workflow.succeeded', 'task.succeeded'] },
      {},
      as,
    );
    expect(sub.status).toBe(201);
    // Another key's subscription to the same events gets nothing of this workflow.
    const other = await fleet().request(
      'POST',
      '/v1/webhooks',
      { url: `${receiver.url}/other`, events: ['workflow.succeeded'] },
      {},
      { key: keys.submitter2.key },
    );
    expect(other.status).toBe(201);
    const wf = await fleet().request(
      'POST',
      '/v1/workflows',
      {
        steps: [
          { id: 'build', task: { type: 'echo', payload: 'b' } },
          { id: 'sign-off', needs: ['build'], approval: {} },
          { id: 'ship', needs: ['sign-off'], task: { type: 'echo', payload: 's' } },
        ],
      },
      {},
      as,
    );
    expect(wf.status).toBe(201);
    const id = wf.body.id as string;
    const of = (type: string) =>
      receiver.received
        .filter((r) => r.path === '/hook')
        .map((r) => new Webhook(sub.body.secret as string).verify(r.body, r.headers) as { type: string; data: any })
        .filter((p) => p.type === type);

    await pump(fleet().sup.outbox, () => of('workflow.waiting_approval').length === 1, 'workflow.waiting_approval');
    const [waiting] = of('workflow.waiting_approval');
    expect(waiting!.data.workflow).toMatchObject({ id, state: 'waiting_approval' });
    expect(waiting!.data.workflow.steps.find((s: { id: string }) => s.id === 'sign-off').state).toBe(
      'waiting_approval',
    );

    expect((await fleet().request('POST', `/v1/workflows/${id}/steps/sign-off/approve`, {}, {}, as)).status).toBe(200);
    await pump(fleet().sup.outbox, () => of('workflow.succeeded').length === 1, 'workflow.succeeded');
    expect(of('workflow.succeeded')[0]!.data.workflow).toMatchObject({ id, state: 'succeeded' });
    await pump(fleet().sup.outbox, () => of('task.succeeded').length === 2, 'both tasks');
    // Each event once; none to the other key's subscription.
    await fleet().sup.outbox.expand();
    await fleet().sup.outbox.deliver(true);
    await fleet().sup.outbox.idle();
    expect(of('workflow.waiting_approval')).toHaveLength(1);
    expect(of('workflow.succeeded')).toHaveLength(1);
    expect(receiver.received.filter((r) => r.path === '/other')).toEqual([]);
  });
});
