/**
 * Schedules (src/domain/schedule.ts): `POST /v1/schedules` creates one, `GET` lists and reads them and their
 * runs, `POST …/pause` and `…/resume`, `DELETE`. Changing is an admin action, reading is open to every
 * non-agent role (the permission table); every change is audited. The task is validated as `POST /v1/tasks`
 * validates it, and submitted at each slot as the admin key that created the schedule.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Clock } from '../../domain/clock';
import { NotFoundError, ValidationError } from '../../domain/errors';
import {
  isTimeZone,
  nextSlot,
  parseCron,
  SCHEDULE_NAME_PATTERN,
  type ScheduleRecord,
  type ScheduleRun,
} from '../../domain/schedule';
import { taskSubmissionSchema } from '../../domain/submission';
import { actorOf } from '../../security/actor';
import { AuditLog } from '../../security/audit';
import type { Store } from '../../store/port';
import { assertShallow, parseOrThrow } from '../validation';

export const createBody = z.strictObject({
  name: z
    .string()
    .regex(SCHEDULE_NAME_PATTERN, '1 to 100 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit'),
  cron: z.string().trim().min(1).max(200),
  timezone: z.string().min(1).max(64).default('UTC'),
  task: taskSubmissionSchema,
  overlap: z.enum(['allow', 'skip']).default('allow'),
  catchUp: z.enum(['none', 'one']).default('none'),
});

export const runsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function scheduleView(s: ScheduleRecord): Record<string, unknown> {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    task: s.task,
    overlap: s.overlap,
    catchUp: s.catchUp,
    paused: s.paused,
    nextAt: iso(s.nextAt),
    lastTaskId: s.lastTaskId,
    createdAt: iso(s.createdAt),
    createdBy: s.createdBy,
    updatedAt: iso(s.updatedAt),
  };
}

function runView(r: ScheduleRun): Record<string, unknown> {
  return { slotAt: iso(r.slotAt), taskId: r.taskId, skippedReason: r.skippedReason, at: iso(r.at) };
}

/** The cron expression and zone, checked the way the scheduler will read them; answers the first slot. */
function firstSlot(cron: string, timezone: string, now: number): number {
  if (!isTimeZone(timezone)) throw new ValidationError([{ field: 'timezone', message: 'not an IANA time zone' }]);
  try {
    parseCron(cron, timezone);
  } catch (err) {
    throw new ValidationError([{ field: 'cron', message: (err as Error).message }]);
  }
  const next = nextSlot({ cron, timezone }, now);
  if (next === null) throw new ValidationError([{ field: 'cron', message: 'names no instant after now' }]);
  return next;
}

export interface ScheduleRouteDeps {
  store: Store;
  clock: Clock;
}

export function scheduleRoutes(d: ScheduleRouteDeps): Router {
  const r = Router();
  const audit = new AuditLog(d.store, d.clock);

  const existing = async (name: string) => {
    const s = await d.store.getSchedule(name);
    if (!s) throw new NotFoundError(`schedule ${name}`);
    return s;
  };

  r.post('/schedules', async (req, res) => {
    assertShallow(req.body);
    const body = parseOrThrow(createBody, req.body);
    if (body.task.sensitive === true) {
      throw new ValidationError([{ field: 'task.sensitive', message: 'a schedule stores its task unsealed' }]);
    }
    const now = d.clock.now();
    const nextAt = firstSlot(body.cron, body.timezone, now);
    const actor = actorOf(res);
    const schedule: ScheduleRecord = {
      name: body.name,
      cron: body.cron,
      timezone: body.timezone,
      // As submitted: each slot submits it again through POST /v1/tasks' validation.
      task: (req.body as { task: unknown }).task,
      overlap: body.overlap,
      catchUp: body.catchUp,
      paused: false,
      nextAt,
      lastTaskId: null,
      createdAt: now,
      createdBy: actor.keyId,
      updatedAt: now,
    };
    await d.store.createSchedule(schedule);
    const { name, cron, timezone, overlap, catchUp } = schedule;
    await audit.record(actor, 'schedule.create', `schedule:${name}`, { cron, timezone, overlap, catchUp });
    res
      .status(201)
      .location(`/v1/schedules/${encodeURIComponent(name)}`)
      .json(scheduleView(schedule));
  });

  r.get('/schedules', async (req, res) => {
    const { limit } = parseOrThrow(listQuery, req.query);
    res.json({ schedules: (await d.store.listSchedules({ limit })).map(scheduleView) });
  });

  r.get('/schedules/:name', async (req, res) => {
    res.json(scheduleView(await existing(req.params.name)));
  });

  r.get('/schedules/:name/runs', async (req, res) => {
    const { limit } = parseOrThrow(runsQuery, req.query);
    const s = await existing(req.params.name);
    res.json({ name: s.name, runs: (await d.store.listScheduleRuns({ name: s.name, limit })).map(runView) });
  });

  for (const action of ['pause', 'resume'] as const) {
    r.post(`/schedules/:name/${action}`, async (req, res) => {
      const s = await existing(req.params.name);
      const now = d.clock.now();
      // A resumed schedule starts at its first slot after now: the slots of the pause are never fired.
      const nextAt = action === 'resume' && s.paused ? nextSlot(s, now) : undefined;
      const changed = await d.store.setSchedulePaused({ name: s.name, paused: action === 'pause', nextAt, now });
      if (!changed) throw new NotFoundError(`schedule ${s.name}`);
      await audit.record(actorOf(res), `schedule.${action}`, `schedule:${s.name}`);
      res.json(scheduleView(changed));
    });
  }

  r.delete('/schedules/:name', async (req, res) => {
    const name = req.params.name;
    if (!(await d.store.deleteSchedule(name))) throw new NotFoundError(`schedule ${name}`);
    await audit.record(actorOf(res), 'schedule.delete', `schedule:${name}`);
    res.status(204).end();
  });

  return r;
}
