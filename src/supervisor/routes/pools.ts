/**
 * Pools (src/domain/pool.ts): `GET /v1/pools` lists every pool, learned (the signatures of the live agents) and
 * declared (stored by operators, so a pool scaled to zero is known), with its workers, slots and backlog;
 * `POST /v1/pools` declares one (idempotent), `DELETE /v1/pools/:key` removes a declaration. Declaring and
 * removing are admin actions (the permission table) and audited.
 *
 * The backlog is what `/v1/scaling/pool` reports for the same signature: due queued tasks on every route the
 * pool covers, from the store's route stats. A task several pools cover counts in each of them.
 */
import { Router } from 'express';
import { z } from 'zod';
import { routeKey, type Route } from '../../domain/capabilities';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import {
  learnPools,
  parsePoolKey,
  poolCovers,
  poolKey,
  poolSignature,
  type DeclaredPool,
  type LearnedPool,
  type PoolSignature,
} from '../../domain/pool';
import { actorOf } from '../../security/actor';
import { AuditLog } from '../../security/audit';
import type { RouteStats, Store } from '../../store/port';
import type { AgentDirectory } from '../agentDirectory';
import { parseOrThrow } from '../validation';

const MAX_NOTE = 500;

const declareBody = z.strictObject({
  capabilities: z.array(z.string().max(200)).max(100).default([]),
  types: z.array(z.string().max(200)).max(100),
  note: z.string().trim().min(1).max(MAX_NOTE).optional(),
});

interface PoolRow extends PoolSignature {
  key: string;
  declared: DeclaredPool | null;
  learned: LearnedPool | null;
}

function poolView(p: PoolRow, routes: readonly RouteStats[]): Record<string, unknown> {
  const covered = routes.filter((r) => poolCovers(p, { type: r.type, capabilities: r.capabilities } satisfies Route));
  const sum = (k: 'queued' | 'delayed') => covered.reduce((n, r) => n + r[k], 0);
  const slots = p.learned?.slots ?? 0;
  const running = p.learned?.running ?? 0;
  return {
    key: p.key,
    capabilities: p.capabilities,
    types: p.types,
    declared: p.declared !== null,
    declaredBy: p.declared?.declaredBy,
    declaredAt: p.declared ? new Date(p.declared.declaredAt).toISOString() : undefined,
    note: p.declared?.note ?? undefined,
    workers: p.learned?.agents.length ?? 0,
    agents: p.learned?.agents ?? [],
    slots,
    running,
    freeSlots: Math.max(0, slots - running),
    backlog: sum('queued'),
    delayed: sum('delayed'),
    routes: covered.map((r) => routeKey(r.type, r.capabilities)),
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

  r.get('/pools', async (_req, res) => {
    const [live, declared, routes] = await Promise.all([
      d.directory.live(),
      d.directory.declared(),
      d.store.routeStats(d.clock.now()),
    ]);
    const rows = new Map<string, PoolRow>();
    for (const learned of learnPools(live)) rows.set(learned.key, { ...learned, learned, declared: null });
    for (const pool of declared) {
      const row = rows.get(pool.key);
      if (row) row.declared = pool;
      else rows.set(pool.key, { ...pool, declared: pool, learned: null });
    }
    const sorted = [...rows.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    res.json({ pools: sorted.map((p) => poolView(p, routes)) });
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
    const routes = await d.store.routeStats(d.clock.now());
    res
      .status(created ? 201 : 200)
      .location(`/v1/pools/${encodeURIComponent(key)}`)
      .json(poolView({ ...pool, declared: pool, learned: null }, routes));
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
