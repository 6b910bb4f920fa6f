import { Router } from 'express';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import type { Store } from '../../store/port';
import { agentEventView, agentView } from '../views';

export function agentRoutes(store: Store, clock: Clock, staleAfterMs: number): Router {
  const r = Router();

  r.get('/agents', async (_req, res) => {
    const now = clock.now();
    const agents = await store.listAgents();
    res.json({ agents: agents.map((a) => agentView(a, now, staleAfterMs)) });
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
