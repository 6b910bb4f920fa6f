/** Webhook subscriptions, the callback secrets and the delivery outbox of the SQLite adapter. Twin of `mssql/webhooks.ts`. */
import type { WebhookAttempt, WebhookAttemptOutcome, WebhookDelivery, WebhookSubscription } from '../../domain/webhook';
import type { WebhookStore } from '../webhookPort';
import { webhookMappers } from '../webhookRows';
import type { SqliteRunners } from './schedules';
import type { SqliteStatements } from './statements';

const map = webhookMappers<number, number>({ time: (v) => v, flag: (v) => v !== 0, seq: (v) => v });

export class SqliteWebhooks implements WebhookStore {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  insertWebhookSubscription(sub: WebhookSubscription): Promise<void> {
    return this.runners.write(() => {
      this.statements.webhooks.insertSubscription.run({
        id: sub.id,
        keyId: sub.keyId,
        url: sub.url,
        events: JSON.stringify(sub.events),
        secret: sub.secret,
        createdAt: sub.createdAt,
      });
    });
  }

  getWebhookSubscription(id: string): Promise<WebhookSubscription | null> {
    return this.runners.read(() => {
      const row = this.statements.webhooks.selectSubscription.get({ id });
      return row ? map.toSubscription(row) : null;
    });
  }

  listWebhookSubscriptions(opts: { keyId?: string; limit: number }): Promise<WebhookSubscription[]> {
    return this.runners.read(() => {
      const rows =
        opts.keyId === undefined
          ? this.statements.webhooks.selectSubscriptions.all({ limit: opts.limit })
          : this.statements.webhooks.selectSubscriptionsOfKey.all({ keyId: opts.keyId, limit: opts.limit });
      return rows.map(map.toSubscription);
    });
  }

  deleteWebhookSubscription(id: string): Promise<boolean> {
    return this.runners.write(() => this.statements.webhooks.deleteSubscription.run({ id }).changes === 1);
  }

  setWebhookKeySecret(keyId: string, secret: string, now: number): Promise<void> {
    return this.runners.write(() => {
      this.statements.webhooks.upsertKeySecret.run({ keyId, secret, now });
    });
  }

  getWebhookKeySecret(keyId: string): Promise<string | null> {
    return this.runners.read(() => this.statements.webhooks.selectKeySecret.get({ keyId })?.secret ?? null);
  }

  leaseWebhookCursor(opts: Parameters<WebhookStore['leaseWebhookCursor']>[0]): Promise<{ lastSeq: number } | null> {
    const { webhooks } = this.statements;
    const lease = opts.log === 'workflows' ? webhooks.leaseWorkflowCursor : webhooks.leaseCursor;
    return this.runners.write(() => {
      const row = lease.get({ owner: opts.owner, now: opts.now, leaseUntil: opts.now + opts.leaseMs });
      return row ? { lastSeq: row.last_seq } : null;
    });
  }

  /** One write transaction: the deliveries are inserted only when the cursor moved for this owner. */
  advanceWebhookCursor(opts: Parameters<WebhookStore['advanceWebhookCursor']>[0]): Promise<boolean> {
    const { webhooks } = this.statements;
    const advance = opts.log === 'workflows' ? webhooks.advanceWorkflowCursor : webhooks.advanceCursor;
    const { owner, now, fromSeq, toSeq } = opts;
    return this.runners.write(() => {
      if (advance.run({ owner, now, fromSeq, toSeq }).changes !== 1) return false;
      for (const d of opts.deliveries) webhooks.insertDelivery.run({ ...d });
      return true;
    });
  }

  claimWebhookDeliveries(opts: Parameters<WebhookStore['claimWebhookDeliveries']>[0]): Promise<WebhookDelivery[]> {
    return this.runners.write(() =>
      this.statements.webhooks.claimDeliveries
        .all({
          now: opts.now,
          lockedUntil: opts.now + opts.lockMs,
          token: opts.token,
          skipHosts: JSON.stringify(opts.skipHosts),
          limit: opts.limit,
        })
        .map(map.toDelivery)
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt),
    );
  }

  /** One write transaction: the attempt row is written only when the claim still held. */
  recordWebhookAttempt(o: WebhookAttemptOutcome): Promise<boolean> {
    const { webhooks } = this.statements;
    return this.runners.write(() => {
      const row = webhooks.recordAttempt.get({
        deliveryId: o.deliveryId,
        token: o.token,
        status: o.status,
        nextAttemptAt: o.nextAttemptAt,
        statusCode: o.statusCode,
        error: o.error,
        at: o.at,
      });
      if (!row) return false;
      webhooks.insertAttempt.run({
        deliveryId: o.deliveryId,
        attempt: row.attempts,
        at: o.at,
        statusCode: o.statusCode,
        error: o.error,
        durationMs: Math.round(o.durationMs),
      });
      return true;
    });
  }

  listWebhookDeliveries(opts: {
    subscriptionId: string;
    limit: number;
  }): Promise<Array<WebhookDelivery & { attemptLog: WebhookAttempt[] }>> {
    return this.runners.read(() => {
      const deliveries = this.statements.webhooks.selectDeliveries.all(opts).map(map.toDelivery);
      const attempts = this.statements.webhooks.selectAttempts
        .all({ ids: JSON.stringify(deliveries.map((d) => d.id)) })
        .map(map.toAttempt);
      return deliveries.map((d) => ({ ...d, attemptLog: attempts.filter((a) => a.deliveryId === d.id) }));
    });
  }
}
