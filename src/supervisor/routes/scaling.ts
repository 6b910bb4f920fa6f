/**
 * `GET /v1/scaling/pool?capabilities=a,b&types=x,y`: the backlog of one worker pool (workers with these
 * capabilities and handler types), for autoscalers such as KEDA's `metrics-api` scaler.
 *
 * Why not scale on Redis: BullMQ keeps prioritised and delayed jobs in sorted sets, not in the wait list, so
 * a list-length scaler misses most of the work; and Redis may have been flushed while SQL still holds every
 * task. The figure here is the authoritative one: due queued tasks on every route the pool serves.
 */
import { Router } from 'express';
import { z } from 'zod';
import { parseCapabilityList, routeKey, workerServesRoute } from '../../domain/capabilities';
import type { Clock } from '../../domain/clock';
import type { Store } from '../../store/port';
import { parseOrThrow } from '../validation';

const query = z.strictObject({
  capabilities: z.string().max(2000).default(''),
  types: z.string().min(1, 'name at least one task type').max(2000),
  /** Tasks one replica should have in hand: desiredReplicas = ceil((queued + running) / perReplica). */
  perReplica: z.coerce.number().int().min(1).max(100_000).default(10),
});

export function scalingRoutes(store: Store, clock: Clock): Router {
  const r = Router();
  r.get('/scaling/pool', async (req, res) => {
    const q = parseOrThrow(query, req.query);
    const capabilities = parseCapabilityList(q.capabilities, 'capabilities');
    const types = parseCapabilityList(q.types, 'types');
    const pool = { capabilities, types };
    const routes = (await store.routeStats(clock.now())).filter((s) =>
      workerServesRoute(pool, { type: s.type, capabilities: s.capabilities }),
    );
    const sum = (k: 'queued' | 'delayed' | 'running') => routes.reduce((n, s) => n + s[k], 0);
    const queued = sum('queued');
    const running = sum('running');
    res.json({
      capabilities,
      types,
      routes: routes.map((s) => routeKey(s.type, s.capabilities)),
      queued,
      delayed: sum('delayed'),
      running,
      backlog: queued + running,
      desiredReplicas: Math.ceil((queued + running) / q.perReplica),
    });
  });
  return r;
}
