/**
 * Retry on demand and the bulk actions: `POST /v1/tasks/:id/retry` (a submitter its own tasks, an admin any),
 * `POST /v1/tasks/retry` and `POST /v1/tasks/cancel` (admin). Who may call which is the permission table's.
 */
import { Router, type Request, type Response } from 'express';
import { ValidationError } from '../../domain/errors';
import { actorOf } from '../../security/actor';
import { AgentDirectory } from '../agentDirectory';
import type { RetryService } from '../retryService';
import { taskView } from '../views';

function jsonBody(req: Request): unknown {
  if (!req.is('application/json')) {
    throw new ValidationError([{ field: '(body)', message: 'Content-Type must be application/json' }]);
  }
  return req.body;
}

export function taskRetryRoutes(deps: { retries: RetryService; agents: AgentDirectory }): Router {
  const { retries, agents } = deps;
  const router = Router();
  router.post('/tasks/retry', async (req: Request, res: Response) => {
    res.json(await retries.retryMany(jsonBody(req), actorOf(res)));
  });
  router.post('/tasks/cancel', async (req: Request, res: Response) => {
    res.json(await retries.cancelMany(jsonBody(req), actorOf(res)));
  });
  router.post('/tasks/:id/retry', async (req: Request<{ id: string }>, res: Response) => {
    const task = await retries.retry(req.params.id, actorOf(res));
    const routing = await agents.routing();
    res.json({
      task: { ...taskView(task, AgentDirectory.routable(task, routing)), submittedBy: task.submittedBy ?? undefined },
    });
  });
  return router;
}
