/**
 * `GET /v1/tasks/:id/logs?attempt=N`: the lines a task's handler wrote with `ctx.log` in one attempt (the
 * latest by default), and what the per-attempt caps dropped. Seen by whoever may see the task (TaskService.get).
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Store } from '../../store/port';
import { actorOf } from '../../security/actor';
import type { TaskService } from '../taskService';
import { parseOrThrow } from '../validation';

export const logsQuerySchema = z.strictObject({
  attempt: z.coerce.number().int().min(1).max(1_000_000).optional(),
});

const iso = (ms: number) => new Date(ms).toISOString();

async function taskLogs(tasks: TaskService, store: Store, req: Request<{ id: string }>, res: Response): Promise<void> {
  const query = parseOrThrow(logsQuerySchema, req.query);
  const task = await tasks.get(req.params.id, actorOf(res));
  // A task never claimed has attempt 0, which has no lines.
  const attempt = query.attempt ?? task.attempt;
  const logs =
    attempt === 0 ? { lines: [], dropped: { lines: 0, bytes: 0 } } : await store.listTaskLogs(task.id, attempt);
  res.json({
    taskId: task.id,
    attempt,
    lines: logs.lines.map((l) => ({
      at: iso(l.at),
      level: l.level,
      message: l.message,
      fields: l.fields ?? undefined,
    })),
    dropped: logs.dropped,
  });
}

export function taskLogRoutes(tasks: TaskService, store: Store): Router {
  const router = Router();
  router.get('/tasks/:id/logs', (req, res) => taskLogs(tasks, store, req, res));
  return router;
}
