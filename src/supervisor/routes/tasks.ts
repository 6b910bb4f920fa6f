import { Router, type Request } from 'express';
import { z } from 'zod';
import { TOKEN_PATTERN } from '../../domain/capabilities';
import { ValidationError } from '../../domain/errors';
import { batchSubmissionSchema } from '../../domain/submission';
import { TASK_STATUSES, type TaskRecord } from '../../domain/task';
import { actorOf } from '../../security/actor';
import { traceOf } from '../../telemetry/traceRequests';
import { AgentDirectory } from '../agentDirectory';
import type { TaskService } from '../taskService';
import { parseOrThrow } from '../validation';
import { taskEventView, taskView } from '../views';

const listQuerySchema = z.strictObject({
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

export function taskRoutes(tasks: TaskService, agents: AgentDirectory): Router {
  const r = Router();
  const views = async (list: TaskRecord[]) => {
    const live = await agents.live();
    return list.map((t) => ({
      ...taskView(t, AgentDirectory.routable(t, live)),
      submittedBy: t.submittedBy ?? undefined,
    }));
  };

  r.post('/tasks', async (req, res) => {
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
  });

  r.post('/tasks/batch', async (req, res) => {
    const { tasks: bodies } = parseOrThrow(batchSubmissionSchema, requireJsonObject(req));
    const outcomes = await tasks.submit(bodies, {
      idempotencyKey: req.get('Idempotency-Key'),
      actor: actorOf(res),
      batch: true,
      trace: traceOf(res),
    });
    const created = outcomes.some((o) => o.created);
    res.status(created ? 201 : 200).json({ tasks: await views(outcomes.map((o) => o.task)) });
  });

  r.get('/tasks', async (req, res) => {
    const q = parseOrThrow(listQuerySchema, req.query);
    const list = await tasks.list({
      limit: q.limit + 1,
      ...(q.status ? { status: q.status } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.capability ? { capability: q.capability } : {}),
      ...(q.cursor ? { beforeId: q.cursor } : {}),
    });
    const page = list.slice(0, q.limit);
    const next = list.length > q.limit ? page[page.length - 1]?.id : undefined;
    res.json({ tasks: await views(page), nextCursor: next });
  });

  r.get('/tasks/:id', async (req, res) => {
    const [view] = await views([await tasks.get(req.params.id)]);
    res.json(view);
  });

  r.get('/tasks/:id/events', async (req, res) => {
    const events = await tasks.events(req.params.id);
    res.json({ events: events.map(taskEventView) });
  });

  r.post('/tasks/:id/cancel', async (req, res) => {
    const { outcome, task } = await tasks.cancel(req.params.id, actorOf(res));
    const [view] = await views([task]);
    res.status(outcome === 'already_terminal' ? 409 : 202).json({ outcome, task: view });
  });

  return r;
}
