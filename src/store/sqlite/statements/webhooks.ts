/**
 * Webhook subscriptions, the callback secrets of API keys and the delivery outbox (src/domain/webhook.ts).
 * Twin of `mssql/statements/webhooks.ts`. Parameters are named (`@name`); times are epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';
import type { WebhookAttemptRowOf, WebhookDeliveryRowOf, WebhookSubscriptionRowOf } from '../../webhookRows';

type SubscriptionRow = WebhookSubscriptionRowOf<number>;
type DeliveryRow = WebhookDeliveryRowOf<number, number>;
type AttemptRow = WebhookAttemptRowOf<number>;

/** INSERT_WEBHOOK_SUBSCRIPTION: stores a subscription. Params: every column. */
export const INSERT_WEBHOOK_SUBSCRIPTION = `
INSERT INTO webhook_subscriptions (id, key_id, url, events, secret, created_at)
VALUES (@id, @keyId, @url, @events, @secret, @createdAt)`;

/** SELECT_WEBHOOK_SUBSCRIPTION: one subscription (primary key). Params: @id. Result: the row or none. */
export const SELECT_WEBHOOK_SUBSCRIPTION = `SELECT * FROM webhook_subscriptions WHERE id = @id`;

/** SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY: one key's subscriptions, oldest first. Params: @keyId, @limit. */
export const SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY = `
SELECT * FROM webhook_subscriptions WHERE key_id = @keyId ORDER BY created_at, id LIMIT @limit`;

/** SELECT_WEBHOOK_SUBSCRIPTIONS: every subscription, oldest first (an admin's list). Params: @limit. */
export const SELECT_WEBHOOK_SUBSCRIPTIONS = `SELECT * FROM webhook_subscriptions ORDER BY created_at, id LIMIT @limit`;

/** DELETE_WEBHOOK_SUBSCRIPTION: removes one (its deliveries stay, for the record). Params: @id. Changes: 0|1. */
export const DELETE_WEBHOOK_SUBSCRIPTION = `DELETE FROM webhook_subscriptions WHERE id = @id`;

/** UPSERT_WEBHOOK_KEY_SECRET: sets (or replaces) a key's callback secret. Params: @keyId, @secret, @now. */
export const UPSERT_WEBHOOK_KEY_SECRET = `
INSERT INTO webhook_key_secrets (key_id, secret, created_at) VALUES (@keyId, @secret, @now)
ON CONFLICT (key_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`;

/** SELECT_WEBHOOK_KEY_SECRET: a key's callback secret. Params: @keyId. Result: { secret } or none. */
export const SELECT_WEBHOOK_KEY_SECRET = `SELECT secret FROM webhook_key_secrets WHERE key_id = @keyId`;

/**
 * LEASE_WEBHOOK_CURSOR: takes or extends the lease on the outbox cursor when it is free, expired or already
 * ours. Params: @owner, @now, @leaseUntil. Result: { last_seq } when held, none when another owner holds it.
 */
export const LEASE_WEBHOOK_CURSOR = `
UPDATE webhook_cursor SET owner = @owner, lease_until = @leaseUntil
WHERE id = 1 AND (owner = @owner OR owner IS NULL OR lease_until <= @now)
RETURNING last_seq`;

/**
 * ADVANCE_WEBHOOK_CURSOR: moves the cursor from @fromSeq to @toSeq while @owner still holds an unexpired lease
 * (the deliveries are inserted in the same transaction only when it changed a row). Changes: 0|1.
 */
export const ADVANCE_WEBHOOK_CURSOR = `
UPDATE webhook_cursor SET last_seq = @toSeq
WHERE id = 1 AND owner = @owner AND lease_until > @now AND last_seq = @fromSeq`;

/** The cursor statements over the workflow event log: the same, on workflow_webhook_cursor. */
export const LEASE_WORKFLOW_WEBHOOK_CURSOR = LEASE_WEBHOOK_CURSOR.replace('webhook_cursor', 'workflow_webhook_cursor');
export const ADVANCE_WORKFLOW_WEBHOOK_CURSOR = ADVANCE_WEBHOOK_CURSOR.replace(
  'webhook_cursor',
  'workflow_webhook_cursor',
);

/** INSERT_WEBHOOK_DELIVERY: a pending delivery, unless one exists for (event_seq, target). Changes: 0|1. */
export const INSERT_WEBHOOK_DELIVERY = `
INSERT OR IGNORE INTO webhook_deliveries (id, event_seq, target, subscription_id, key_id, task_id, event, url, host,
  body, status, attempts, next_attempt_at, created_at, updated_at)
VALUES (@id, @eventSeq, @target, @subscriptionId, @keyId, @taskId, @event, @url, @host,
  @body, 'pending', 0, @createdAt, @createdAt, @createdAt)`;

