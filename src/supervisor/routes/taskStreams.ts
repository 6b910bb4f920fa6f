/**
 * Results without polling: `GET /tasks/:id?wait=`, `GET /tasks/:id/events?follow=true` and `GET /events`
 * (JSON, or SSE with `follow=true`), all fed by the supervisor's one TaskWatcher. Mounted before the task
 * routes: a request without `wait` or `follow` falls through to them.
 *
 * A stream registers with the watcher BEFORE it reads its backlog from the store and holds what arrives
 * meanwhile, then drops by seq what the backlog already sent: a resume with Last-Event-ID has no gap and no
 * repeat.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { TOKEN_PATTERN } from '../../domain/capabilities';
import { ValidationError } from '../../domain/errors';
import { TASK_STATUSES, TERMINAL_STATUSES, type TaskEvent, type TaskStatus } from '../../domain/task';
import { actorOf } from '../../security/actor';
import type { Store } from '../../store/port';
import type { AgentDirectory } from '../agentDirectory';
import { SseStream, type StreamSettings } from '../sse';
import type { TaskService } from '../taskService';
import { isTerminalEvent, progressOf, resultingStatus, type TaskWatcher } from '../taskWatcher';
import { parseOrThrow } from '../validation';
import { taskEventView } from '../views';
import { taskViews } from './tasks';

export interface StreamDeps {
  tasks: TaskService;
  agents: AgentDirectory;
  store: Store;
  watcher: TaskWatcher;
  settings: StreamSettings;
}

type TaskRequest = Request<{ id: string }>;

export const waitSchema = z.object({ wait: z.coerce.number().int().min(1).max(60) });
const seqSchema = z.coerce.number().int().min(0);

export const fleetQuerySchema = z.strictObject({
  follow: z.enum(['true', 'false']).optional(),
  after: seqSchema.optional(),
  lastEventId: seqSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  type: z.string().regex(TOKEN_PATTERN).optional(),
  status: z.enum(TASK_STATUSES).optional(),
  agent: z.string().min(1).max(200).optional(),
});

const PAGE = 1000;

/** Where a stream resumes: the Last-Event-ID header, else the `lastEventId` (or `after`) query; null: none. */
export function resumeAfter(req: Request, query?: { after?: number; lastEventId?: number }): number | null {
  const header = req.get('Last-Event-ID');
  if (header !== undefined && header !== '') {
    if (!/^\d{1,15}$/.test(header)) {
      throw new ValidationError([{ field: 'Last-Event-ID', message: 'must be the id of an event (an integer)' }]);
    }
    return Number(header);
  }
  if (query) return query.lastEventId ?? query.after ?? null;
  const raw = req.query.lastEventId;
  if (raw === undefined) return null;
  return parseOrThrow(z.object({ lastEventId: seqSchema }), { lastEventId: raw }).lastEventId;
}

function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** `GET /tasks/:id?wait=N`: answers once the task is terminal or N seconds have passed, always 200. */
async function waitForTask(deps: StreamDeps, req: TaskRequest, res: Response): Promise<void> {
  const { wait } = parseOrThrow(waitSchema, req.query);
  const id = req.params.id;
  const actor = actorOf(res);
  let task = await deps.tasks.get(id, actor);
  if (!isTerminal(task.status)) {
    let finish = () => undefined as void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const unwatch = deps.watcher.watchTask(id, {
      event: (e) => {
        if (isTerminalEvent(e.kind)) finish();
      },
      closed: finish,
    });
    const timer = setTimeout(finish, wait * 1000);
    res.once('close', finish);
    try {
      // Read again now that the watcher listens: a transition between the first read and here is not missed.
      task = await deps.tasks.get(id, actor);
      if (!isTerminal(task.status)) {
        await finished;
        if (res.writableEnded || res.destroyed) return;
        task = await deps.tasks.get(id, actor);
      }
    } finally {
      clearTimeout(timer);
      unwatch();
      res.off('close', finish);
    }
  }
  const [view] = await taskViews(deps.agents)([task]);
  res.json(view);
}

/** `GET /tasks/:id/events?follow=true`: the task's events so far, then each new one; ends after the terminal. */
async function followTask(deps: StreamDeps, req: TaskRequest, res: Response): Promise<void> {
  const id = req.params.id;
  const actor = actorOf(res);
  const after = resumeAfter(req) ?? 0;
  await deps.tasks.get(id, actor);

  const held: TaskEvent[] = [];
  let live = false;
  let lastSent = after;
  const stream = new SseStream(res, deps.settings);
  const send = (e: TaskEvent) => {
    if (e.seq <= lastSent) return;
    lastSent = e.seq;
    stream.send(e.kind, taskEventView(e), e.seq);
  };
  const unwatch = deps.watcher.watchTask(id, {
    event: (e) => {
      if (!live) {
        held.push(e);
        return;
      }
      send(e);
      if (isTerminalEvent(e.kind)) stream.end();
    },
    progress: (p) => {
      if (live) stream.send('progress', p);
    },
    closed: () => stream.end(),
  });
  stream.onClose(unwatch);

  let task, backlog;
  try {
    [task, backlog] = await Promise.all([deps.tasks.get(id, actor), deps.store.listTaskEvents(id)]);
  } catch {
    stream.end();
    return;
  }
  const progress = progressOf(task);
  if (progress) stream.send('progress', progress);
  const all = [...backlog, ...held].sort((a, b) => a.seq - b.seq);
  for (const e of all) send(e);
  live = true;
  // Ended when the latest status it reached is terminal (a retry, later, would follow a terminal event).
  const statuses = all.map((e) => resultingStatus(e.kind)).filter((s): s is TaskStatus => s !== null);
  const latest = statuses[statuses.length - 1];
  if (latest !== undefined && isTerminal(latest)) stream.end();
}

