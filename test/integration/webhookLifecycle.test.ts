/**
 * Webhook subscriptions over their life: reach (another key's subscription is a 404 and a delete of it changes
 * nothing), deletion (pending deliveries fail, nothing more is sent) and a receiver that never answers (the
 * attempt ends as a timeout and is retried with the same webhook-id). Real HTTP, a real SQLite file, Redis under
 * a private prefix, real receivers on 127.0.0.1; the supervisor's loops are off and the test drives the outbox's
 * passes, so nothing depends on timing.
 */
import pino from 'pino';
import { systemClock } from '../../src/domain/clock';
import { DEFAULT_OUTBOX, WebhookOutbox } from '../../src/webhooks/outbox';
import { UrlGuard } from '../../src/webhooks/urlGuard';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fleetPerTest, waitFor, type Fleet } from '../helpers/fleet';
import { startReceiver, type Receiver } from '../helpers/webhookReceiver';

const ALLOW = { TASKFLEET_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' };
const silent = pino({ level: 'silent' });
/** Retries 10 ms apart (doubling, at most 80 ms) instead of 10 s. */
const FAST_BACKOFF = { baseMs: 10, maxMs: 80 };

const fleets = fleetPerTest();
const receivers: Receiver[] = [];
const outboxes: WebhookOutbox[] = [];

afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

/** An outbox of its own on the fleet's store, with short retries (and the given attempt deadline). */
function outboxFor(fleet: Fleet, timeoutMs = DEFAULT_OUTBOX.timeoutMs): WebhookOutbox {
  const o = new WebhookOutbox(
    fleet.sup.store,
    new UrlGuard(['127.0.0.1']),
    null,
    { ...DEFAULT_OUTBOX, owner: 'test', retryForMs: 60_000, backoff: FAST_BACKOFF, timeoutMs },
    systemClock,
    silent,
  );
  outboxes.push(o);
  return o;
}

/** Runs the task to success through the store, as a worker's claim and result do. */
async function succeed(fleet: Fleet, taskId: string): Promise<void> {
  const store = fleet.sup.store;
  const task = await store.getTask(taskId);
  const claim = await store.claimTask({
    taskId,
    attempt: task!.attempt,
    agentId: 'hook-agent',
    now: Date.now(),
    leaseMs: 30_000,
  });
  if (!claim.claimed) throw new Error('claim lost');
  await store.completeTask({
    taskId,
    attempt: claim.task.attempt,
    agentId: 'hook-agent',
    now: Date.now(),
    result: { ok: 1 },
  });
}

/** One outbox pass: expand, claim and send, wait for the sends to be recorded. */
async function pass(outbox: WebhookOutbox): Promise<void> {
  await outbox.expand();
  await outbox.deliver(true);
  await outbox.idle();
}

async function pump(outbox: WebhookOutbox, done: () => Promise<boolean> | boolean, what: string): Promise<void> {
  await waitFor(async () => (await pass(outbox), done()), 15_000, what, 5);
}

describe('webhooks: a subscription over its life', () => {
  let fleet: Fleet;
  let keys: Keys;

  beforeEach(async () => {
    fleet = await fleets.start(ALLOW);
    keys = await makeKeys(fleet);
  });

  it("answers 404 to another key's GET and DELETE of a subscription, and that delete changes nothing", async () => {
    const r = await receiver();
    const owner = { key: keys.submitter.key };
    const other = { key: keys.submitter2.key };
    const created = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/s`, events: ['task.succeeded'] },
      {},
      owner,
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const auditBefore = await fleet.sup.store.listAudit({ limit: 100, action: 'webhook.delete' });

    const got = await fleet.request('GET', `/v1/webhooks/${id}`, undefined, {}, other);
    expect(got.status).toBe(404);
    expect(JSON.stringify(got.body)).not.toContain(r.url);
    expect((await fleet.request('GET', `/v1/webhooks/${id}/deliveries`, undefined, {}, other)).status).toBe(404);
    expect((await fleet.request('DELETE', `/v1/webhooks/${id}`, undefined, {}, other)).status).toBe(404);
    // As for an id that does not exist.
    expect((await fleet.request('DELETE', `/v1/webhooks/no-such-id`, undefined, {}, other)).status).toBe(404);

    // Still there, for its owner and in the store, unaudited, and still delivering.
    const mine = await fleet.request('GET', `/v1/webhooks/${id}`, undefined, {}, owner);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id, url: `${r.url}/s`, events: ['task.succeeded'] });
    expect(await fleet.sup.store.getWebhookSubscription(id)).not.toBeNull();
    expect(await fleet.sup.store.listAudit({ limit: 100, action: 'webhook.delete' })).toEqual(auditBefore);
    const task = await fleet.submit({ type: 'echo' }, {}, owner);
    await succeed(fleet, task.id);
    await pump(outboxFor(fleet), () => r.received.length === 1, 'the delivery');
    expect(JSON.parse(r.received[0]!.body).data.task.id).toBe(task.id);
  });

  it('a deleted subscription gets nothing more: its pending delivery fails, and later events make none', async () => {
    // The first attempt fails, so the delivery is pending (a retry due) when the subscription is deleted.
    const r = await receiver((_req, nth) => (nth === 1 ? 503 : 200));
    const as = { key: keys.submitter.key };
    const created = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/s`, events: ['task.succeeded'] },
      {},
      as,
    );
    const id = created.body.id as string;
    const first = await fleet.submit({ type: 'echo' }, {}, as);
    await succeed(fleet, first.id);
    const outbox = outboxFor(fleet);
    await pump(outbox, () => r.received.length === 1, 'the first attempt');
    const [pending] = await fleet.sup.store.listWebhookDeliveries({ subscriptionId: id, limit: 5 });
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 503 });

    expect((await fleet.request('DELETE', `/v1/webhooks/${id}`, undefined, {}, as)).status).toBe(204);
    expect((await fleet.request('GET', `/v1/webhooks/${id}`, undefined, {}, as)).status).toBe(404);
    const later = await fleet.submit({ type: 'echo' }, {}, as);
    await succeed(fleet, later.id);

    const deliveries = () => fleet.sup.store.listWebhookDeliveries({ subscriptionId: id, limit: 5 });
    await pump(outbox, async () => (await deliveries())[0]?.status === 'failed', 'the pending delivery to fail');
    // Passes after it send nothing either.
    await pass(outbox);
    await pass(outbox);
    expect(r.received).toHaveLength(1);
    const after = await deliveries();
    expect(after).toHaveLength(1); // none for the later task
    expect(after[0]).toMatchObject({
      id: pending!.id,
      status: 'failed',
      attempts: 2,
      lastError: 'subscription deleted',
    });
  });

  it('a receiver that never answers: the attempt fails as a timeout and is retried with the same webhook-id', async () => {
    const r = await receiver(() => 'hang');
    const as = { key: keys.submitter.key };
    const created = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/s`, events: ['task.succeeded'] },
      {},
      as,
    );
    const id = created.body.id as string;
    const task = await fleet.submit({ type: 'echo' }, {}, as);
    await succeed(fleet, task.id);
    // A 300 ms deadline instead of 10 s (the outbox's `timeoutMs` setting).
    const outbox = outboxFor(fleet, 300);
    await pump(outbox, () => r.received.length >= 3, 'three attempts');

    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    const view = await fleet.request('GET', `/v1/webhooks/${id}/deliveries`, undefined, {}, as);
    const [delivery] = view.body.deliveries as {
      id: string;
      status: string;
      attemptLog: { statusCode?: number; error?: string }[];
    }[];
    expect(delivery!.id).toBe(r.received[0]!.headers['webhook-id']);
    expect(delivery!.status).toBe('pending'); // still retried: the retry window is a minute here
    expect(delivery!.attemptLog.length).toBeGreaterThanOrEqual(2);
    for (const a of delivery!.attemptLog) {
      expect(a.statusCode).toBeUndefined();
      expect(a.error).toMatch(/timed out after 300 ms/);
    }
  });
});
