/**
 * `taskfleet schedules list | create | pause | resume | delete`: thin HTTP clients of `/v1/schedules`
 * (TASKFLEET_URL, TASKFLEET_API_KEY; every change needs an admin key).
 */
import type { Config } from '../config/config';
import { ValidationError } from '../domain/errors';
import { call } from './client';

interface ScheduleView {
  name: string;
  cron: string;
  timezone: string;
  paused: boolean;
  nextAt: string | null;
  lastTaskId: string | null;
}

export interface SchedulesCreateOptions {
  cron: string;
  timezone?: string;
  task: string;
  overlap?: string;
  catchUp?: string;
}

function line(s: ScheduleView): string {
  const state = s.paused ? 'paused' : `next ${s.nextAt ?? 'never'}`;
  return `  ${s.name.padEnd(24)} ${`${s.cron} (${s.timezone})`.padEnd(36)} ${state}  last task ${s.lastTaskId ?? '-'}`;
}

export async function runSchedulesList(config: Config, o: { json?: boolean }): Promise<void> {
  const { schedules } = (await call(config, 'GET', '/v1/schedules')) as { schedules: ScheduleView[] };
  if (o.json) {
    console.log(JSON.stringify(schedules, null, 2));
    return;
  }
  console.log(`schedules (${schedules.length})`);
  for (const s of schedules) console.log(line(s));
}

export async function runSchedulesCreate(config: Config, name: string, o: SchedulesCreateOptions): Promise<void> {
  let task: unknown;
  try {
    task = JSON.parse(o.task);
  } catch {
    throw new ValidationError([{ field: '--task', message: 'not JSON (a submission as for POST /v1/tasks)' }]);
  }
  const body = {
    name,
    cron: o.cron,
    task,
    ...(o.timezone === undefined ? {} : { timezone: o.timezone }),
    ...(o.overlap === undefined ? {} : { overlap: o.overlap }),
    ...(o.catchUp === undefined ? {} : { catchUp: o.catchUp }),
  };
  console.log(JSON.stringify(await call(config, 'POST', '/v1/schedules', body), null, 2));
}

export async function runSchedulesAction(config: Config, name: string, action: 'pause' | 'resume'): Promise<void> {
  const s = (await call(config, 'POST', `/v1/schedules/${encodeURIComponent(name)}/${action}`)) as unknown;
  console.log(line(s as ScheduleView).trim());
}

export async function runSchedulesDelete(config: Config, name: string): Promise<void> {
  await call(config, 'DELETE', `/v1/schedules/${encodeURIComponent(name)}`);
  console.log(`deleted schedule ${name}`);
}
