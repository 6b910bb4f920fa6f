/**
 * The webhook part of the store port (src/store/port.ts `Store` extends it): subscriptions, the API keys'
 * callback secrets, and the delivery outbox (a leased cursor over the task event log, deliveries and their
 * attempts; src/webhooks/outbox.ts). Same rules as the rest of the port: conditional writes, decisions made by
 * the caller, epoch milliseconds.
 */
import type {
  NewWebhookDelivery,
  WebhookAttempt,
  WebhookAttemptOutcome,
  WebhookDelivery,
  WebhookSubscription,
} from '../domain/webhook';

/**
 * Which event log an outbox cursor walks: the task events (`tasks`, the default) or the workflow events
 * (`workflows`). Each has its own cursor; their deliveries share one table, a workflow's with the target
 * `workflow:<subscription id>` so that (event seq, target) stays unique across the two logs.
 */
export type WebhookLog = 'tasks' | 'workflows';

export interface WebhookStore {
  insertWebhookSubscription(sub: WebhookSubscription): Promise<void>;
  getWebhookSubscription(id: string): Promise<WebhookSubscription | null>;
  /** One key's subscriptions (every key's without `keyId`), oldest first. */
  listWebhookSubscriptions(opts: { keyId?: string; limit: number }): Promise<WebhookSubscription[]>;
  /** False when unknown. The subscription's deliveries stay. */
  deleteWebhookSubscription(id: string): Promise<boolean>;
  /** Sets or replaces an API key's callbackUrl secret (as stored: plain or sealed). */
  setWebhookKeySecret(keyId: string, secret: string, now: number): Promise<void>;
  getWebhookKeySecret(keyId: string): Promise<string | null>;
  /**
   * Takes or extends the lease on the outbox cursor when it is free, expired or `owner`'s own: answers the seq
   * of the last task event already turned into deliveries, or null while another owner holds the lease.
   */
  leaseWebhookCursor(opts: {
    owner: string;
    now: number;
    leaseMs: number;
    log?: WebhookLog;
  }): Promise<{ lastSeq: number } | null>;
  /**
   * In one transaction: moves the cursor from `fromSeq` to `toSeq` while `owner` holds an unexpired lease and
   * inserts the deliveries (one per (eventSeq, target): a repeat inserts nothing). False, writing nothing,
   * when the lease was lost or the cursor moved.
   */
  advanceWebhookCursor(opts: {
    owner: string;
    now: number;
    fromSeq: number;
    toSeq: number;
    deliveries: NewWebhookDelivery[];
    log?: WebhookLog;
  }): Promise<boolean>;
  /**
   * Locks up to `limit` due pending deliveries no live claim holds (none for a host in `skipHosts`) until
   * now + lockMs under `token`, earliest due first, and answers them.
   */
  claimWebhookDeliveries(opts: {
    now: number;
    lockMs: number;
    token: string;
    skipHosts: string[];
    limit: number;
  }): Promise<WebhookDelivery[]>;
  /** Records an attempt and its outcome while the claim holds; false (nothing written) when it was lost. */
  recordWebhookAttempt(outcome: WebhookAttemptOutcome): Promise<boolean>;
  /** A subscription's deliveries, newest first, each with its attempts in order. */
  listWebhookDeliveries(opts: {
    subscriptionId: string;
    limit: number;
  }): Promise<Array<WebhookDelivery & { attemptLog: WebhookAttempt[] }>>;
}