interface FleetFilter {
  type?: string | undefined;
  status?: TaskStatus | undefined;
  agent?: string | undefined;
}

/**
 * A fleet event as the API shows it: the task event plus its task's type. `status` filters on the status the
 * event leaves its task in (`started` → running, `retry_scheduled` → queued, …); the kinds always followed by
 * another event (`failed`, `lease_expired`, `lease_reclaimed`, `result_rejected`) match no status.
 */
async function fleetViews(deps: StreamDeps, events: TaskEvent[], filter: FleetFilter) {
  const byAgent = filter.agent === undefined ? events : events.filter((e) => e.agentId === filter.agent);
  const byStatus =
    filter.status === undefined ? byAgent : byAgent.filter((e) => resultingStatus(e.kind) === filter.status);
  const types = await deps.watcher.typesOf(byStatus.map((e) => e.taskId));
  const out: Array<{ event: TaskEvent; view: Record<string, unknown> }> = [];
  for (const e of byStatus) {
    const type = types.get(e.taskId);
    if (type === undefined || (filter.type !== undefined && type !== filter.type)) continue;
    out.push({ event: e, view: { taskId: e.taskId, type, ...taskEventView(e) } });
  }
  return out;
}

async function listFleetEvents(deps: StreamDeps, req: Request, res: Response): Promise<void> {
  const q = parseOrThrow(fleetQuerySchema, req.query);
  const after = resumeAfter(req, q) ?? 0;
  if (q.follow === 'true') return followFleet(deps, req, res, after === 0 && !hasResume(req, q) ? null : after, q);
  const events = await deps.store.listTaskEventsAfter(after, q.limit);
  const views = await fleetViews(deps, events, q);
  // The cursor moves past what was read, matched or not: a filtered page may hold fewer than `limit`.
  const nextCursor = events[events.length - 1]?.seq ?? after;
  res.json({ events: views.map((v) => v.view), nextCursor });
}

function hasResume(req: Request, q: { after?: number; lastEventId?: number }): boolean {
  return Boolean(req.get('Last-Event-ID')) || q.after !== undefined || q.lastEventId !== undefined;
}

/** `GET /events?follow=true`: from `after` (or from now, without one), then live. */
async function followFleet(
  deps: StreamDeps,
  _req: Request,
  res: Response,
  after: number | null,
  filter: FleetFilter,
): Promise<void> {
  const held: TaskEvent[] = [];
  let live = false;
  let lastSent = after ?? Number.MAX_SAFE_INTEGER;
  const stream = new SseStream(res, deps.settings);
  // Events are typed (a cached store read at most once per task) in order: one chain per stream.
  let chain = Promise.resolve();
  const sendAll = async (events: TaskEvent[]) => {
    const fresh = events.filter((e) => e.seq > lastSent);
    if (fresh.length === 0 || !stream.isOpen) return;
    lastSent = fresh[fresh.length - 1]!.seq;
    for (const { event, view } of await fleetViews(deps, fresh, filter)) stream.send(event.kind, view, event.seq);
  };
  const unwatch = deps.watcher.watchFleet({
    event: (e) => {
      if (!live) held.push(e);
      else chain = chain.then(() => sendAll([e])).catch(() => stream.end());
    },
    closed: () => stream.end(),
  });
  stream.onClose(unwatch);

  try {
    // From the present: the log's head read after registering, so nothing committed since is missed.
    if (after === null) lastSent = await deps.store.lastTaskEventSeq();
    if (after !== null) {
      for (;;) {
        const page = await deps.store.listTaskEventsAfter(lastSent, PAGE);
        await sendAll(page);
        if (page.length < PAGE || !stream.isOpen) break;
        await stream.whenWritable();
      }
    }
    // What arrived during an await is held too: live only once nothing is left held.
    while (held.length > 0) await sendAll(held.splice(0).sort((a, b) => a.seq - b.seq));
    live = true;
  } catch {
    stream.end();
  }
}

export function taskStreamRoutes(deps: StreamDeps): Router {
  const router = Router();
  router.get('/tasks/:id', (req: TaskRequest, res: Response, next: NextFunction) =>
    req.query.wait === undefined ? next() : waitForTask(deps, req, res),
  );
  router.get('/tasks/:id/events', (req: TaskRequest, res: Response, next: NextFunction) =>
    req.query.follow === 'true' ? followTask(deps, req, res) : next(),
  );
  router.get('/events', (req, res) => listFleetEvents(deps, req, res));
  return router;
}
