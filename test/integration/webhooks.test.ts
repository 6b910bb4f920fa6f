/**
 * Webhooks over real HTTP: a supervisor in this process (loops off: the test drives the outbox's passes by hand,
 * so nothing depends on timing), a real SQLite file, Redis under a private prefix, and real HTTP receivers on
 * 127.0.0.1, reached through TASKFLEET_WEBHOOK_ALLOW_HOSTS. Signatures are verified with the `standardwebhooks`
 * library, as a receiver would.
 */
import { Webhook } from 'standardwebhooks';
import pino from 'pino';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import type { Store } from '../../src/store/port';
import { DEFAULT_OUTBOX, WebhookOutbox } from '../../src/webhooks/outbox';
import { UrlGuard } from '../../src/webhooks/urlGuard';
import { systemClock } from '../../src/domain/clock';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fleetPerTest, waitFor, type Fleet } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';
import { pump, startReceiver, type Receiver } from '../helpers/webhookReceiver';

const ALLOW = { TASKFLEET_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' };
const silent = pino({ level: 'silent' });

const fleets = fleetPerTest();
const receivers: Receiver[] = [];
const stores: Store[] = [];
const outboxes: WebhookOutbox[] = [];
let previousBackoff: string | undefined;

beforeAll(() => {
  // Retries 10 ms apart (doubling) instead of 10 s: read by the supervisor when it starts.
  previousBackoff = process.env.TASKFLEET_TEST_WEBHOOK_BACKOFF_MS;
  process.env.TASKFLEET_TEST_WEBHOOK_BACKOFF_MS = '10';
});
afterAll(() => {
  if (previousBackoff === undefined) delete process.env.TASKFLEET_TEST_WEBHOOK_BACKOFF_MS;
  else process.env.TASKFLEET_TEST_WEBHOOK_BACKOFF_MS = previousBackoff;
});
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
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

/** Outbox passes (expand, claim and send, wait for the sends) until `done`. */

describe('webhooks: delivery', () => {
  let fleet: Fleet;
  let keys: Keys;

  beforeEach(async () => {
    fleet = await fleets.start(ALLOW);
    keys = await makeKeys(fleet);
  });

  it('retries a failing receiver with the same webhook-id, signed, until it takes the event', async () => {
    // Each path fails its first two deliveries and takes the third.
    const r = await receiver((_req, nth) => (nth <= 2 ? 500 : 204));
    const as = { key: keys.submitter.key };
    const secretRes = await fleet.request('POST', '/v1/webhooks/secret', undefined, {}, as);
    expect(secretRes.status).toBe(200);
    const callbackSecret = secretRes.body.secret as string;
    expect(callbackSecret).toMatch(/^whsec_/);
    const created = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/sub`, events: ['task.succeeded'] },
      {},
      as,
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      url: `${r.url}/sub`,
      events: ['task.succeeded'],
      secret: expect.stringMatching(/^whsec_/),
    });
    const task = await fleet.submit({ type: 'echo', payload: { n: 1 }, callbackUrl: `${r.url}/cb` }, {}, as);

    await succeed(fleet, task.id);
    const byPath = (p: string) => r.received.filter((x) => x.path === p);
    await pump(
      fleet.sup.outbox,
      () => byPath('/cb').length === 3 && byPath('/sub').length === 3,
      'three attempts each',
    );

    for (const [path, secret] of [
      ['/cb', callbackSecret],
      ['/sub', created.body.secret as string],
    ] as const) {
      const attempts = byPath(path);
      expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
      for (const a of attempts) {
        const payload = new Webhook(secret).verify(a.body, a.headers) as {
          type: string;
          data: { task: { id: string } };
        };
        expect(payload).toMatchObject({ type: 'task.succeeded', data: { task: { id: task.id, status: 'succeeded' } } });
      }
      // Another secret does not verify: the signature is the key's own.
      expect(() =>
        new Webhook(path === '/cb' ? (created.body.secret as string) : callbackSecret).verify(
          attempts[0]!.body,
          attempts[0]!.headers,
        ),
      ).toThrow();
    }
    // Nothing more is sent once a delivery succeeded.
    await fleet.sup.outbox.expand();
    await fleet.sup.outbox.deliver(true);
    await fleet.sup.outbox.idle();
    expect(r.received).toHaveLength(6);

    const view = await fleet.request('GET', `/v1/webhooks/${created.body.id}/deliveries`, undefined, {}, as);
    expect(view.status).toBe(200);
    expect(view.body.deliveries).toHaveLength(1);
    expect(view.body.deliveries[0]).toMatchObject({
      id: byPath('/sub')[0]!.headers['webhook-id'],
      event: 'task.succeeded',
      taskId: task.id,
      status: 'succeeded',
      attempts: 3,
      lastStatusCode: 204,
    });
    expect(
      view.body.deliveries[0].attemptLog.map((a: { statusCode: number; error?: string }) => [a.statusCode, a.error]),
    ).toEqual([
      [500, 'HTTP 500'],
      [500, 'HTTP 500'],
      [204, undefined],
    ]);
  });

  it('sends each event once to the subscriptions of the submitting key only, and only for the events chosen', async () => {
    const r = await receiver();
    const mine = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/mine`, events: ['task.cancelled'] },
      {},
      { key: keys.submitter.key },
    );
    const other = await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/other`, events: ['task.cancelled', 'task.succeeded'] },
      {},
      { key: keys.submitter2.key },
    );
    expect([mine.status, other.status]).toEqual([201, 201]);
    const task = await fleet.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });
    const done = await fleet.submit({ type: 'echo' }, {}, { key: keys.submitter.key });
    await succeed(fleet, done.id);
    await fleet.request('POST', `/v1/tasks/${task.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expect((await fleet.sup.store.getTask(task.id))?.status).toBe('cancelled');
    await pump(fleet.sup.outbox, () => r.received.length >= 1, 'the cancellation');
    expect(r.received.map((x) => [x.path, JSON.parse(x.body).type, JSON.parse(x.body).data.task.id])).toEqual([
      ['/mine', 'task.cancelled', task.id],
    ]);
  });

  it('two supervisors sending from one store never send one delivery twice', async () => {
    const r = await receiver();
    await fleet.request(
      'POST',
      '/v1/webhooks',
      { url: `${r.url}/all`, events: ['task.succeeded'] },
      {},
      { key: keys.submitter.key },
    );
    const tasks = await fleet.submitBatch(
      Array.from({ length: 40 }, (_, i) => ({ type: 'echo', payload: { i } })),
      {},
      { key: keys.submitter.key },
    );
    for (const t of tasks) await succeed(fleet, t.id);
    // Two senders with their own connections to the file, racing claim for claim.
    const guard = new UrlGuard(['127.0.0.1']);
    const make = async (owner: string) => {
      const store = await openSqliteStore({ path: fleet.config.sqlitePath });
      stores.push(store);
      const o = new WebhookOutbox(
        store,
        guard,
        null,
        { ...DEFAULT_OUTBOX, owner, retryForMs: 60_000 },
        systemClock,
        silent,
      );
      outboxes.push(o);
      return o;
    };
    const [a, b] = [await make('sup-a'), await make('sup-b')];
    await a.expand();
    await b.expand(); // the cursor is past every event: nothing twice
    await waitFor(
      async () => {
        await Promise.all([a.deliver(true), b.deliver(true), a.deliver(true), b.deliver(true)]);
        await Promise.all([a.idle(), b.idle()]);
        return r.received.length >= 40;
      },
      15_000,
      'forty deliveries',
      5,
    );
    await Promise.all([a.deliver(true), b.deliver(true)]);
    await Promise.all([a.idle(), b.idle()]);
    const ids = r.received.map((x) => x.headers['webhook-id']);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    expect(new Set(r.received.map((x) => JSON.parse(x.body).data.task.id))).toEqual(new Set(tasks.map((t) => t.id)));
  });

  it('one endpoint that never answers does not delay another one', async () => {
    const dead = await receiver(() => 'hang');
    const alive = await receiver();
    const as = { key: keys.submitter.key };
    await fleet.request('POST', '/v1/webhooks', { url: `${dead.url}/x`, events: ['task.succeeded'] }, {}, as);
    const slow = await fleet.submitBatch(
      Array.from({ length: 12 }, () => ({ type: 'echo' })),
      {},
      as,
    );
    for (const t of slow) await succeed(fleet, t.id);
    const guard = new UrlGuard(['127.0.0.1']);
    const outbox = new WebhookOutbox(
      fleet.sup.store,
      guard,
      null,
      { ...DEFAULT_OUTBOX, owner: 'solo', retryForMs: 60_000, timeoutMs: 60_000 },
      systemClock,
      silent,
    );
    outboxes.push(outbox);
    await outbox.expand();
    await waitFor(
      async () => (await outbox.deliver(true), dead.open() >= DEFAULT_OUTBOX.perHost),
      10_000,
      'the dead host full',
    );
    // Queued after the dead host's twelve, to another host: sent while those still hang.
    await fleet.request('POST', '/v1/webhooks', { url: `${alive.url}/y`, events: ['task.succeeded'] }, {}, as);
    const later = await fleet.submit({ type: 'echo' }, {}, as);
    await succeed(fleet, later.id);
    await outbox.expand();
    await waitFor(async () => (await outbox.deliver(true), alive.received.length >= 1), 10_000, 'the live host served');
    expect(JSON.parse(alive.received[0]!.body).data.task.id).toBe(later.id);
    expect(dead.received.length).toBeLessThanOrEqual(DEFAULT_OUTBOX.perHost + DEFAULT_OUTBOX.claimBatch - 1);
    expect(dead.open()).toBe(dead.received.length);
  });
});

