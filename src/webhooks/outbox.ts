/**
 * The webhook outbox: durable, at-least-once delivery of terminal task events without touching the
 * transitions. Every transition already appends its task event in its own transaction, so the event log is
 * the outbox's input, and a crash after a commit loses nothing:
 *
 * - expand: one supervisor at a time (a lease on the one-row cursor) reads the events after the cursor, turns
 *   each terminal one into deliveries (one per matching subscription of the submitting key, one for the task's
 *   callbackUrl) and moves the cursor in the same transaction as their insert; (event seq, target) is unique,
 *   so a replay inserts nothing twice.
 * - deliver: each supervisor claims a few due deliveries under a token (a conditional update: two supervisors
 *   never hold one delivery), sends them concurrently, and records each attempt while its claim holds. A failed
 *   attempt is retried with exponential backoff and jitter until `retryForMs` after the event, then `failed`.
 *   Concurrency is bounded overall and per host, and a host at its bound is left out of the claim, so a slow or
 *   dead endpoint holds at most its own slots and never delays the deliveries to other hosts.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../domain/clock';
import type { BackoffPolicy } from '../domain/backoff';
import type { TaskEvent, TaskRecord } from '../domain/task';
import {
  afterFailedAttempt,
  CALLBACK_TARGET,
  WEBHOOK_BACKOFF,
  WEBHOOK_EVENT_OF_KIND,
  WORKFLOW_WEBHOOK_EVENT_OF_KIND,
  workflowTarget,
  type NewWebhookDelivery,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookSubscription,
} from '../domain/webhook';
import type { DataKeyRing } from '../security/dataKeys';
import { SealedDataError } from '../security/encryption';
import { redactTask } from '../store/sealedStore';
import type { Store } from '../store/port';
import type { WebhookLog } from '../store/webhookPort';
import type { WorkflowEvent, WorkflowEventKind } from '../domain/workflow';
import { workflowView } from '../supervisor/routes/workflows';
import { taskView } from '../supervisor/views';
import { keySecretOwner, openSecret } from './secrets';
import { sendWebhook, type SendResult } from './sender';
import type { UrlGuard } from './urlGuard';

export interface OutboxSettings {
  /** This supervisor's name on the cursor lease. */
  owner: string;
  /** How long after its event a delivery is still retried (TASKFLEET_WEBHOOK_RETRY_HOURS). */
  retryForMs: number;
  backoff: BackoffPolicy;
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** Sends in flight, overall and to one host. */
  concurrency: number;
  perHost: number;
  /** Deliveries taken per claim, and events read per expansion. */
  claimBatch: number;
  expandBatch: number;
  cursorLeaseMs: number;
}

export const DEFAULT_OUTBOX: Omit<OutboxSettings, 'owner' | 'retryForMs'> = {
  backoff: WEBHOOK_BACKOFF,
  timeoutMs: 10_000,
  concurrency: 16,
  perHost: 4,
  claimBatch: 4,
  expandBatch: 500,
  cursorLeaseMs: 30_000,
};

/** Rounds of `expandBatch` events one expansion pass takes at most (a backlog is caught up over passes). */

/** The event kinds a webhook reports (the keys of WEBHOOK_EVENT_OF_KIND, and of the workflow map). */
const REPORTED_KINDS: readonly string[] = Object.keys(WEBHOOK_EVENT_OF_KIND);
const WORKFLOW_REPORTED_KINDS = Object.keys(WORKFLOW_WEBHOOK_EVENT_OF_KIND) as WorkflowEventKind[];

/** One event log the outbox walks with its own cursor, and what it knows of that cursor. */
interface EventLog<E> {
  name: WebhookLog;
  state: {
    /** The newest event seq known to be expanded (by this supervisor or, as far as it knows, another). */
    knownSeq: number;
    /** When to try the cursor again although no new event is known (another holder may have died). */
    recheckAt: number;
  };
  last(): Promise<number>;
  read(range: { afterSeq: number; upToSeq: number; limit: number }): Promise<E[]>;
  deliveries(events: E[], now: number): Promise<NewWebhookDelivery[]>;
}
const MAX_EXPAND_ROUNDS = 10;
/** The spacing of claims while there is nothing to send. */
const IDLE_CLAIM_MS = 1_000;