/**
 * CLAIM_WEBHOOK_DELIVERIES: locks up to @limit due pending deliveries that no live claim holds, leaving out the
 * hosts in @skipHosts (JSON array: hosts at their concurrency limit), earliest due first.
 * Params: @now, @lockedUntil, @token, @skipHosts, @limit. Result: the claimed rows.
 */
export const CLAIM_WEBHOOK_DELIVERIES = `
UPDATE webhook_deliveries SET locked_until = @lockedUntil, claim_token = @token
WHERE id IN (
  SELECT id FROM webhook_deliveries
  WHERE status = 'pending' AND next_attempt_at <= @now AND (locked_until IS NULL OR locked_until <= @now)
    AND host NOT IN (SELECT value FROM json_each(@skipHosts))
  ORDER BY next_attempt_at LIMIT @limit)
RETURNING *`;

/**
 * RECORD_WEBHOOK_ATTEMPT: ends the claim @token holds with the attempt's outcome. Params: @deliveryId, @token,
 * @status, @nextAttemptAt, @statusCode, @error, @at. Result: { attempts } (the attempt's number) or none when
 * the claim was lost.
 */
export const RECORD_WEBHOOK_ATTEMPT = `
UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = @nextAttemptAt,
  locked_until = NULL, claim_token = NULL, last_status_code = @statusCode, last_error = @error, updated_at = @at
WHERE id = @deliveryId AND claim_token = @token AND status = 'pending'
RETURNING attempts`;

/** INSERT_WEBHOOK_ATTEMPT: one attempt's record. Params: every column. */
export const INSERT_WEBHOOK_ATTEMPT = `
INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
VALUES (@deliveryId, @attempt, @at, @statusCode, @error, @durationMs)`;

/** SELECT_WEBHOOK_DELIVERIES: one subscription's deliveries, newest first. Params: @subscriptionId, @limit. */
export const SELECT_WEBHOOK_DELIVERIES = `
SELECT * FROM webhook_deliveries WHERE subscription_id = @subscriptionId ORDER BY created_at DESC, id DESC LIMIT @limit`;

/** SELECT_WEBHOOK_ATTEMPTS: the attempts of the deliveries in @ids (JSON array), by delivery and number. */
export const SELECT_WEBHOOK_ATTEMPTS = `
SELECT * FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(@ids)) ORDER BY delivery_id, attempt`;

export function prepareWebhookStatements(db: Database) {
  return {
    insertSubscription: db.prepare(INSERT_WEBHOOK_SUBSCRIPTION),
    selectSubscription: db.prepare<{ id: string }, SubscriptionRow>(SELECT_WEBHOOK_SUBSCRIPTION),
    selectSubscriptionsOfKey: db.prepare<{ keyId: string; limit: number }, SubscriptionRow>(
      SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY,
    ),
    selectSubscriptions: db.prepare<{ limit: number }, SubscriptionRow>(SELECT_WEBHOOK_SUBSCRIPTIONS),
    deleteSubscription: db.prepare<{ id: string }>(DELETE_WEBHOOK_SUBSCRIPTION),
    upsertKeySecret: db.prepare<{ keyId: string; secret: string; now: number }>(UPSERT_WEBHOOK_KEY_SECRET),
    selectKeySecret: db.prepare<{ keyId: string }, { secret: string }>(SELECT_WEBHOOK_KEY_SECRET),
    leaseCursor: db.prepare<{ owner: string; now: number; leaseUntil: number }, { last_seq: number }>(
      LEASE_WEBHOOK_CURSOR,
    ),
    advanceCursor: db.prepare<{ owner: string; now: number; fromSeq: number; toSeq: number }>(ADVANCE_WEBHOOK_CURSOR),
    leaseWorkflowCursor: db.prepare<{ owner: string; now: number; leaseUntil: number }, { last_seq: number }>(
      LEASE_WORKFLOW_WEBHOOK_CURSOR,
    ),
    advanceWorkflowCursor: db.prepare<{ owner: string; now: number; fromSeq: number; toSeq: number }>(
      ADVANCE_WORKFLOW_WEBHOOK_CURSOR,
    ),
    insertDelivery: db.prepare(INSERT_WEBHOOK_DELIVERY),
    claimDeliveries: db.prepare<
      { now: number; lockedUntil: number; token: string; skipHosts: string; limit: number },
      DeliveryRow
    >(CLAIM_WEBHOOK_DELIVERIES),
    recordAttempt: db.prepare<Record<string, unknown>, { attempts: number }>(RECORD_WEBHOOK_ATTEMPT),
    insertAttempt: db.prepare(INSERT_WEBHOOK_ATTEMPT),
    selectDeliveries: db.prepare<{ subscriptionId: string; limit: number }, DeliveryRow>(SELECT_WEBHOOK_DELIVERIES),
    selectAttempts: db.prepare<{ ids: string }, AttemptRow>(SELECT_WEBHOOK_ATTEMPTS),
  };
}

export type WebhookStatements = ReturnType<typeof prepareWebhookStatements>;
