/** `GET /v1/agents/:id/metrics`: an agent's metrics history (src/supervisor/agentMetrics.ts), oldest first. */
import { Router } from 'express';
import { z } from 'zod';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import type { Store } from '../../store/port';
import type { AgentMetricsSettings } from '../agentMetrics';
import { parseOrThrow } from '../validation';

export const agentMetricsQuery = z.strictObject({
  /** An ISO-8601 time or epoch milliseconds; the whole kept history when left out. */
  since: z
    .string()
    .refine((s) => !Number.isNaN(toMs(s)), 'an ISO-8601 time or epoch milliseconds')
    .optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(2_000),
});

function toMs(s: string): number {
  return /^\d+$/.test(s) ? Number(s) : Date.parse(s);
}

export function agentMetricsRoutes(deps: { store: Store; clock: Clock; settings: AgentMetricsSettings }): Router {
  const { store, clock, settings } = deps;
  const r = Router();
  r.get('/agents/:id/metrics', async (req, res) => {
    const q = parseOrThrow(agentMetricsQuery, req.query);
    const agent = await store.getAgent(req.params.id);
    if (!agent) throw new NotFoundError(`agent ${req.params.id}`);
    const since = q.since === undefined ? clock.now() - settings.keepMs : toMs(q.since);
    const samples = await store.listAgentSamples({ agentId: agent.id, since, limit: q.limit });
    res.json({
      agentId: agent.id,
      intervalMs: settings.intervalMs,
      samples: samples.map((s) => ({
        at: new Date(s.at).toISOString(),
        runningTasks: s.runningTasks,
        concurrency: s.concurrency,
        cpuPercent: s.cpuPercent,
        rssBytes: s.rssBytes,
        heartbeatAgeMs: s.heartbeatAgeMs,
      })),
    });
  });
  return r;
}