describe('webhooks: secrets sealed with the data key', () => {
  it('stores both kinds of secret sealed, and signs with the plain ones', async () => {
    const fleet = await fleets.start({ ...ALLOW, TASKFLEET_DATA_KEY: `k1:${Buffer.alloc(32, 3).toString('base64')}` });
    const r = await receiver();
    const { secret: callbackSecret } = (await fleet.request('POST', '/v1/webhooks/secret')).body as { secret: string };
    const sub = (await fleet.request('POST', '/v1/webhooks', { url: `${r.url}/sub`, events: ['task.succeeded'] }))
      .body as {
      id: string;
      secret: string;
      keyId: string;
    };
    const storedSub = await fleet.sup.store.getWebhookSubscription(sub.id);
    const storedKey = await fleet.sup.store.getWebhookKeySecret(sub.keyId);
    for (const [stored, plain] of [
      [storedSub?.secret, sub.secret],
      [storedKey, callbackSecret],
    ] as const) {
      expect(JSON.parse(stored ?? 'null')).toMatchObject({ sealed: 1, kid: 'k1' });
      expect(stored).not.toContain(plain.slice('whsec_'.length, 20));
    }
    const task = await fleet.submit({ type: 'echo', callbackUrl: `${r.url}/cb` });
    await succeed(fleet, task.id);
    await pump(fleet.sup.outbox, () => r.received.length === 2, 'both deliveries');
    for (const got of r.received) {
      const secret = got.path === '/cb' ? callbackSecret : sub.secret;
      expect(new Webhook(secret).verify(got.body, got.headers)).toMatchObject({ data: { task: { id: task.id } } });
    }
  });
});

