import { Router } from 'express';
import { z } from 'zod';
import { AGENT_STATES } from '../../domain/agent';
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
  include: z.literal('stopped').optional(),
});

/**
 * Stopped and failed agents last heard of longer than this many heartbeat intervals ago are left out of the list
 * unless `include=stopped`: a fleet that scales in and out leaves an agent row behind every worker it stopped.
 */
const GONE_AFTER_HEARTBEATS = 10;

/** The heartbeat interval behind a staleness window (LIVE_FOR_HEARTBEATS of them, settings.ts). */
function heartbeatMs(staleAfterMs: number): number {
  return staleAfterMs / LIVE_FOR_HEARTBEATS;
}

export function agentRoutes(store: Store, clock: Clock, staleAfterMs: number): Router {
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
      ...(q.include === 'stopped' ? {} : { hideGoneBefore: now - GONE_AFTER_HEARTBEATS * heartbeatMs(staleAfterMs) }),
    });
    const page = agents.slice(0, q.limit);
    const nextCursor = agents.length > q.limit ? page[page.length - 1]?.id : undefined;
    res.json({ agents: page.map((a) => agentView(a, now, staleAfterMs)), nextCursor });
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
