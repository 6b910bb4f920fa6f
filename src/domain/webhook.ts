/**
 * Webhooks: what an API key subscribes to, and the deliveries the outbox holds. A delivery is one event for
 * one target (a subscription, or the task's callbackUrl); its id is the `webhook-id` of every attempt, so a
 * receiver dedupes on it. Times are epoch milliseconds.
 */
import { backoffDelayMs, type BackoffPolicy } from './backoff';
import type { TaskEventKind } from './task';
import type { WorkflowEventKind } from './workflow';

export const WEBHOOK_EVENTS = [
  'task.succeeded',
  'task.dead',
  'task.cancelled',
  'task.expired',
  'task.retried',
  'workflow.succeeded',
  'workflow.failed',
  'workflow.cancelled',
  'workflow.waiting_approval',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The task event kinds that become webhook events (`retried` is written by the retry route). */
export const WEBHOOK_EVENT_OF_KIND: Partial<Record<TaskEventKind | 'retried', WebhookEvent>> = {
  succeeded: 'task.succeeded',
  dead: 'task.dead',
  cancelled: 'task.cancelled',
  expired: 'task.expired',
  retried: 'task.retried',
};

/** The workflow event kinds that become webhook events (the workflow's own events, never a step's). */
export const WORKFLOW_WEBHOOK_EVENT_OF_KIND: Partial<Record<WorkflowEventKind, WebhookEvent>> = {
  succeeded: 'workflow.succeeded',
  failed: 'workflow.failed',
  cancelled: 'workflow.cancelled',
  waiting_approval: 'workflow.waiting_approval',
};

/** The target of a workflow event's delivery to a subscription: unique beside the task events' targets. */
export function workflowTarget(subscriptionId: string): string {
  return `workflow:${subscriptionId}`;
}

export interface WebhookSubscription {
  id: string;
  /** The API key that made it: only its tasks (and workflows) are delivered. */
  keyId: string;
  url: string;
  events: WebhookEvent[];
  /** As stored: a `whsec_` secret, or a sealed one (JSON text) when a data key is configured. */
  secret: string;
  createdAt: number;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** The target of a task's own callbackUrl (a subscription's target is its id). */
export const CALLBACK_TARGET = 'callback';

export interface NewWebhookDelivery {
  id: string;
  /** The task event it reports: (eventSeq, target) is unique, so expanding an event twice adds nothing. */
  eventSeq: number;
  target: string;
  subscriptionId: string | null;
  keyId: string;
  /** The task the event is of; for a workflow event, the workflow. */
  taskId: string;
  event: WebhookEvent;
  url: string;
  /** The URL's host (lowercase), for per-host concurrency. */
  host: string;
  /** The exact body of every attempt (JSON text). */
  body: string;
  createdAt: number;
}

export interface WebhookDelivery extends NewWebhookDelivery {
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lockedUntil: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  updatedAt: number;
}

export interface WebhookAttempt {
  deliveryId: string;
  attempt: number;
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** What a sender reports for one attempt, asked of `Store.recordWebhookAttempt`. */
export interface WebhookAttemptOutcome {
  deliveryId: string;
  /** The claim token: the record applies only while this claim holds the delivery. */
  token: string;
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** succeeded, failed (given up), or pending again at nextAttemptAt. */
  status: DeliveryStatus;
  nextAttemptAt: number;
}

export const WEBHOOK_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 3_600_000 };

/**
 * What follows a failed attempt: another after exponential backoff with jitter (10 s doubling to an hour), or
 * `failed` once the next try would start after `retryForMs` from the delivery's creation (about 24 h).
 */
export function afterFailedAttempt(
  d: Pick<WebhookDelivery, 'attempts' | 'createdAt'>,
  now: number,
  retryForMs: number,
  policy: BackoffPolicy = WEBHOOK_BACKOFF,
  random: () => number = Math.random,
): { status: 'pending' | 'failed'; nextAttemptAt: number } {
  const next = now + backoffDelayMs(d.attempts + 1, policy, random);
  return next - d.createdAt > retryForMs
    ? { status: 'failed', nextAttemptAt: now }
    : { status: 'pending', nextAttemptAt: next };
}
