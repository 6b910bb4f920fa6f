/**
 * Webhook subscriptions (README "Webhooks"): `POST /v1/webhooks` subscribes the calling API key to events of
 * its own tasks and shows the subscription's signing secret once; list, get and delete answer the caller's own
 * subscriptions (an admin's: every key's; another key's subscription is a 404, like one that does not exist);
 * `GET /v1/webhooks/:id/deliveries` shows the attempts; `POST /v1/webhooks/secret` creates or rotates the
 * key's secret for the `callbackUrl` of its tasks, shown once. Changes are audited; no secret is.
 */
import { Router } from 'express';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Clock } from '../../domain/clock';
import { NotFoundError, ValidationError } from '../../domain/errors';
import type { Actor } from '../../domain/security';
import {
  WEBHOOK_EVENTS,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookSubscription,
} from '../../domain/webhook';
import { actorOf } from '../../security/actor';
import { AuditLog } from '../../security/audit';
import type { DataKeyRing } from '../../security/dataKeys';
import type { Store } from '../../store/port';
import { generateSecret, keySecretOwner, sealSecret } from '../../webhooks/secrets';
import type { UrlGuard } from '../../webhooks/urlGuard';
import { parseOrThrow } from '../validation';

const MAX_SUBSCRIPTIONS_LISTED = 1000;

export const createBody = z.strictObject({
  url: z.string().max(2048, 'at most 2048 characters'),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1, 'at least one event')
    .transform((events) => [...new Set(events)].sort()),
});

export const deliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

function subscriptionView(s: WebhookSubscription): Record<string, unknown> {
  return { id: s.id, url: s.url, events: s.events, keyId: s.keyId, createdAt: iso(s.createdAt) };
}

function deliveryView(d: WebhookDelivery & { attemptLog: WebhookAttempt[] }): Record<string, unknown> {
  return {
    id: d.id,
    event: d.event,
    taskId: d.taskId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : undefined,
    lastStatusCode: d.lastStatusCode ?? undefined,
    lastError: d.lastError ?? undefined,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    attemptLog: d.attemptLog.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at),
      statusCode: a.statusCode ?? undefined,
      error: a.error ?? undefined,
      durationMs: a.durationMs,
    })),
  };
}

export interface WebhookRouteDeps {
  store: Store;
  clock: Clock;
  guard: UrlGuard;
  dataKeys: DataKeyRing | null;
}

export function webhookRoutes(d: WebhookRouteDeps): Router {
  const r = Router();
  const audit = new AuditLog(d.store, d.clock);

  /** The subscription, when the actor may reach it (its own, or any for an admin); else NotFoundError. */
  const owned = async (id: string, actor: Actor): Promise<WebhookSubscription> => {
    const sub = await d.store.getWebhookSubscription(id);
    if (!sub || (actor.role !== 'admin' && sub.keyId !== actor.keyId)) throw new NotFoundError(`webhook ${id}`);
    return sub;
  };

  r.post('/webhooks/secret', async (_req, res) => {
    const actor = actorOf(res);
    const secret = generateSecret();
    await d.store.setWebhookKeySecret(
      actor.keyId,
      sealSecret(d.dataKeys, keySecretOwner(actor.keyId), secret),
      d.clock.now(),
    );
    await audit.record(actor, 'webhook.secret.rotate', `key:${actor.keyId}`);
    res.json({ secret });
  });

  r.post('/webhooks', async (req, res) => {
    const body = parseOrThrow(createBody, req.body);
    const problem = await d.guard.problem(body.url);
    if (problem !== null) throw new ValidationError([{ field: 'url', message: problem }]);
    const actor = actorOf(res);
    const id = uuidv7();
    const secret = generateSecret();
    const sub: WebhookSubscription = {
      id,
      keyId: actor.keyId,
      url: body.url,
      events: body.events,
      secret: sealSecret(d.dataKeys, id, secret),
      createdAt: d.clock.now(),
    };
    await d.store.insertWebhookSubscription(sub);
    await audit.record(actor, 'webhook.create', `webhook:${id}`, { url: sub.url, events: sub.events });
    res
      .status(201)
      .location(`/v1/webhooks/${id}`)
      .json({ ...subscriptionView(sub), secret });
  });

  r.get('/webhooks', async (_req, res) => {
    const actor = actorOf(res);
    const limit = MAX_SUBSCRIPTIONS_LISTED;
    const list = await d.store.listWebhookSubscriptions(
      actor.role === 'admin' ? { limit } : { keyId: actor.keyId, limit },
    );
    res.json({ webhooks: list.map(subscriptionView) });
  });

  r.get('/webhooks/:id', async (req, res) => {
    res.json(subscriptionView(await owned(req.params.id, actorOf(res))));
  });

  r.delete('/webhooks/:id', async (req, res) => {
    const actor = actorOf(res);
    const sub = await owned(req.params.id, actor);
    if (!(await d.store.deleteWebhookSubscription(sub.id))) throw new NotFoundError(`webhook ${sub.id}`);
    await audit.record(actor, 'webhook.delete', `webhook:${sub.id}`, { url: sub.url });
    res.status(204).end();
  });

  r.get('/webhooks/:id/deliveries', async (req, res) => {
    const sub = await owned(req.params.id, actorOf(res));
    const { limit } = parseOrThrow(deliveriesQuery, req.query);
    const deliveries = await d.store.listWebhookDeliveries({ subscriptionId: sub.id, limit });
    res.json({ webhookId: sub.id, deliveries: deliveries.map(deliveryView) });
  });

  return r;
}