/** How long a claim holds a delivery: well past the attempt's deadline, so a live sender never loses it. */
const claimLockMs = (s: OutboxSettings) => s.timeoutMs * 3 + 5_000;

/** The body of every attempt of one delivery (Standard Webhooks' `type`, `timestamp`, `data`). */
export function webhookBody(event: WebhookEvent, at: number, task: TaskRecord): string {
  // A sensitive task's payload and result never leave in a webhook (nor sit in the outbox): redacted.
  const view = taskView(redactTask(task), true);
  return JSON.stringify({ type: event, timestamp: new Date(at).toISOString(), data: { task: view } });
}

export class WebhookOutbox {
  private readonly inFlight = new Map<string, { host: string; abort: AbortController; done: Promise<void> }>();
  private closed = false;
  /** When a claim last found nothing: idle claims (writes) are spaced out. */
  private lastEmptyClaimAt = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly guard: UrlGuard,
    private readonly ring: DataKeyRing | null,
    private readonly settings: OutboxSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Turns the terminal events after the cursor into deliveries; answers how many events it consumed. Idle, it
   * only reads the newest event's seq: the cursor's lease (a write) is taken when there is something to expand,
   * or, while another supervisor holds it, once per lease period in case that holder died. Each pass walks the
   * task event log, then the workflow event log, each with its own cursor.
   */
  async expand(): Promise<number> {
    const tasks = await this.expandLog(this.taskLog);
    return tasks + (await this.expandLog(this.workflowLog));
  }

  private readonly taskLog: EventLog<TaskEvent> = {
    name: 'tasks',
    state: { knownSeq: 0, recheckAt: 0 },
    last: () => this.store.lastTaskEventSeq(),
    read: (range) => this.store.listTaskEventsOfKinds({ ...range, kinds: REPORTED_KINDS }),
    deliveries: (events, now) => this.deliveriesFor(events, now),
  };

  private readonly workflowLog: EventLog<WorkflowEvent> = {
    name: 'workflows',
    state: { knownSeq: 0, recheckAt: 0 },
    last: () => this.store.lastWorkflowEventSeq(),
    read: (range) => this.store.listWorkflowEventsOfKinds({ ...range, kinds: WORKFLOW_REPORTED_KINDS }),
    deliveries: (events, now) => this.workflowDeliveriesFor(events, now),
  };

  private async expandLog<E extends { seq: number }>(log: EventLog<E>): Promise<number> {
    const { owner, cursorLeaseMs, expandBatch } = this.settings;
    const state = log.state;
    const latest = await log.last();
    if (latest <= state.knownSeq && this.clock.now() < state.recheckAt) return 0;
    let consumed = 0;
    for (let round = 0; round < MAX_EXPAND_ROUNDS; round++) {
      const now = this.clock.now();
      const held = await this.store.leaseWebhookCursor({ owner, now, leaseMs: cursorLeaseMs, log: log.name });
      if (!held) {
        state.knownSeq = latest;
        state.recheckAt = now + cursorLeaseMs;
        return consumed;
      }
      state.recheckAt = now + cursorLeaseMs;
      if (latest <= held.lastSeq) {
        state.knownSeq = Math.max(state.knownSeq, held.lastSeq);
        return consumed;
      }
      // Only the kinds a webhook reports are read; the cursor moves over the whole range read.
      const events = await log.read({ afterSeq: held.lastSeq, upToSeq: latest, limit: expandBatch });
      const full = events.length === expandBatch;
      const toSeq = full ? events.at(-1)!.seq : latest;
      const deliveries = await log.deliveries(events, now);
      const moved = await this.store.advanceWebhookCursor({
        owner,
        now: this.clock.now(),
        fromSeq: held.lastSeq,
        toSeq,
        deliveries,
        log: log.name,
      });
      if (!moved) {
        this.log.info({ owner, log: log.name }, 'webhook cursor moved under us (lease lost); the new holder expands');
        return consumed;
      }
      consumed += events.length;
      state.knownSeq = toSeq;
      if (!full) return consumed;
    }
    return consumed;
  }

