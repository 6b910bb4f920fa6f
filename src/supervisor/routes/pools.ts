/**
 * Pools (src/domain/pool.ts): `GET /v1/pools` lists every pool, learned (the signatures of the live agents) and
 * declared (stored by operators, so a pool scaled to zero is known), with its workers, slots and backlog;
 * `POST /v1/pools` declares one (idempotent), `DELETE /v1/pools/:key` removes a declaration. Declaring and
 * removing are admin actions (the permission table) and audited.
 *
 * The backlog is what `/v1/scaling/pool` reports for the same signature: the due queued tasks of the routes
 * whose tightest covering known pool this is (src/supervisor/poolFigures.ts), so each task counts in one pool.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import { parsePoolKey, poolKey, poolSignature, type DeclaredPool } from '../../domain/pool';
import { actorOf } from '../../security/actor';
import { AuditLog } from '../../security/audit';
import type { Store } from '../../store/port';
import type { AgentDirectory } from '../agentDirectory';
import { knownPools, poolFigures, type PoolFigures } from '../poolFigures';
import { parseOrThrow } from '../validation';

const MAX_NOTE = 500;

export const declareBody = z.strictObject({
  capabilities: z.array(z.string().max(200)).max(100).default([]),
  types: z.array(z.string().max(200)).max(100),
  note: z.string().trim().min(1).max(MAX_NOTE).optional(),
});

function poolView(p: PoolFigures): Record<string, unknown> {
  return {
    key: p.key,
    capabilities: p.capabilities,
    types: p.types,
    declared: p.declared !== null,
    declaredBy: p.declared?.declaredBy,
    declaredAt: p.declared ? new Date(p.declared.declaredAt).toISOString() : undefined,
    note: p.declared?.note ?? undefined,
    workers: p.workers,
    agents: p.learned?.agents ?? [],
    slots: p.slots,
    running: p.running,
    freeSlots: p.freeSlots,
    backlog: p.backlog,
    delayed: p.delayed,
    routes: p.routes,
  };
}

export interface PoolRouteDeps {
  store: Store;
  clock: Clock;
  directory: AgentDirectory;
}

export function poolRoutes(d: PoolRouteDeps): Router {
  const r = Router();
  const audit = new AuditLog(d.store, d.clock);

  /** Every known pool's figures; `justDeclared` is among them even if the cached list does not show it yet. */
  const figures = async (justDeclared?: DeclaredPool) => {
    const [live, declared, routes] = await Promise.all([
      d.directory.live(),
      d.directory.declared(),
      d.store.routeStats(d.clock.now()),
    ]);
    const missing = justDeclared && !declared.some((p) => p.key === justDeclared.key) ? [justDeclared] : [];
    return poolFigures(knownPools(live, [...declared, ...missing]), routes);
  };

  r.get('/pools', async (_req, res) => {
    res.json({ pools: (await figures()).map(poolView) });
  });

  r.post('/pools', async (req, res) => {
    const body = parseOrThrow(declareBody, req.body);
    const sig = poolSignature(body);
    const actor = actorOf(res);
    const key = poolKey(sig);
    const { pool, created } = await d.store.declarePool({
      ...sig,
      key,
      note: body.note ?? null,
      declaredBy: actor.name,
      declaredAt: d.clock.now(),
    });
    d.directory.declaredChanged();
    if (created) await audit.record(actor, 'pool.declare', `pool:${key}`, { ...sig, note: pool.note });
    // Among the known pools, so the answer shows its workers and the backlog it now takes from the others.
    const view = (await figures(pool)).find((p) => p.key === key)!;
    res
      .status(created ? 201 : 200)
      .location(`/v1/pools/${encodeURIComponent(key)}`)
      .json(poolView(view));
  });

  r.delete('/pools/:key', async (req, res) => {
    const key = req.params.key;
    parsePoolKey(key);
    if (!(await d.store.removeDeclaredPool(key))) throw new NotFoundError(`declared pool ${key}`);
    d.directory.declaredChanged();
    await audit.record(actorOf(res), 'pool.remove', `pool:${key}`);
    res.status(204).end();
  });

  return r;
}
