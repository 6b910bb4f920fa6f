/** Fleet administration and figures: agent actions, per-agent performance, stats. */
import { Router } from 'express';
import { z } from 'zod';
import { agentPerformance } from '../../domain/agentPerformance';
import type { Clock } from '../../domain/clock';
import type { EnforcementPolicy } from '../../domain/enforcement';
import { TOKEN_PATTERN, TOKEN_RULE } from '../../domain/capabilities';
import { NotFoundError } from '../../domain/errors';
import { actorOf } from '../../security/actor';
import type { Store } from '../../store/port';
import { AGENT_ACTIONS, type AgentAdmin } from '../agentAdmin';
import { fleetStats, type StatsDeps } from '../stats';
import { parseOrThrow } from '../validation';
import { agentView } from '../views';

/** `PATCH /v1/agents/:id`: an admin's settings, applied by the agent at its next heartbeat. */
export const agentSettingsBody = z
  .strictObject({
    concurrency: z.number().int().min(1).max(1000).nullable().optional(),
    disabledTypes: z.array(z.string().regex(TOKEN_PATTERN, TOKEN_RULE)).max(64).optional(),
  })
  .refine((b) => b.concurrency !== undefined || b.disabledTypes !== undefined, {
    message: 'name concurrency, disabledTypes or both',
  });

export const windowQuery = z.strictObject({ windowSeconds: z.coerce.number().int().min(10).max(86_400).default(900) });
export const statsQuery = z.strictObject({ windowSeconds: z.coerce.number().int().min(10).max(86_400).default(60) });

export interface FleetRouteDeps {
  store: Store;
  clock: Clock;
  admin: AgentAdmin;
  policy: EnforcementPolicy;
  stats: StatsDeps;
  staleAfterMs: number;
}

export function fleetRoutes(d: FleetRouteDeps): Router {
  const r = Router();

  for (const action of AGENT_ACTIONS) {
    r.post(`/agents/:id/${action}`, async (req, res) => {
      const agent = await d.admin.act(req.params.id, action, actorOf(res));
      res.json(agentView(agent, d.clock.now(), d.staleAfterMs));
    });
  }

  r.patch('/agents/:id', async (req, res) => {
    const body = parseOrThrow(agentSettingsBody, req.body);
    const agent = await d.admin.updateSettings(req.params.id, body, actorOf(res));
    res.json(agentView(agent, d.clock.now(), d.staleAfterMs));
  });

  r.delete('/agents/:id', async (req, res) => {
    await d.admin.remove(req.params.id, actorOf(res));
    res.status(204).end();
  });

  r.get('/agents/:id/performance', async (req, res) => {
    const { windowSeconds } = parseOrThrow(windowQuery, req.query);
    const agent = await d.store.getAgent(req.params.id);
    if (!agent) throw new NotFoundError(`agent ${req.params.id}`);
    const now = d.clock.now();
    const runs = await d.store.listAgentRuns(agent.id, now - windowSeconds * 1000);
    res.json(agentPerformance(agent, runs, now, windowSeconds * 1000, d.policy));
  });

  r.get('/stats', async (req, res) => {
    const { windowSeconds } = parseOrThrow(statsQuery, req.query);
    res.json(await fleetStats(d.stats, windowSeconds));
  });

  return r;
}
