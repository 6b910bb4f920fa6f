/**
 * `GET /v1/scaling/pool?capabilities=a,b&types=x,y`: the backlog of one worker pool (workers with these
 * capabilities and handler types), for autoscalers such as KEDA's `metrics-api` scaler.
 *
 * Why not scale on Redis: BullMQ keeps prioritised and delayed jobs in sorted sets, not in the wait list, so
 * a list-length scaler misses most of the work; and Redis may have been flushed while SQL still holds every
 * task. The figure here is the authoritative one: the due queued tasks of the routes whose tightest covering
 * pool this is (src/supervisor/poolFigures.ts), plus the tasks running on its live agents.
 *
 * Why tightest only: the dispatcher places a task on the tightest pool that covers it first, so a wider pool
 * (gpu) that also counted generic work would scale up for tasks it does not get. The pool asked about competes
 * with the live and declared pools even when it is neither (a pool scaled to zero and not declared).
 */
import { Router } from 'express';
import { z } from 'zod';
import { parseCapabilityList } from '../../domain/capabilities';
import type { Clock } from '../../domain/clock';
import type { Store } from '../../store/port';
import type { AgentDirectory } from '../agentDirectory';
import { figuresOf, knownPools } from '../poolFigures';
import { parseOrThrow } from '../validation';

export const scalingQuery = z.strictObject({
  capabilities: z.string().max(2000).default(''),
  types: z.string().min(1, 'name at least one task type').max(2000),
  /** Tasks one replica should have in hand: desiredReplicas = ceil((queued + running) / perReplica). */
  perReplica: z.coerce.number().int().min(1).max(100_000).default(10),
});

export interface ScalingRouteDeps {
  store: Store;
  clock: Clock;
  directory: AgentDirectory;
}

export function scalingRoutes(d: ScalingRouteDeps): Router {
  const r = Router();
  r.get('/scaling/pool', async (req, res) => {
    const q = parseOrThrow(scalingQuery, req.query);
    const capabilities = parseCapabilityList(q.capabilities, 'capabilities');
    const types = parseCapabilityList(q.types, 'types');
    const [live, declared, routes] = await Promise.all([
      d.directory.live(),
      d.directory.declared(),
      d.store.routeStats(d.clock.now()),
    ]);
    const pool = figuresOf({ capabilities, types }, knownPools(live, declared), routes);
    const backlog = pool.backlog + pool.running;
    res.json({
      pool: pool.key,
      capabilities,
      types,
      routes: pool.routes,
      queued: pool.backlog,
      delayed: pool.delayed,
      running: pool.running,
      backlog,
      desiredReplicas: Math.ceil(backlog / q.perReplica),
    });
  });
  return r;
}
