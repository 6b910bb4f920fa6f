/**
 * Webhook subscriptions, the callback secrets of API keys and the delivery outbox (src/domain/webhook.ts).
 * Twin of `sqlite/statements/webhooks.ts`.
 */
import { BIN2, COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const SUBSCRIPTION_COLUMNS = 'id, key_id, url, events, secret, created_at';
const DELIVERY_COLUMNS =
  'id, event_seq, target, subscription_id, key_id, task_id, event, url, host, body, status, attempts, ' +
  'next_attempt_at, locked_until, last_status_code, last_error, created_at, updated_at';
const deliveryColumns = (prefix: string) =>
  DELIVERY_COLUMNS.split(', ')
    .map((c) => `${prefix}${c}`)
    .join(', ');

/** INSERT_WEBHOOK_SUBSCRIPTION: stores a subscription. Params: every column. Errors: 2627 when the id exists. */
export const INSERT_WEBHOOK_SUBSCRIPTION = statement('INSERT_WEBHOOK_SUBSCRIPTION', {
  idempotent: false,
  params: {
    id: param.varchar(COLUMN_LENGTH.taskId),
    keyId: param.nvarchar(COLUMN_LENGTH.keyId),
    url: param.nvarchar(COLUMN_LENGTH.url),
    events: param.nvarchar(COLUMN_LENGTH.webhookEvents),
    secret: param.nvarchar(COLUMN_LENGTH.secret),
    createdAt: param.time,
  },
  text: `
INSERT INTO ${TABLE.webhookSubscriptions} (${SUBSCRIPTION_COLUMNS})
VALUES (@id, @keyId, @url, @events, @secret, @createdAt);`,
});

/** SELECT_WEBHOOK_SUBSCRIPTION: one subscription (clustered key). Params: @id. */
export const SELECT_WEBHOOK_SUBSCRIPTION = statement('SELECT_WEBHOOK_SUBSCRIPTION', {
  idempotent: true,
  params: { id: param.varchar(COLUMN_LENGTH.taskId) },
  text: `SELECT ${SUBSCRIPTION_COLUMNS} FROM ${TABLE.webhookSubscriptions} WHERE id = @id;`,
});

/** SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY: one key's, oldest first (IX_webhook_subscriptions_key). Params: @keyId, @limit. */
export const SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY = statement('SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY', {
  idempotent: true,
  params: { keyId: param.nvarchar(COLUMN_LENGTH.keyId), limit: param.int },
  text: `
SELECT TOP (@limit) ${SUBSCRIPTION_COLUMNS} FROM ${TABLE.webhookSubscriptions}
WHERE key_id = @keyId ORDER BY created_at, id;`,
});

/** SELECT_WEBHOOK_SUBSCRIPTIONS: every subscription, oldest first (an admin's list). Params: @limit. */
export const SELECT_WEBHOOK_SUBSCRIPTIONS = statement('SELECT_WEBHOOK_SUBSCRIPTIONS', {
  idempotent: true,
  params: { limit: param.int },
  text: `SELECT TOP (@limit) ${SUBSCRIPTION_COLUMNS} FROM ${TABLE.webhookSubscriptions} ORDER BY created_at, id;`,
});

/** DELETE_WEBHOOK_SUBSCRIPTION: removes one (its deliveries stay). Params: @id. Result: { id }, or none when unknown. */
export const DELETE_WEBHOOK_SUBSCRIPTION = statement('DELETE_WEBHOOK_SUBSCRIPTION', {
  idempotent: false,
  params: { id: param.varchar(COLUMN_LENGTH.taskId) },
  text: `DELETE FROM ${TABLE.webhookSubscriptions} OUTPUT deleted.id WHERE id = @id;`,
});

/**
 * UPSERT_WEBHOOK_KEY_SECRET: sets or replaces a key's callback secret. Params: @keyId, @secret, @now.
 * Race-safety: UPDLOCK + HOLDLOCK on the key, so two rotations take turns (the last one wins).
 */
export const UPSERT_WEBHOOK_KEY_SECRET = statement('UPSERT_WEBHOOK_KEY_SECRET', {
  idempotent: true,
  params: { keyId: param.nvarchar(COLUMN_LENGTH.keyId), secret: param.nvarchar(COLUMN_LENGTH.secret), now: param.time },
  text: `
${WRITE_PREAMBLE}
BEGIN TRANSACTION;
UPDATE ${TABLE.webhookKeySecrets} WITH (UPDLOCK, HOLDLOCK) SET secret = @secret, created_at = @now WHERE key_id = @keyId;
IF @@ROWCOUNT = 0
  INSERT INTO ${TABLE.webhookKeySecrets} (key_id, secret, created_at) VALUES (@keyId, @secret, @now);
COMMIT TRANSACTION;`,
});

/** SELECT_WEBHOOK_KEY_SECRET: a key's callback secret. Params: @keyId. Result: { secret } or none. */
export const SELECT_WEBHOOK_KEY_SECRET = statement('SELECT_WEBHOOK_KEY_SECRET', {
  idempotent: true,
  params: { keyId: param.nvarchar(COLUMN_LENGTH.keyId) },
  text: `SELECT secret FROM ${TABLE.webhookKeySecrets} WHERE key_id = @keyId;`,
});

/**
 * LEASE_WEBHOOK_CURSOR: takes or extends the lease on the outbox cursor when it is free, expired or already
 * @owner's. Params: @owner, @now, @leaseUntil. Result: { last_seq } when held, none otherwise.
 */
export const LEASE_WEBHOOK_CURSOR = statement('LEASE_WEBHOOK_CURSOR', {
  idempotent: true,
  params: { owner: param.nvarchar(COLUMN_LENGTH.name), now: param.time, leaseUntil: param.time },
  text: `
UPDATE ${TABLE.webhookCursor} SET owner = @owner, lease_until = @leaseUntil
OUTPUT inserted.last_seq
WHERE id = 1 AND (owner = @owner OR owner IS NULL OR lease_until <= @now);`,
});

/**
 * ADVANCE_WEBHOOK_CURSOR: moves the cursor from @fromSeq to @toSeq while @owner holds an unexpired lease, and
 * in the same transaction inserts @deliveries (JSON array of NewWebhookDelivery, times as ISO text), skipping
 * any (event_seq, target) already there. Result: { changed } (1 when the cursor moved; 0: nothing written).
 * Race-safety: the cursor row's update lock is held to the commit, so the insert belongs to that one move.
 */
export const ADVANCE_WEBHOOK_CURSOR = statement('ADVANCE_WEBHOOK_CURSOR', {
  idempotent: false,
  params: {
    owner: param.nvarchar(COLUMN_LENGTH.name),
    now: param.time,
    fromSeq: param.bigint,
    toSeq: param.bigint,
    deliveries: param.json,
  },
  text: `
${WRITE_PREAMBLE}
BEGIN TRANSACTION;
UPDATE ${TABLE.webhookCursor} SET last_seq = @toSeq
WHERE id = 1 AND owner = @owner AND lease_until > @now AND last_seq = @fromSeq;
IF @@ROWCOUNT = 0
BEGIN
  COMMIT TRANSACTION;
  SELECT 0 AS changed;
  RETURN;
END;
INSERT INTO ${TABLE.webhookDeliveries} (id, event_seq, target, subscription_id, key_id, task_id, event, url, host,
  body, status, attempts, next_attempt_at, created_at, updated_at)
SELECT n.id, n.event_seq, n.target, n.subscription_id, n.key_id, n.task_id, n.event, n.url, n.host,
  n.body, 'pending', 0, n.created_at, n.created_at, n.created_at
FROM OPENJSON(@deliveries) WITH (
  id              varchar(64)    '$.id',
  event_seq       bigint         '$.eventSeq',
  target          varchar(64)    '$.target',
  subscription_id varchar(64)    '$.subscriptionId',
  key_id          nvarchar(450)  '$.keyId',
  task_id         varchar(64)    '$.taskId',
  event           varchar(32)    '$.event',
  url             nvarchar(2048) '$.url',
  host            nvarchar(255)  '$.host',
  body            nvarchar(max)  '$.body',
  created_at      datetime2(3)   '$.createdAt'
) AS n
WHERE NOT EXISTS (
  SELECT 1 FROM ${TABLE.webhookDeliveries} AS d WITH (UPDLOCK, HOLDLOCK)
  WHERE d.event_seq = n.event_seq AND d.target = n.target ${BIN2}
);
COMMIT TRANSACTION;
SELECT 1 AS changed;`,
});

/** The cursor statements over the workflow event log: the same, on workflow_webhook_cursor. */
export const LEASE_WORKFLOW_WEBHOOK_CURSOR = statement('LEASE_WORKFLOW_WEBHOOK_CURSOR', {
  ...LEASE_WEBHOOK_CURSOR,
  text: LEASE_WEBHOOK_CURSOR.text.replace(TABLE.webhookCursor, TABLE.workflowWebhookCursor),
});
export const ADVANCE_WORKFLOW_WEBHOOK_CURSOR = statement('ADVANCE_WORKFLOW_WEBHOOK_CURSOR', {
  ...ADVANCE_WEBHOOK_CURSOR,
  text: ADVANCE_WEBHOOK_CURSOR.text.replace(TABLE.webhookCursor, TABLE.workflowWebhookCursor),
});

/**
 * CLAIM_WEBHOOK_DELIVERIES: locks up to @limit due pending deliveries no live claim holds, leaving out the
 * hosts in @skipHosts (JSON array), earliest due first. Params: @now, @lockedUntil, @token, @skipHosts, @limit.
 * Result: the claimed rows. Race-safety: READPAST skips rows another claim is taking; UPDLOCK keeps the chosen
 * ones until the update, so two supervisors never claim one delivery.
 */
export const CLAIM_WEBHOOK_DELIVERIES = statement('CLAIM_WEBHOOK_DELIVERIES', {
  idempotent: false,
  params: {
    now: param.time,
    lockedUntil: param.time,
    token: param.varchar(COLUMN_LENGTH.token),
    skipHosts: param.json,
    limit: param.int,
  },
  text: `
${WRITE_PREAMBLE}
WITH due AS (
  SELECT TOP (@limit) ${DELIVERY_COLUMNS}, claim_token
  FROM ${TABLE.webhookDeliveries} WITH (UPDLOCK, READPAST, ROWLOCK)
  WHERE status = 'pending' AND next_attempt_at <= @now AND (locked_until IS NULL OR locked_until <= @now)
    AND host NOT IN (SELECT h.host ${BIN2} FROM OPENJSON(@skipHosts) WITH (host nvarchar(255) '$') AS h)
  ORDER BY next_attempt_at
)
UPDATE due SET locked_until = @lockedUntil, claim_token = @token
OUTPUT ${deliveryColumns('inserted.')};`,
});

/**
 * RECORD_WEBHOOK_ATTEMPT: ends the claim @token holds with the attempt's outcome and records the attempt, in one
 * transaction. Params: @deliveryId, @token, @status, @nextAttemptAt, @statusCode, @error, @at, @durationMs.
 * Result: { changed } (0 when the claim was lost: nothing written).
 */
export const RECORD_WEBHOOK_ATTEMPT = statement('RECORD_WEBHOOK_ATTEMPT', {
  idempotent: false,
  params: {
    deliveryId: param.varchar(COLUMN_LENGTH.taskId),
    token: param.varchar(COLUMN_LENGTH.token),
    status: param.varchar(COLUMN_LENGTH.status),
    nextAttemptAt: param.time,
    statusCode: param.int,
    error: param.nvarchar(COLUMN_LENGTH.webhookError),
    at: param.time,
    durationMs: param.int,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @done TABLE (attempts int NOT NULL);
BEGIN TRANSACTION;
UPDATE ${TABLE.webhookDeliveries}
SET status = @status, attempts = attempts + 1, next_attempt_at = @nextAttemptAt, locked_until = NULL,
  claim_token = NULL, last_status_code = @statusCode, last_error = @error, updated_at = @at
OUTPUT inserted.attempts INTO @done (attempts)
WHERE id = @deliveryId AND claim_token = @token AND status = 'pending';
INSERT INTO ${TABLE.webhookAttempts} (delivery_id, attempt, at, status_code, error, duration_ms)
SELECT @deliveryId, attempts, @at, @statusCode, @error, @durationMs FROM @done;
COMMIT TRANSACTION;
SELECT COUNT(*) AS changed FROM @done;`,
});

/**
 * SELECT_WEBHOOK_DELIVERIES: one subscription's deliveries, newest first (IX_webhook_deliveries_subscription),
 * then their attempts. Params: @subscriptionId, @limit. Result sets: [0] deliveries, [1] their attempts.
 */
export const SELECT_WEBHOOK_DELIVERIES = statement('SELECT_WEBHOOK_DELIVERIES', {
  idempotent: true,
  params: { subscriptionId: param.varchar(COLUMN_LENGTH.taskId), limit: param.int },
  text: `
SET NOCOUNT ON;
DECLARE @page TABLE (id varchar(64) ${BIN2} NOT NULL PRIMARY KEY);
INSERT INTO @page (id)
SELECT TOP (@limit) id FROM ${TABLE.webhookDeliveries}
WHERE subscription_id = @subscriptionId ORDER BY created_at DESC, id DESC;
SELECT ${deliveryColumns('d.')} FROM ${TABLE.webhookDeliveries} AS d JOIN @page AS p ON p.id = d.id
ORDER BY d.created_at DESC, d.id DESC;
SELECT a.delivery_id, a.attempt, a.at, a.status_code, a.error, a.duration_ms
FROM ${TABLE.webhookAttempts} AS a JOIN @page AS p ON p.id = a.delivery_id
ORDER BY a.delivery_id, a.attempt;`,
});
