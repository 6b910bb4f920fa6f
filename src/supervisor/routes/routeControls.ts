/**
 * Route controls (src/domain/routeControl.ts): `GET /v1/routes/:route` (a route's figures, state, settings and
 * latest events), `GET …/events`, `POST …/pause` and `…/resume`, `PATCH` (rate limit and concurrency cap), and
 * the circuit breakers per task type (`GET/PUT/DELETE /v1/circuit-breakers/:type`). `:route` is the route key
 * (`echo~`, `render~gpu+cuda`), URL-encoded. Changes are admin actions, audited, and take effect at the claim at
 * once (SQL); this supervisor's gate acts on them at once, the others within TASKFLEET_ROUTE_GATE_MS.
 */
import { Router } from 'express';
import { z } from 'zod';
import { parseRouteKey, TOKEN_PATTERN, TOKEN_RULE } from '../../domain/capabilities';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import { circuitBreakerBody, routeLimitsBody, type CircuitBreaker, type RouteControl } from '../../domain/routeControl';
import { actorOf } from '../../security/actor';
import { AuditLog } from '../../security/audit';
import type { Store } from '../../store/port';
import type { RouteGate } from '../routeGate';
import { breakerView, controlView, routeEventView } from '../routeViews';
import { parseOrThrow } from '../validation';

export const routeEventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** The seq of the oldest event of the page before (events come newest first). */
  before: z.coerce.number().int().min(1).optional(),
});

export interface RouteControlDeps {
  store: Store;
  clock: Clock;
  gate: RouteGate;
}

export function routeControlRoutes(d: RouteControlDeps): Router {
  const r = Router();
  const audit = new AuditLog(d.store, d.clock);

  const known = async (key: string): Promise<RouteControl> => {
    const control = await d.store.getRouteControl(key);
    if (!control) throw new NotFoundError(`route ${key} (no task was ever submitted on it)`);
    return control;
  };
  const view = async (c: RouteControl) => {
    const { type, capabilities } = parseRouteKey(c.routeKey);
    const [breakers, events] = await Promise.all([
      d.store.listCircuitBreakers(),
      d.store.listRouteEvents({ routeKey: c.routeKey, limit: 20 }),
    ]);
    return {
      route: c.routeKey,
      type,
      capabilities,
      ...controlView(
        c,
        breakers.find((b) => b.type === type),
      ),
      events: events.map(routeEventView),
    };
  };

  r.get('/routes/:route', async (req, res) => {
    res.json(await view(await known(req.params.route)));
  });

  r.get('/routes/:route/events', async (req, res) => {
    const q = parseOrThrow(routeEventsQuery, req.query);
    const c = await known(req.params.route);
    const events = await d.store.listRouteEvents({ routeKey: c.routeKey, beforeSeq: q.before, limit: q.limit });
    const last = events[events.length - 1];
    res.json({
      route: c.routeKey,
      events: events.map(routeEventView),
      nextBefore: events.length === q.limit && last ? last.seq : undefined,
    });
  });

  for (const action of ['pause', 'resume'] as const) {
    r.post(`/routes/:route/${action}`, async (req, res) => {
      const { route } = req.params;
      await known(route);
      const actor = actorOf(res);
      const changed = await d.store.setRoutePaused({
        routeKey: route,
        paused: action === 'pause',
        actor: actor.keyId,
        now: d.clock.now(),
      });
      if (!changed) throw new NotFoundError(`route ${route}`);
      await audit.record(actor, `route.${action}`, `route:${route}`);
      d.gate.poke();
      res.json(await view(changed));
    });
  }

  r.patch('/routes/:route', async (req, res) => {
    const { route } = req.params;
    const body = parseOrThrow(routeLimitsBody, req.body);
    await known(route);
    const actor = actorOf(res);
    const changed = await d.store.setRouteLimits({ routeKey: route, ...body, actor: actor.keyId, now: d.clock.now() });
    if (!changed) throw new NotFoundError(`route ${route}`);
    await audit.record(actor, 'route.limits', `route:${route}`, body);
    d.gate.poke();
    res.json(await view(changed));
  });

  r.get('/circuit-breakers', async (_req, res) => {
    res.json({ breakers: (await d.store.listCircuitBreakers()).map(breakerView) });
  });

  r.put('/circuit-breakers/:type', async (req, res) => {
    const type = parseOrThrow(typeParam, req.params.type);
    const body = parseOrThrow(circuitBreakerBody, req.body);
    const actor = actorOf(res);
    const breaker: CircuitBreaker = { type, ...body, updatedAt: d.clock.now(), updatedBy: actor.keyId };
    await d.store.putCircuitBreaker(breaker);
    await audit.record(actor, 'circuit_breaker.put', `type:${type}`, body);
    d.gate.poke();
    res.json(breakerView(breaker));
  });

  r.delete('/circuit-breakers/:type', async (req, res) => {
    const type = req.params.type;
    if (!(await d.store.removeCircuitBreaker(type))) throw new NotFoundError(`circuit breaker of ${type}`);
    await audit.record(actorOf(res), 'circuit_breaker.remove', `type:${type}`);
    d.gate.poke();
    res.status(204).end();
  });

  return r;
}

const typeParam = z.string().regex(TOKEN_PATTERN, TOKEN_RULE);