  /**
   * A workflow's own events (its end, or its wait for a person) as deliveries to the subscriptions of the key
   * that submitted it; the body holds the workflow as `GET /v1/workflows/:id` answers it.
   */
  private async workflowDeliveriesFor(events: WorkflowEvent[], now: number): Promise<NewWebhookDelivery[]> {
    const out: NewWebhookDelivery[] = [];
    const subscriptionsOf = new Map<string, WebhookSubscription[]>();
    for (const e of events) {
      const event = e.step === null ? WORKFLOW_WEBHOOK_EVENT_OF_KIND[e.kind] : undefined;
      if (!event) continue;
      const wf = await this.store.getWorkflow(e.workflowId);
      const keyId = wf?.submittedBy;
      if (!wf || !keyId) continue;
      if (!subscriptionsOf.has(keyId)) {
        subscriptionsOf.set(keyId, await this.store.listWebhookSubscriptions({ keyId, limit: 1000 }));
      }
      const subs = subscriptionsOf.get(keyId)!.filter((sub) => sub.events.includes(event));
      if (subs.length === 0) continue;
      const body = JSON.stringify({
        type: event,
        timestamp: new Date(e.at).toISOString(),
        data: { workflow: workflowView(wf) },
      });
      for (const sub of subs) {
        out.push({
          id: uuidv7(),
          eventSeq: e.seq,
          target: workflowTarget(sub.id),
          subscriptionId: sub.id,
          keyId,
          taskId: wf.id,
          event,
          url: sub.url,
          host: hostOf(sub.url),
          body,
          createdAt: now,
        });
      }
    }
    return out;
  }

  private async deliveriesFor(events: TaskEvent[], now: number): Promise<NewWebhookDelivery[]> {
    const subscriptionsOf = new Map<string, Promise<WebhookSubscription[]>>();
    const subscriptions = (keyId: string) => {
      if (!subscriptionsOf.has(keyId)) {
        subscriptionsOf.set(keyId, this.store.listWebhookSubscriptions({ keyId, limit: 1000 }));
      }
      return subscriptionsOf.get(keyId)!;
    };
    const terminal = events.filter((e) => WEBHOOK_EVENT_OF_KIND[e.kind] !== undefined);
    if (terminal.length === 0) return [];
    // One query for the whole batch says which tasks can have a delivery at all (a callback URL, or a submitter
    // with subscriptions): most tasks have neither, and reading each whole task would cost the fleet's hot path.
    const heads = new Map((await this.store.listTaskHeads(terminal.map((e) => e.taskId))).map((h) => [h.id, h]));
    const out: NewWebhookDelivery[] = [];
    for (const e of terminal) {
      const event = WEBHOOK_EVENT_OF_KIND[e.kind]!;
      const head = heads.get(e.taskId);
      if (!head?.submittedBy) continue;
      if (head.callbackUrl === null && (await subscriptions(head.submittedBy)).length === 0) continue;
      const task = await this.readTask(e.taskId);
      const keyId = task?.submittedBy;
      if (!task || !keyId) continue;
      const body = webhookBody(event, e.at, task);
      const base = { eventSeq: e.seq, keyId, taskId: task.id, event, body, createdAt: now };
      for (const sub of await subscriptions(keyId)) {
        if (!sub.events.includes(event)) continue;
        out.push({
          ...base,
          id: uuidv7(),
          target: sub.id,
          subscriptionId: sub.id,
          url: sub.url,
          host: hostOf(sub.url),
        });
      }
      if (task.callbackUrl) {
        const url = task.callbackUrl;
        out.push({ ...base, id: uuidv7(), target: CALLBACK_TARGET, subscriptionId: null, url, host: hostOf(url) });
      }
    }
    return out;
  }

