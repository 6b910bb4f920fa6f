import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { routeKey, TOKEN_PATTERN } from '../../domain/capabilities';
import { ValidationError } from '../../domain/errors';
import { batchSubmissionSchema } from '../../domain/submission';
import { TASK_STATUSES, type TaskRecord } from '../../domain/task';
import { actorOf } from '../../security/actor';
import { traceOf } from '../../telemetry/traceRequests';
import { AgentDirectory } from '../agentDirectory';
import type { TaskService } from '../taskService';
import { parseOrThrow } from '../validation';
import { taskEventView, taskView } from '../views';

export const listQuerySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  type: z.string().regex(TOKEN_PATTERN).optional(),
  capability: z.string().regex(TOKEN_PATTERN).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(100).optional(),
});

function requireJsonObject(req: Request): unknown {
  if (!req.is('application/json')) {
    throw new ValidationError([{ field: '(body)', message: 'Content-Type must be application/json' }]);
  }
  return req.body;
}

/** The task views, each marked routable or not against the agents live right now and the declared pools. */
export function taskViews(agents: AgentDirectory) {
  return async (list: TaskRecord[]) => {
    const routing = await agents.routing();
    return list.map((t) => ({
      ...taskView(t, AgentDirectory.routable(t, routing), agents.routeState(routeKey(t.type, t.requiredCapabilities))),
      submittedBy: t.submittedBy ?? undefined,
    }));
  };
}

interface Handlers {
  tasks: TaskService;
  views: ReturnType<typeof taskViews>;
}

type TaskRequest = Request<{ id: string }>;

async function submitTask({ tasks, views }: Handlers, req: Request, res: Response): Promise<void> {
  const body = requireJsonObject(req);
  const [outcome] = await tasks.submit([body], {
    idempotencyKey: req.get('Idempotency-Key'),
    actor: actorOf(res),
    batch: false,
    trace: traceOf(res),
  });
  if (!outcome) throw new Error('submit returned no outcome');
  const [view] = await views([outcome.task]);
  res
    .status(outcome.created ? 201 : 200)
    .location(`/v1/tasks/${outcome.task.id}`)
    .json(view);
}

async function submitBatch({ tasks, views }: Handlers, req: Request, res: Response): Promise<void> {
  const { tasks: bodies } = parseOrThrow(batchSubmissionSchema, requireJsonObject(req));
  const outcomes = await tasks.submit(bodies, {
    idempotencyKey: req.get('Idempotency-Key'),
    actor: actorOf(res),
    batch: true,
    trace: traceOf(res),
  });
  const created = outcomes.some((o) => o.created);
  res.status(created ? 201 : 200).json({ tasks: await views(outcomes.map((o) => o.task)) });
}

async function listTasks({ tasks, views }: Handlers, req: Request, res: Response): Promise<void> {
  const query = parseOrThrow(listQuerySchema, req.query);
  // One row past the page tells whether there is a next page.
  const list = await tasks.list(
    {
      limit: query.limit + 1,
      ...(query.status ? { status: query.status } : {}),
      ...(query.type ? { type: query.type } : {}),
      ...(query.capability ? { capability: query.capability } : {}),
      ...(query.cursor ? { beforeId: query.cursor } : {}),
    },
    actorOf(res),
  );
  const page = list.slice(0, query.limit);
  const next = list.length > query.limit ? page[page.length - 1]?.id : undefined;
  res.json({ tasks: await views(page), nextCursor: next });
}

async function getTask({ tasks, views }: Handlers, req: TaskRequest, res: Response): Promise<void> {
  const [view] = await views([await tasks.get(req.params.id, actorOf(res))]);
  res.json(view);
}

async function listTaskEvents({ tasks }: Handlers, req: TaskRequest, res: Response): Promise<void> {
  const events = await tasks.events(req.params.id, actorOf(res));
  res.json({ events: events.map(taskEventView) });
}

async function cancelTask({ tasks, views }: Handlers, req: TaskRequest, res: Response): Promise<void> {
  const { outcome, task } = await tasks.cancel(req.params.id, actorOf(res));
  const [view] = await views([task]);
  res.status(outcome === 'already_terminal' ? 409 : 202).json({ outcome, task: view });
}

export function taskRoutes(tasks: TaskService, agents: AgentDirectory): Router {
  const handlers: Handlers = { tasks, views: taskViews(agents) };
  const router = Router();
  router.post('/tasks', (req, res) => submitTask(handlers, req, res));
  router.post('/tasks/batch', (req, res) => submitBatch(handlers, req, res));
  router.get('/tasks', (req, res) => listTasks(handlers, req, res));
  router.get('/tasks/:id', (req, res) => getTask(handlers, req, res));
  router.get('/tasks/:id/events', (req, res) => listTaskEvents(handlers, req, res));
  router.post('/tasks/:id/cancel', (req, res) => cancelTask(handlers, req, res));
  return router;
}