describe('webhooks: the SSRF rule', () => {
  let fleet: Fleet;
  let keys: Keys;

  beforeEach(async () => {
    fleet = await fleets.start();
    keys = await makeKeys(fleet);
  });

  it.each([
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://10.0.0.8/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/hook',
    'https://[::ffff:192.168.0.1]/hook',
    'http://1.1.1.1/hook',
    'file:///etc/passwd',
  ])('refuses %s as a subscription (url) and as a callbackUrl', async (url) => {
    const as = { key: keys.submitter.key };
    await fleet.request('POST', '/v1/webhooks/secret', undefined, {}, as);
    expectProblem(await fleet.request('POST', '/v1/webhooks', { url, events: ['task.dead'] }, {}, as), 400, {
      field: 'url',
    });
    const before = await fleet.storedTaskCount();
    expectProblem(await fleet.request('POST', '/v1/tasks', { type: 'echo', callbackUrl: url }, {}, as), 400, {
      field: 'callbackUrl',
    });
    expectProblem(
      await fleet.request(
        'POST',
        '/v1/tasks/batch',
        { tasks: [{ type: 'echo' }, { type: 'echo', callbackUrl: url }] },
        {},
        as,
      ),
      400,
      { field: 'tasks[1].callbackUrl' },
    );
    expect(await fleet.storedTaskCount()).toBe(before);
    expect((await fleet.request('GET', '/v1/webhooks', undefined, {}, as)).body.webhooks).toEqual([]);
  });

  it('refuses a callbackUrl until the key has a signing secret', async () => {
    const as = { key: keys.submitter.key };
    const res = await fleet.request('POST', '/v1/tasks', { type: 'echo', callbackUrl: 'https://1.1.1.1/cb' }, {}, as);
    expectProblem(res, 400, { field: 'callbackUrl' });
    await fleet.request('POST', '/v1/webhooks/secret', undefined, {}, as);
    expect(
      (await fleet.request('POST', '/v1/tasks', { type: 'echo', callbackUrl: 'https://1.1.1.1/cb' }, {}, as)).status,
    ).toBe(201);
  });

  it('refuses at send time too, and follows no redirect (a redirect to a private address is a failed attempt)', async () => {
    const redirecting = await receiver(() => ({ status: 302, location: 'http://10.0.0.1/internal' }));
    const as = { key: keys.submitter.key };
    // Stored directly, as if the rule had changed since: a private URL the API would refuse now.
    const store = fleet.sup.store;
    await store.insertWebhookSubscription({
      id: 'sub-private',
      keyId: keys.submitter.id,
      url: 'https://127.0.0.1:1/x',
      events: ['task.succeeded'],
      secret: 'whsec_dGVzdHRlc3R0ZXN0dGVzdA==',
      createdAt: Date.now(),
    });
    await store.insertWebhookSubscription({
      id: 'sub-redirect',
      keyId: keys.submitter.id,
      url: `${redirecting.url}/r`,
      events: ['task.succeeded'],
      secret: 'whsec_dGVzdHRlc3R0ZXN0dGVzdA==',
      createdAt: Date.now(),
    });
    const task = await fleet.submit({ type: 'echo' }, {}, as);
    await succeed(fleet, task.id);
    // The redirecting receiver is on an allowed host; 10.0.0.1 is never contacted (no redirect is followed).
    const outbox = new WebhookOutbox(
      store,
      new UrlGuard([redirecting.host]),
      null,
      { ...DEFAULT_OUTBOX, owner: 'x', retryForMs: 0 },
      systemClock,
      silent,
    );
    outboxes.push(outbox);
    await outbox.expand();
    await outbox.deliver(true);
    await outbox.idle();
    const [priv] = await store.listWebhookDeliveries({ subscriptionId: 'sub-private', limit: 5 });
    const [redir] = await store.listWebhookDeliveries({ subscriptionId: 'sub-redirect', limit: 5 });
    expect(priv).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: null });
    expect(priv?.lastError).toMatch(/^refused: must be an https URL|^refused: must not point to a loopback address/);
    expect(redir).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastStatusCode: 302,
      lastError: 'redirect (HTTP 302) not followed',
    });
    expect(redirecting.received).toHaveLength(1);
  });
});
