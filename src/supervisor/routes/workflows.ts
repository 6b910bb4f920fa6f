/**
 * Workflows (src/domain/workflow.ts): `POST /v1/workflows` submits one (201; a replayed Idempotency-Key answers
 * 200 with the stored one), `GET` reads and lists them, `GET …/events` reads a workflow's events (or follows
 * them as a stream with `follow=true`), `POST …/cancel`, and `POST …/steps/:step/approve` or `…/reject` for a
 * step waiting for a person. The ownership rule of tasks applies (WorkflowService).
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { WORKFLOW_STATES, type WorkflowEvent, type WorkflowRecord, type WorkflowSummary } from '../../domain/workflow';
import { actorOf } from '../../security/actor';
import { SseStream, type StreamSettings } from '../sse';
import { resumeAfter } from './taskStreams';
import type { WorkflowEngine } from '../workflowEngine';
import type { WorkflowService } from '../workflowService';
import { parseOrThrow } from '../validation';

export const listQuery = z.strictObject({
  state: z.enum(WORKFLOW_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(100).optional(),
});

export const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  follow: z.enum(['true', 'false']).optional(),
});

export const decisionBody = z.strictObject({ comment: z.string().max(2000).optional() }).default({});

/** How often a followed workflow's events are read when no pass of this supervisor rang (another one moved it). */
const FOLLOW_POLL_MS = 1000;
const TERMINAL_KINDS = new Set(['succeeded', 'failed', 'cancelled']);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function summaryView(w: WorkflowSummary): Record<string, unknown> {
  return {
    id: w.id,
    name: w.name,
    state: w.state,
    stepCount: w.stepCount,
    submittedBy: w.submittedBy,
    error: w.error,
    createdAt: iso(w.createdAt),
    updatedAt: iso(w.updatedAt),
    finishedAt: iso(w.finishedAt),
  };
}

export function workflowView(w: WorkflowRecord): Record<string, unknown> {
  return {
    ...summaryView({ ...w, stepCount: w.steps.length }),
    steps: w.spec.map((spec, i) => {
      const s = w.steps[i]!;
      return {
        id: spec.id,
        kind: spec.approval ? 'approval' : spec.validates !== undefined ? 'gate' : 'task',
        state: s.state,
        round: s.round,
        taskIds: s.taskIds,
        needs: spec.needs,
        ...(spec.validates !== undefined ? { validates: spec.validates, maxRounds: spec.maxRounds } : {}),
        ...(spec.task ? { type: spec.task.type } : {}),
        ...(spec.approval ? { approval: spec.approval } : {}),
        onFailure: spec.onFailure,
        result: s.result ?? null,
        error: s.error,
        feedback: s.feedback ?? null,
        updatedAt: iso(s.updatedAt),
      };
    }),
  };
}

function eventView(e: WorkflowEvent): Record<string, unknown> {
  return { seq: e.seq, at: iso(e.at), kind: e.kind, step: e.step, round: e.round, data: e.data };
}

export interface WorkflowRouteDeps {
  workflows: WorkflowService;
  engine: Pick<WorkflowEngine, 'onChange'>;
  streams: StreamSettings;
}

export function workflowRoutes(d: WorkflowRouteDeps): Router {
  const r = Router();

  r.post('/workflows', async (req, res) => {
    const key = req.get('Idempotency-Key');
    const { workflow, created } = await d.workflows.submit(req.body, { idempotencyKey: key, actor: actorOf(res) });
    res
      .status(created ? 201 : 200)
      .location(`/v1/workflows/${workflow.id}`)
      .json(workflowView(workflow));
  });

  r.get('/workflows', async (req, res) => {
    const q = parseOrThrow(listQuery, req.query);
    const page = await d.workflows.list(
      { ...(q.state ? { state: q.state } : {}), ...(q.cursor ? { beforeId: q.cursor } : {}), limit: q.limit },
      actorOf(res),
    );
    const last = page[page.length - 1];
    res.json({
      workflows: page.map(summaryView),
      ...(page.length === q.limit && last ? { nextCursor: last.id } : {}),
    });
  });

  r.get('/workflows/:id', async (req, res) => {
    res.json(workflowView(await d.workflows.get(req.params.id, actorOf(res))));
  });

  r.get('/workflows/:id/events', async (req, res) => {
    const q = parseOrThrow(eventsQuery, req.query);
    const actor = actorOf(res);
    if (q.follow !== 'true') {
      const events = await d.workflows.events(req.params.id, actor, q.after, q.limit);
      res.json({ events: events.map(eventView) });
      return;
    }
    await d.workflows.get(req.params.id, actor);
    // A client reconnecting (EventSource sends Last-Event-ID) resumes after the last event it got.
    follow(d, req.params.id, actor, resumeAfter(req, { after: q.after }) ?? 0, res);
  });

  r.post('/workflows/:id/cancel', async (req, res) => {
    res.json(workflowView(await d.workflows.cancel(req.params.id, actorOf(res))));
  });

  for (const kind of ['approve', 'reject'] as const) {
    r.post(`/workflows/:id/steps/:step/${kind}`, async (req, res) => {
      const body = parseOrThrow(decisionBody, req.body ?? {});
      const wf = await d.workflows.decide(req.params.id, req.params.step, kind, actorOf(res), body.comment);
      res.json(workflowView(wf));
    });
  }

  return r;
}

/**
 * A workflow's events after `after`, then each new one as it is applied (read when a pass of this supervisor
 * changed it, and every FOLLOW_POLL_MS for passes of another); the stream ends after the workflow's end.
 */
function follow(
  d: WorkflowRouteDeps,
  id: string,
  actor: ReturnType<typeof actorOf>,
  after: number,
  res: Response,
): void {
  const stream = new SseStream(res, d.streams);
  let lastSeq = after;
  let reading = false;
  let again = false;
  const read = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const events = await d.workflows.events(id, actor, lastSeq, 500);
        for (const e of events) {
          lastSeq = e.seq;
          stream.send(e.kind, eventView(e), e.seq);
          if (TERMINAL_KINDS.has(e.kind) && e.step === null) stream.end();
        }
      } while (again && stream.isOpen);
    } catch {
      stream.end();
    } finally {
      reading = false;
    }
  };
  const unlisten = d.engine.onChange((changed) => {
    if (changed === id) void read();
  });
  const timer = setInterval(() => void read(), FOLLOW_POLL_MS);
  timer.unref();
  stream.onClose(() => {
    unlisten();
    clearInterval(timer);
  });
  void read();
}
