/** Webhook subscriptions and the delivery outbox of the mssql adapter: one statement per call. Twin of `sqlite/webhooks.ts`. */
import type { WebhookLog } from '../webhookPort';
import type {
  NewWebhookDelivery,
  WebhookAttempt,
  WebhookAttemptOutcome,
  WebhookDelivery,
  WebhookSubscription,
} from '../../domain/webhook';
import { webhookMappers, type WebhookAttemptRowOf, type WebhookDeliveryRowOf } from '../webhookRows';
import type { SqlClient } from './client';
import { fromBigint, fromDate, toIsoMs } from './rows';
import * as statements from './statements/webhooks';

const map = webhookMappers<Date, string | number>({ time: fromDate, flag: (v) => Boolean(v), seq: fromBigint });
type SubscriptionRow = Parameters<typeof map.toSubscription>[0];
type DeliveryRow = WebhookDeliveryRowOf<Date, string | number>;
type AttemptRow = WebhookAttemptRowOf<Date>;

const changed = (row: { changed?: number } | null) => Number(row?.changed ?? 0) > 0;

export class MssqlWebhooks {
  constructor(private readonly db: SqlClient) {}

  async insertWebhookSubscription(sub: WebhookSubscription): Promise<void> {
    await this.db.run(statements.INSERT_WEBHOOK_SUBSCRIPTION, { ...sub, events: JSON.stringify(sub.events) });
  }

  async getWebhookSubscription(id: string): Promise<WebhookSubscription | null> {
    const row = await this.db.one<'id', SubscriptionRow>(statements.SELECT_WEBHOOK_SUBSCRIPTION, { id });
    return row ? map.toSubscription(row) : null;
  }

  async listWebhookSubscriptions(opts: { keyId?: string; limit: number }): Promise<WebhookSubscription[]> {
    const rows =
      opts.keyId === undefined
        ? await this.db.all<'limit', SubscriptionRow>(statements.SELECT_WEBHOOK_SUBSCRIPTIONS, { limit: opts.limit })
        : await this.db.all<'keyId' | 'limit', SubscriptionRow>(statements.SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY, {
            keyId: opts.keyId,
            limit: opts.limit,
          });
    return rows.map(map.toSubscription);
  }

  async deleteWebhookSubscription(id: string): Promise<boolean> {
    return (await this.db.all(statements.DELETE_WEBHOOK_SUBSCRIPTION, { id })).length === 1;
  }

  async setWebhookKeySecret(keyId: string, secret: string, now: number): Promise<void> {
    await this.db.run(statements.UPSERT_WEBHOOK_KEY_SECRET, { keyId, secret, now });
  }

  async getWebhookKeySecret(keyId: string): Promise<string | null> {
    const row = await this.db.one<'keyId', { secret: string }>(statements.SELECT_WEBHOOK_KEY_SECRET, { keyId });
    return row?.secret ?? null;
  }

  async leaseWebhookCursor(opts: {
    owner: string;
    now: number;
    leaseMs: number;
    log?: WebhookLog;
  }): Promise<{ lastSeq: number } | null> {
    const lease = opts.log === 'workflows' ? statements.LEASE_WORKFLOW_WEBHOOK_CURSOR : statements.LEASE_WEBHOOK_CURSOR;
    const row = await this.db.one<string, { last_seq: string | number }>(lease, {
      owner: opts.owner,
      now: opts.now,
      leaseUntil: opts.now + opts.leaseMs,
    });
    return row ? { lastSeq: fromBigint(row.last_seq) } : null;
  }

  async advanceWebhookCursor(opts: {
    owner: string;
    now: number;
    fromSeq: number;
    toSeq: number;
    deliveries: NewWebhookDelivery[];
    log?: WebhookLog;
  }): Promise<boolean> {
    const deliveries = opts.deliveries.map((d) => ({ ...d, createdAt: toIsoMs(d.createdAt) }));
    const advance =
      opts.log === 'workflows' ? statements.ADVANCE_WORKFLOW_WEBHOOK_CURSOR : statements.ADVANCE_WEBHOOK_CURSOR;
    const sets = await this.db.run(advance, {
      owner: opts.owner,
      now: opts.now,
      fromSeq: opts.fromSeq,
      toSeq: opts.toSeq,
      deliveries: JSON.stringify(deliveries),
    });
    return changed((sets.at(-1)?.[0] as { changed?: number } | undefined) ?? null);
  }

  async claimWebhookDeliveries(opts: {
    now: number;
    lockMs: number;
    token: string;
    skipHosts: string[];
    limit: number;
  }): Promise<WebhookDelivery[]> {
    const rows = await this.db.all<string, DeliveryRow>(statements.CLAIM_WEBHOOK_DELIVERIES, {
      now: opts.now,
      lockedUntil: opts.now + opts.lockMs,
      token: opts.token,
      skipHosts: JSON.stringify(opts.skipHosts),
      limit: opts.limit,
    });
    return rows.map(map.toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async recordWebhookAttempt(o: WebhookAttemptOutcome): Promise<boolean> {
    const sets = await this.db.run(statements.RECORD_WEBHOOK_ATTEMPT, {
      deliveryId: o.deliveryId,
      token: o.token,
      status: o.status,
      nextAttemptAt: o.nextAttemptAt,
      statusCode: o.statusCode,
      error: o.error,
      at: o.at,
      durationMs: Math.round(o.durationMs),
    });
    return changed((sets.at(-1)?.[0] as { changed?: number } | undefined) ?? null);
  }

  async listWebhookDeliveries(opts: {
    subscriptionId: string;
    limit: number;
  }): Promise<Array<WebhookDelivery & { attemptLog: WebhookAttempt[] }>> {
    const [deliveryRows = [], attemptRows = []] = await this.db.run(statements.SELECT_WEBHOOK_DELIVERIES, opts);
    const attempts = (attemptRows as unknown as AttemptRow[]).map(map.toAttempt);
    return (deliveryRows as unknown as DeliveryRow[])
      .map(map.toDelivery)
      .map((d) => ({ ...d, attemptLog: attempts.filter((a) => a.deliveryId === d.id) }));
  }
}
