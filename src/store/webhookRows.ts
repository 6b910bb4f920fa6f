/** Webhook rows of both adapters and their mapping to the records of src/domain/webhook.ts (see rowMapping.ts). */
import type {
  DeliveryStatus,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEvent,
  WebhookSubscription,
} from '../domain/webhook';
import type { ColumnTypes } from './rowMapping';

export interface WebhookSubscriptionRowOf<Time> {
  id: string;
  key_id: string;
  url: string;
  events: string;
  secret: string;
  created_at: Time;
}

export interface WebhookDeliveryRowOf<Time, Seq> {
  id: string;
  event_seq: Seq;
  target: string;
  subscription_id: string | null;
  key_id: string;
  task_id: string;
  event: string;
  url: string;
  host: string;
  body: string;
  status: string;
  attempts: number;
  next_attempt_at: Time;
  locked_until: Time | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Time;
  updated_at: Time;
}

export interface WebhookAttemptRowOf<Time> {
  delivery_id: string;
  attempt: number;
  at: Time;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export function webhookMappers<Time, Seq>(c: ColumnTypes<Time, unknown, Seq>) {
  return {
    toSubscription: (row: WebhookSubscriptionRowOf<Time>): WebhookSubscription => ({
      id: row.id,
      keyId: row.key_id,
      url: row.url,
      events: JSON.parse(row.events) as WebhookEvent[],
      secret: row.secret,
      createdAt: c.time(row.created_at),
    }),
    toDelivery: (row: WebhookDeliveryRowOf<Time, Seq>): WebhookDelivery => ({
      id: row.id,
      eventSeq: c.seq(row.event_seq),
      target: row.target,
      subscriptionId: row.subscription_id,
      keyId: row.key_id,
      taskId: row.task_id,
      event: row.event as WebhookEvent,
      url: row.url,
      host: row.host,
      body: row.body,
      status: row.status as DeliveryStatus,
      attempts: row.attempts,
      nextAttemptAt: c.time(row.next_attempt_at),
      lockedUntil: row.locked_until === null ? null : c.time(row.locked_until),
      lastStatusCode: row.last_status_code,
      lastError: row.last_error,
      createdAt: c.time(row.created_at),
      updatedAt: c.time(row.updated_at),
    }),
    toAttempt: (row: WebhookAttemptRowOf<Time>): WebhookAttempt => ({
      deliveryId: row.delivery_id,
      attempt: row.attempt,
      at: c.time(row.at),
      statusCode: row.status_code,
      error: row.error,
      durationMs: row.duration_ms,
    }),
  };
}
