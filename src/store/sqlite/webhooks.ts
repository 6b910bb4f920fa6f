/** Webhook subscriptions and the delivery outbox of the SQLite adapter. Twin of the webhook methods of `mssql/mssqlStore.ts`. */
import type { WebhookLog } from '../webhookPort';
import type {
  NewWebhookDelivery,
  WebhookAttempt,
  WebhookAttemptOutcome,
  WebhookDelivery,
  WebhookSubscription,
} from '../../domain/webhook';
import { webhookMappers } from '../webhookRows';
import type { SqliteStatements } from './statements';

const map = webhookMappers<number, number>({ time: (v) => v, flag: (v) => v !== 0, seq: (v) => v });

export function insertSubscription(statements: SqliteStatements, sub: WebhookSubscription): void {
  statements.webhooks.insertSubscription.run({
    id: sub.id,
    keyId: sub.keyId,
    url: sub.url,
    events: JSON.stringify(sub.events),
    secret: sub.secret,
    createdAt: sub.createdAt,
  });
}

export function getSubscription(statements: SqliteStatements, id: string): WebhookSubscription | null {
  const row = statements.webhooks.selectSubscription.get({ id });
  return row ? map.toSubscription(row) : null;
}

export function listSubscriptions(
  statements: SqliteStatements,
  opts: { keyId?: string; limit: number },
): WebhookSubscription[] {
  const rows =
    opts.keyId === undefined
      ? statements.webhooks.selectSubscriptions.all({ limit: opts.limit })
      : statements.webhooks.selectSubscriptionsOfKey.all({ keyId: opts.keyId, limit: opts.limit });
  return rows.map(map.toSubscription);
}

export function leaseCursor(
  statements: SqliteStatements,
  opts: { owner: string; now: number; leaseMs: number; log?: WebhookLog },
): { lastSeq: number } | null {
  const lease = opts.log === 'workflows' ? statements.webhooks.leaseWorkflowCursor : statements.webhooks.leaseCursor;
  const row = lease.get({
    owner: opts.owner,
    now: opts.now,
    leaseUntil: opts.now + opts.leaseMs,
  });
  return row ? { lastSeq: row.last_seq } : null;
}

/** Inside one write transaction: the deliveries are inserted only when the cursor moved for this owner. */
export function advanceCursor(
  statements: SqliteStatements,
  opts: {
    owner: string;
    now: number;
    fromSeq: number;
    toSeq: number;
    deliveries: NewWebhookDelivery[];
    log?: WebhookLog;
  },
): boolean {
  const { owner, now, fromSeq, toSeq } = opts;
  const advance =
    opts.log === 'workflows' ? statements.webhooks.advanceWorkflowCursor : statements.webhooks.advanceCursor;
  if (advance.run({ owner, now, fromSeq, toSeq }).changes !== 1) return false;
  for (const d of opts.deliveries) statements.webhooks.insertDelivery.run({ ...d });
  return true;
}

export function claimDeliveries(
  statements: SqliteStatements,
  opts: { now: number; lockMs: number; token: string; skipHosts: string[]; limit: number },
): WebhookDelivery[] {
  return statements.webhooks.claimDeliveries
    .all({
      now: opts.now,
      lockedUntil: opts.now + opts.lockMs,
      token: opts.token,
      skipHosts: JSON.stringify(opts.skipHosts),
      limit: opts.limit,
    })
    .map(map.toDelivery)
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
}

/** Inside one write transaction: the attempt row is written only when the claim still held. */
export function recordAttempt(statements: SqliteStatements, o: WebhookAttemptOutcome): boolean {
  const row = statements.webhooks.recordAttempt.get({
    deliveryId: o.deliveryId,
    token: o.token,
    status: o.status,
    nextAttemptAt: o.nextAttemptAt,
    statusCode: o.statusCode,
    error: o.error,
    at: o.at,
  });
  if (!row) return false;
  statements.webhooks.insertAttempt.run({
    deliveryId: o.deliveryId,
    attempt: row.attempts,
    at: o.at,
    statusCode: o.statusCode,
    error: o.error,
    durationMs: Math.round(o.durationMs),
  });
  return true;
}

export function listDeliveries(
  statements: SqliteStatements,
  opts: { subscriptionId: string; limit: number },
): Array<WebhookDelivery & { attemptLog: WebhookAttempt[] }> {
  const deliveries = statements.webhooks.selectDeliveries.all(opts).map(map.toDelivery);
  const attempts = statements.webhooks.selectAttempts
    .all({ ids: JSON.stringify(deliveries.map((d) => d.id)) })
    .map(map.toAttempt);
  return deliveries.map((d) => ({ ...d, attemptLog: attempts.filter((a) => a.deliveryId === d.id) }));
}
