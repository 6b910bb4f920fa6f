import { Router } from 'express';
import { z } from 'zod';
import { AGENT_STATES } from '../../domain/agent';
import { healthScore } from '../../domain/agentPerformance';
import { DEFAULT_THRESHOLDS, type EnforcementPolicy } from '../../domain/enforcement';
import { TOKEN_PATTERN, TOKEN_RULE } from '../../domain/capabilities';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import type { Store } from '../../store/port';
import { LIVE_FOR_HEARTBEATS } from '../settings';
import { parseOrThrow } from '../validation';
import { agentEventView, agentView } from '../views';

/** `GET /v1/agents`: filters, keyset paging (`cursor` is the last id of the page before), and the gone ones. */
export const agentListQuery = z.strictObject({
  state: z.enum(AGENT_STATES).optional(),
  capability: z.string().regex(TOKEN_PATTERN, TOKEN_RULE).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().min(1).max(450).optional(),
  /**
   * A comma-separated list: `stopped` also lists the agents gone a while; `health` adds each agent's health
   * score (src/domain/agentPerformance.ts) over the last HEALTH_WINDOW_MS, for the whole page in one read.
   */
  include: z
    .string()
    .max(100)
    .describe('a comma-separated list of: stopped, health')
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(['stopped', 'health'])))
    .optional(),
});

/** The window of the list's health scores: the default window of GET /v1/agents/:id/performance. */
export const HEALTH_WINDOW_MS = 900_000;

/**
 * Stopped and failed agents last heard of longer than this many heartbeat intervals ago are left out of the list
 * unless `include=stopped`: a fleet that scales in and out leaves an agent row behind every worker it stopped.
 */
const GONE_AFTER_HEARTBEATS = 10;

/** The heartbeat interval behind a staleness window (LIVE_FOR_HEARTBEATS of them, settings.ts). */
function heartbeatMs(staleAfterMs: number): number {
  return staleAfterMs / LIVE_FOR_HEARTBEATS;
}

export function agentRoutes(
  store: Store,
  clock: Clock,
  staleAfterMs: number,
  /** What the health scores weigh a heartbeat's age against (the supervisor's enforcement policy). */
  policy: Pick<EnforcementPolicy, 'heartbeatIntervalMs' | 'suspendAfter'> = {
    heartbeatIntervalMs: heartbeatMs(staleAfterMs),
    suspendAfter: DEFAULT_THRESHOLDS.suspendAfter,
  },
): Router {
  const r = Router();

  r.get('/agents', async (req, res) => {
    const q = parseOrThrow(agentListQuery, req.query);
    const now = clock.now();
    // One row past the page tells whether there is a next page.
    const agents = await store.listAgentsPage({
      limit: q.limit + 1,
      ...(q.state ? { state: q.state } : {}),
      ...(q.capability ? { capability: q.capability } : {}),
      ...(q.cursor ? { afterId: q.cursor } : {}),
      ...(q.include?.includes('stopped')
        ? {}
        : { hideGoneBefore: now - GONE_AFTER_HEARTBEATS * heartbeatMs(staleAfterMs) }),
    });
    const page = agents.slice(0, q.limit);
    const nextCursor = agents.length > q.limit ? page[page.length - 1]?.id : undefined;
    const runs = q.include?.includes('health')
      ? new Map(
          (await store.countAgentRuns({ agentIds: page.map((a) => a.id), since: now - HEALTH_WINDOW_MS })).map((c) => [
            c.agentId,
            c,
          ]),
        )
      : null;
    res.json({
      agents: page.map((a) => ({
        ...agentView(a, now, staleAfterMs),
        ...(runs ? { healthScore: healthScore(a, runs.get(a.id) ?? { succeeded: 0, failed: 0 }, now, policy) } : {}),
      })),
      nextCursor,
    });
  });

  r.get('/agents/:id', async (req, res) => {
    const agent = await store.getAgent(req.params.id);
    if (!agent) throw new NotFoundError(`agent ${req.params.id}`);
    res.json(agentView(agent, clock.now(), staleAfterMs));
  });

  r.get('/agents/:id/events', async (req, res) => {
    const agent = await store.getAgent(req.params.id);
    if (!agent) throw new NotFoundError(`agent ${req.params.id}`);
    res.json({ events: (await store.listAgentEvents(agent.id)).map(agentEventView) });
  });

  return r;
}
