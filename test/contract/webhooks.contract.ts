/** Contract: webhook subscriptions, callback secrets and the delivery outbox (cursor lease, claims, attempts). */
import { v7 as uuidv7 } from 'uuid';
import type { NewWebhookDelivery, WebhookSubscription } from '../../src/domain/webhook';
import type { CurrentStore } from './store.contract';
import { mustGet, submit, T0 } from './fixtures';

function subscription(overrides: Partial<WebhookSubscription> = {}): WebhookSubscription {
  return {
    id: uuidv7(),
    keyId: 'key-a',
    url: 'https://hooks.example.com/taskfleet',
    events: ['task.succeeded', 'task.dead'],
    secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0',
    createdAt: T0,
    ...overrides,
  };
}

function delivery(overrides: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery {
  return {
    id: uuidv7(),
    eventSeq: 1,
    target: 'callback',
    subscriptionId: null,
    keyId: 'key-a',
    taskId: 'task-1',
    event: 'task.succeeded',
    url: 'https://hooks.example.com/cb',
    host: 'hooks.example.com',
    body: '{"type":"task.succeeded"}',
    createdAt: T0,
    ...overrides,
  };
}

export function webhooksContract(store: CurrentStore): void {
  describe('webhooks', () => {
    it('stores, reads, lists by key and deletes subscriptions', async () => {
      const a = subscription();
      const b = subscription({ keyId: 'key-b', createdAt: T0 + 1 });
      await store().insertWebhookSubscription(a);
      await store().insertWebhookSubscription(b);
      expect(await store().getWebhookSubscription(a.id)).toEqual(a);
      expect(await store().listWebhookSubscriptions({ keyId: 'key-a', limit: 10 })).toEqual([a]);
      expect(await store().listWebhookSubscriptions({ limit: 10 })).toEqual([a, b]);
      expect(await store().listWebhookSubscriptions({ limit: 1 })).toEqual([a]);
      expect(await store().deleteWebhookSubscription(a.id)).toBe(true);
      expect(await store().deleteWebhookSubscription(a.id)).toBe(false);
      expect(await store().getWebhookSubscription(a.id)).toBeNull();
    });

    it("sets and replaces a key's callback secret", async () => {
      expect(await store().getWebhookKeySecret('key-a')).toBeNull();
      await store().setWebhookKeySecret('key-a', 'whsec_one', T0);
      await store().setWebhookKeySecret('key-a', 'whsec_two', T0 + 1);
      expect(await store().getWebhookKeySecret('key-a')).toBe('whsec_two');
    });

    it("keeps a task's callbackUrl", async () => {
      const task = await submit(store(), { callbackUrl: 'https://hooks.example.com/cb' });
      expect(task.callbackUrl).toBe('https://hooks.example.com/cb');
      expect((await mustGet(store(), task.id)).callbackUrl).toBe('https://hooks.example.com/cb');
      expect((await submit(store())).callbackUrl).toBeNull();
    });

    it('leases the cursor to one owner at a time, until the lease expires', async () => {
      const first = await store().leaseWebhookCursor({ owner: 'sup-1', now: T0, leaseMs: 10_000 });
      expect(first).toEqual({ lastSeq: expect.any(Number) });
      expect(await store().leaseWebhookCursor({ owner: 'sup-2', now: T0 + 1, leaseMs: 10_000 })).toBeNull();
      expect(await store().leaseWebhookCursor({ owner: 'sup-1', now: T0 + 2, leaseMs: 10_000 })).toEqual(first);
      expect(await store().leaseWebhookCursor({ owner: 'sup-2', now: T0 + 10_002, leaseMs: 10_000 })).toEqual(first);
    });

    it('advances the cursor with its deliveries in one step, only for the holder, each (event, target) once', async () => {
      const { lastSeq } = (await store().leaseWebhookCursor({ owner: 'sup-1', now: T0, leaseMs: 10_000 }))!;
      const d1 = delivery({ eventSeq: lastSeq + 1 });
      const d2 = delivery({ eventSeq: lastSeq + 1, target: 'sub-1', subscriptionId: 'sub-1' });
      const move = { owner: 'sup-1', now: T0 + 1, fromSeq: lastSeq, toSeq: lastSeq + 1, deliveries: [d1, d2] };
      expect(await store().advanceWebhookCursor({ ...move, owner: 'sup-2' })).toBe(false);
      expect(await store().advanceWebhookCursor(move)).toBe(true);
      // A replay from the old position moves nothing and inserts nothing.
      expect(await store().advanceWebhookCursor(move)).toBe(false);
      const again = { ...move, fromSeq: lastSeq + 1, toSeq: lastSeq + 2, deliveries: [{ ...d1, id: uuidv7() }] };
      expect(await store().advanceWebhookCursor(again)).toBe(true);
      const claimed = await store().claimWebhookDeliveries({
        now: T0 + 2,
        lockMs: 60_000,
        token: 't1',
        skipHosts: [],
        limit: 10,
      });
      expect(claimed.map((d) => d.id).sort()).toEqual([d1.id, d2.id].sort());
      expect(claimed[0]).toMatchObject({ status: 'pending', attempts: 0, lockedUntil: T0 + 60_002, body: d1.body });
      expect((await store().leaseWebhookCursor({ owner: 'sup-1', now: T0 + 3, leaseMs: 1 }))?.lastSeq).toBe(
        lastSeq + 2,
      );
    });

    it('keeps the workflow event log its own cursor, apart from the task event log', async () => {
      const tasks = (await store().leaseWebhookCursor({ owner: 'sup-1', now: T0, leaseMs: 10_000 }))!;
      const flows = await store().leaseWebhookCursor({ owner: 'sup-2', now: T0, leaseMs: 10_000, log: 'workflows' });
      expect(flows).toEqual({ lastSeq: 0 });
      const d = delivery({ eventSeq: 1, target: 'workflow:sub-1', subscriptionId: 'sub-1' });
      const move = { owner: 'sup-2', now: T0 + 1, fromSeq: 0, toSeq: 1, deliveries: [d], log: 'workflows' as const };
      expect(await store().advanceWebhookCursor({ ...move, owner: 'sup-1' })).toBe(false);
      expect(await store().advanceWebhookCursor(move)).toBe(true);
      expect(
        (await store().leaseWebhookCursor({ owner: 'sup-2', now: T0 + 2, leaseMs: 1, log: 'workflows' }))?.lastSeq,
      ).toBe(1);
      // The task cursor did not move, and is still sup-1's.
      expect(await store().leaseWebhookCursor({ owner: 'sup-1', now: T0 + 3, leaseMs: 10_000 })).toEqual(tasks);
      const claimed = await store().claimWebhookDeliveries({
        now: T0 + 4,
        lockMs: 1_000,
        token: 'w',
        skipHosts: [],
        limit: 10,
      });
      expect(claimed.map((c) => [c.id, c.target])).toEqual([[d.id, 'workflow:sub-1']]);
    });

    it('never hands a claimed delivery to a second claim until its lock expires, and skips busy hosts', async () => {
      const { lastSeq } = (await store().leaseWebhookCursor({ owner: 's', now: T0, leaseMs: 10_000 }))!;
      const due = delivery({ eventSeq: lastSeq + 1 });
      const other = delivery({ eventSeq: lastSeq + 1, target: 'sub-x', host: 'other.example.com' });
      await store().advanceWebhookCursor({
        owner: 's',
        now: T0,
        fromSeq: lastSeq,
        toSeq: lastSeq + 1,
        deliveries: [due, other],
      });
      const skip = await store().claimWebhookDeliveries({
        now: T0 + 1,
        lockMs: 1_000,
        token: 'a',
        skipHosts: ['other.example.com'],
        limit: 10,
      });
      expect(skip.map((d) => d.id)).toEqual([due.id]);
      expect(
        await store().claimWebhookDeliveries({
          now: T0 + 2,
          lockMs: 1_000,
          token: 'b',
          skipHosts: ['other.example.com'],
          limit: 10,
        }),
      ).toEqual([]);
      const later = await store().claimWebhookDeliveries({
        now: T0 + 1_001,
        lockMs: 1_000,
        token: 'c',
        skipHosts: [],
        limit: 10,
      });
      expect(later.map((d) => d.id).sort()).toEqual([due.id, other.id].sort());
      // The first claim lost the delivery: its record is refused.
      const outcome = {
        deliveryId: due.id,
        at: T0 + 1_002,
        statusCode: 200,
        error: null,
        durationMs: 5,
        status: 'succeeded' as const,
        nextAttemptAt: T0 + 1_002,
      };
      expect(await store().recordWebhookAttempt({ ...outcome, token: 'a' })).toBe(false);
      expect(await store().recordWebhookAttempt({ ...outcome, token: 'c' })).toBe(true);
      expect(await store().recordWebhookAttempt({ ...outcome, token: 'c' })).toBe(false);
    });

    it("records attempts and the next one, and lists a subscription's deliveries with their attempts", async () => {
      const { lastSeq } = (await store().leaseWebhookCursor({ owner: 's', now: T0, leaseMs: 10_000 }))!;
      const d = delivery({ eventSeq: lastSeq + 1, target: 'sub-1', subscriptionId: 'sub-1' });
      await store().advanceWebhookCursor({
        owner: 's',
        now: T0,
        fromSeq: lastSeq,
        toSeq: lastSeq + 1,
        deliveries: [d],
      });
      const claim = (now: number, token: string) =>
        store().claimWebhookDeliveries({ now, lockMs: 60_000, token, skipHosts: [], limit: 10 });
      expect(await claim(T0, 'a')).toHaveLength(1);
      expect(
        await store().recordWebhookAttempt({
          deliveryId: d.id,
          token: 'a',
          at: T0 + 10,
          statusCode: 500,
          error: 'HTTP 500',
          durationMs: 12.4,
          status: 'pending',
          nextAttemptAt: T0 + 20_000,
        }),
      ).toBe(true);
      expect(await claim(T0 + 19_999, 'b')).toEqual([]);
      expect(await claim(T0 + 20_000, 'b')).toHaveLength(1);
      await store().recordWebhookAttempt({
        deliveryId: d.id,
        token: 'b',
        at: T0 + 20_010,
        statusCode: null,
        error: 'timeout',
        durationMs: 10_000,
        status: 'failed',
        nextAttemptAt: T0 + 20_010,
      });
      expect(await claim(T0 + 100_000, 'c')).toEqual([]);
      const [listed, ...rest] = await store().listWebhookDeliveries({ subscriptionId: 'sub-1', limit: 10 });
      expect(rest).toEqual([]);
      expect(listed).toMatchObject({
        id: d.id,
        status: 'failed',
        attempts: 2,
        lastStatusCode: null,
        lastError: 'timeout',
      });
      expect(listed?.attemptLog).toEqual([
        { deliveryId: d.id, attempt: 1, at: T0 + 10, statusCode: 500, error: 'HTTP 500', durationMs: 12 },
        { deliveryId: d.id, attempt: 2, at: T0 + 20_010, statusCode: null, error: 'timeout', durationMs: 10_000 },
      ]);
      expect(await store().listWebhookDeliveries({ subscriptionId: 'sub-2', limit: 10 })).toEqual([]);
    });
  });
}