  /** The task; null (its event is skipped, logged) when it is sensitive and sealed under a key not configured. */
  private async readTask(id: string): Promise<TaskRecord | null> {
    try {
      return await this.store.getTask(id);
    } catch (err) {
      if (!(err instanceof SealedDataError)) throw err;
      this.log.error({ err, task: id }, 'webhook event skipped: the task cannot be read with the configured data keys');
      return null;
    }
  }

  /**
   * Claims what there is room for and starts sending it; answers how many sends it started. After a claim that
   * found nothing, the next waits IDLE_CLAIM_MS unless `force` (the outbox just created deliveries): retries
   * are seconds apart anyway, and each supervisor sends what it expands at once.
   */
  async deliver(force = false): Promise<number> {
    if (this.closed) return 0;
    if (!force && this.clock.now() - this.lastEmptyClaimAt < IDLE_CLAIM_MS) return 0;
    const free = this.settings.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const perHost = new Map<string, number>();
    for (const f of this.inFlight.values()) perHost.set(f.host, (perHost.get(f.host) ?? 0) + 1);
    const skipHosts = [...perHost].filter(([, n]) => n >= this.settings.perHost).map(([h]) => h);
    const token = randomUUID();
    const claimed = await this.store.claimWebhookDeliveries({
      now: this.clock.now(),
      lockMs: claimLockMs(this.settings),
      token,
      skipHosts,
      limit: Math.min(free, this.settings.claimBatch),
    });
    this.lastEmptyClaimAt = claimed.length === 0 ? this.clock.now() : -Infinity;
    for (const d of claimed) this.start(d, token);
    return claimed.length;
  }

  /** Resolves when every send in flight has finished (and been recorded). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /** Stops claiming and aborts sends in flight, unrecorded: their claims lapse and another pass retries them. */
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.inFlight.values()) f.abort.abort();
    await this.idle();
  }

  private start(d: WebhookDelivery, token: string): void {
    const abort = new AbortController();
    const done = this.attempt(d, token, abort.signal)
      .catch((err: unknown) => this.log.warn({ err, delivery: d.id }, 'webhook delivery attempt failed to run'))
      .finally(() => this.inFlight.delete(d.id));
    this.inFlight.set(d.id, { host: d.host, abort, done });
  }

  private async attempt(d: WebhookDelivery, token: string, signal: AbortSignal): Promise<void> {
    const secret = await this.secretFor(d);
    const gone = secret === null && d.subscriptionId !== null;
    const result: SendResult =
      secret === null
        ? { statusCode: null, error: gone ? 'subscription deleted' : 'the key has no callback secret', durationMs: 0 }
        : await sendWebhook({
            guard: this.guard,
            url: d.url,
            id: d.id,
            body: d.body,
            secret,
            timeoutMs: this.settings.timeoutMs,
            signal,
          });
    if (signal.aborted) return;
    const at = this.clock.now();
    const next =
      result.error === null
        ? { status: 'succeeded' as const, nextAttemptAt: at }
        : gone
          ? { status: 'failed' as const, nextAttemptAt: at }
          : afterFailedAttempt(d, at, this.settings.retryForMs, this.settings.backoff, this.random);
    const recorded = await this.store.recordWebhookAttempt({ deliveryId: d.id, token, at, ...result, ...next });
    if (!recorded) this.log.warn({ delivery: d.id }, 'webhook claim lapsed before the attempt was recorded');
    else if (next.status === 'failed') {
      this.log.warn({ delivery: d.id, url: d.url, error: result.error }, 'webhook delivery failed for good');
    }
  }

  private async secretFor(d: WebhookDelivery): Promise<string | null> {
    if (d.subscriptionId !== null) {
      const sub = await this.store.getWebhookSubscription(d.subscriptionId);
      return sub ? openSecret(this.ring, sub.id, sub.secret) : null;
    }
    const stored = await this.store.getWebhookKeySecret(d.keyId);
    return stored === null ? null : openSecret(this.ring, keySecretOwner(d.keyId), stored);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return url.slice(0, 255);
  }
}
