/**
 * The HTTP agent protocol's routes (AgentGateway does the work). The permission table lets only `agent` keys
 * in, and only as the agents their binding names (the `as-agent` scope, checked there from the path); a task
 * write names its agent in the body, checked by the gateway the same way.
 */
import { Router, type Request } from 'express';
import {
  claimBody,
  completeBody,
  failBody,
  heartbeatBody,
  leaseBody,
  logsBody,
  MAX_CLAIM_WAIT_SECONDS,
  progressBody,
  registerBody,
  releaseBody,
} from '../../domain/agentProtocol';
import type { Clock } from '../../domain/clock';
import { NotFoundError } from '../../domain/errors';
import { actorOf, clientIp } from '../../security/actor';
import { agentSettingsOf, type AgentGateway, type TaskWrite } from '../agentGateway';
import { parseOrThrow } from '../validation';
import { agentView } from '../views';

export interface AgentProtocolDeps {
  gateway: AgentGateway;
  clock: Clock;
  staleAfterMs: number;
}

export function agentProtocolRoutes({ gateway, clock, staleAfterMs }: AgentProtocolDeps): Router {
  const r = Router();
  const settings = () => ({ ...gateway.protocolSettings, maxClaimWaitSeconds: MAX_CLAIM_WAIT_SECONDS });

  r.post('/agents/:id/register', async (req, res) => {
    const body = parseOrThrow(registerBody, req.body);
    const agent = await gateway.register(req.params.id, body, clientIp(req));
    res.json({ agent: agentView(agent, clock.now(), staleAfterMs), settings: settings() });
  });

  r.post('/agents/:id/heartbeat', async (req, res) => {
    const agent = await gateway.heartbeat(req.params.id, parseOrThrow(heartbeatBody, req.body));
    res.json({ state: agent.state, ...gateway.protocolSettings, ...agentSettingsOf(agent) });
  });

  r.post('/agents/:id/stop', async (req, res) => {
    const state = await gateway.stop(req.params.id);
    if (state === null) throw new NotFoundError(`agent ${req.params.id}`);
    res.json({ state });
  });

  r.post('/agents/:id/claim', async (req, res) => {
    const body = parseOrThrow(claimBody, req.body ?? {});
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    const tasks = await gateway.claim(req.params.id, body, () => gone);
    res.json({ tasks });
  });

  r.post('/tasks/:id/lease', async (req, res) => {
    const w = write(req, parseOrThrow(leaseBody, req.body));
    const renewed = await gateway.renew(req.params.id, w);
    res.json({
      leaseExpiresAt: new Date(renewed.leaseExpiresAt).toISOString(),
      cancelRequested: renewed.cancelRequested,
    });
  });

  r.post('/tasks/:id/complete', async (req, res) => {
    const body = parseOrThrow(completeBody, req.body);
    await gateway.complete(req.params.id, write(req, body), body.result);
    res.json({ status: 'succeeded' });
  });

  r.post('/tasks/:id/fail', async (req, res) => {
    const body = parseOrThrow(failBody, req.body);
    res.json({ status: await gateway.fail(req.params.id, write(req, body), body.error) });
  });

  r.post('/tasks/:id/release', async (req, res) => {
    const body = parseOrThrow(releaseBody, req.body);
    res.json({ status: await gateway.release(req.params.id, write(req, body)) });
  });

  r.post('/tasks/:id/progress', async (req, res) => {
    const body = parseOrThrow(progressBody, req.body);
    res.json({ recorded: await gateway.progress(req.params.id, write(req, body), body.value) });
  });

  r.post('/tasks/:id/logs', async (req, res) => {
    const body = parseOrThrow(logsBody, req.body);
    res.json({ recorded: await gateway.logs(req.params.id, write(req, body), body.lines) });
  });

  return r;
}

function write(req: Request, body: { agentId: string; attempt: number }): TaskWrite {
  return { actor: actorOf(req.res!), agentId: body.agentId, attempt: body.attempt };
}
