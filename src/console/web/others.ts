/** Pools, Routes and Schedules: one paged list each, polled (their figures change without task events). */
import { get, post } from './api.js';
import { ago, badge, h, redraw, replace, sparkline, table, count } from './dom.js';
import { actionButton, every, Newest, Pager, type Ctx } from './page.js';

const enc = encodeURIComponent;

interface Pool {
  key: string;
  capabilities: string[];
  types: string[];
  declared: boolean;
  workers: number;
  slots: number;
  running: number;
  freeSlots: number;
  backlog: number;
  delayed: number;
}

export function poolsPage(ctx: Ctx): void {
  const body = h('div', { id: 'pools-table' });
  replace(ctx.main, h('h1', {}, 'Pools'), body);
  every(ctx, 3000, async () => {
    const { pools } = await get<{ pools: Pool[] }>('/pools');
    redraw(
      body,
      table(
        ['Pool', 'Kind', 'Workers', 'Running / slots', 'Free slots', 'Backlog', 'Delayed', 'Scaled to zero'],
        pools.map((p) => [
          p.key,
          p.declared ? 'declared' : 'learned',
          p.workers,
          `${p.running} / ${p.slots}`,
          p.freeSlots,
          p.backlog,
          p.delayed,
          p.workers === 0 ? 'yes' : 'no',
        ]),
        count(pools.length, 'pool'),
      ),
    );
  });
}

interface RouteRow {
  route: string;
  type: string;
  capabilities: string[];
  queued: number;
  delayed: number;
  running: number;
  dead: number;
  oldestQueuedAgeMs: number | null;
  routable: boolean;
  pool: string | null;
  /** Route controls (when the supervisor has them): absent on older supervisors. */
  state?: 'active' | 'paused' | 'circuit_open' | 'half_open';
  settings?: { rateLimit?: unknown; concurrencyCap?: number | null };
  /** With series=N: counts per minute, oldest first; absent from an older supervisor. */
  series?: { start: string; stepMs: number; succeeded: number[]; failed: number[]; dead: number[] };
}

/** The window of the routes' charts, in minutes (one read for the whole page: GET /v1/routes?series=). */
const SERIES_MINUTES = 30;

/** Succeeded and failed attempts per minute over the window, as a chart small enough for the table. */
function throughput(r: RouteRow): HTMLElement | string {
  if (!r.series) return '—';
  return sparkline(`${r.route}, per minute over the last ${SERIES_MINUTES} minutes`, [
    { name: 'succeeded', values: r.series.succeeded, className: 'series-ok' },
    { name: 'failed', values: r.series.failed, className: 'series-failed' },
  ]);
}

function routeActions(ctx: Ctx, r: RouteRow, after: () => unknown): HTMLButtonElement | null {
  // Only a supervisor that reports route states can pause them; a 404 is announced as not available.
  if (r.state === undefined) return null;
  const paused = r.state === 'paused';
  const action = paused ? 'resume' : 'pause';
  const what = paused
    ? `Resume route ${r.route}: its queued tasks are dispatched again.`
    : `Pause route ${r.route}: its tasks stay queued, none is dispatched until resumed.`;
  return actionButton(
    ctx,
    `${paused ? 'Resume' : 'Pause'} ${r.route}`,
    what,
    () => post(`/routes/${enc(r.route)}/${action}`),
    after,
  );
}

export function routesPage(ctx: Ctx): void {
  const pager = new Pager();
  const body = h('div', { id: 'routes-table' });
  replace(ctx.main, h('h1', {}, 'Routes'), body);
  const newest = new Newest();
  const load = async () => {
    const current = newest.begin();
    const page = await get<{ routes: RouteRow[]; nextCursor?: string }>('/routes', {
      limit: '100',
      cursor: pager.cursor,
      series: String(SERIES_MINUTES),
    });
    if (!current()) return;
    pager.next = page.nextCursor;
    const list = table(
      [
        'Route',
        'State',
        `Last ${SERIES_MINUTES} min`,
        'Queued',
        'Oldest queued',
        'Delayed',
        'Running',
        'Dead',
        'Routable',
        'Pool',
        'Rate limit',
        ctx.admin ? 'Actions' : '',
      ],
      page.routes.map((r) => [
        r.route,
        r.state ? badge(r.state) : '—',
        throughput(r),
        r.queued,
        ago(r.oldestQueuedAgeMs),
        r.delayed,
        r.running,
        r.dead,
        r.routable ? 'yes' : h('strong', {}, 'no'),
        r.pool ?? '—',
        r.settings?.rateLimit ? JSON.stringify(r.settings.rateLimit) : '—',
        h('span', { class: 'buttons' }, routeActions(ctx, r, load)),
      ]),
      `${count(page.routes.length, 'route')} on this page`,
    );
    redraw(body, ...pager.around(() => void load(), page.routes.length, list));
  };
  every(ctx, 3000, load);
}

const RUNS_SHOWN = 50;

interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  paused: boolean;
  nextAt: string | null;
  lastTaskId: string | null;
  task: { type?: string };
}

export function schedulesPage(ctx: Ctx): void {
  const body = h('div', { id: 'schedules-table' });
  replace(ctx.main, h('h1', {}, 'Schedules'), body);
  const load = async () => {
    const { schedules } = await get<{ schedules: Schedule[] }>('/schedules', { limit: '500' });
    const runs = await Promise.all(
      // Recent runs of the first RUNS_SHOWN schedules: one read each, every 10 s (a bounded cost per refresh).
      schedules
        .slice(0, RUNS_SHOWN)
        .map((s) =>
          get<{ runs: Array<{ slotAt: string; taskId: string | null; skippedReason: string | null }> }>(
            `/schedules/${enc(s.name)}/runs`,
            { limit: '3' },
          ),
        ),
    );
    redraw(
      body,
      table(
        ['Schedule', 'Cron', 'Task type', 'State', 'Next run', 'Recent runs', ctx.admin ? 'Actions' : ''],
        schedules.map((s, i) => [
          s.name,
          `${s.cron} (${s.timezone})`,
          s.task.type ?? '—',
          badge(s.paused ? 'paused' : 'active'),
          s.nextAt ? `${s.nextAt} (in ${ago(Date.parse(s.nextAt) - Date.now())})` : '—',
          h(
            'ul',
            { class: 'plain' },
            ...(runs[i]?.runs ?? []).map((r) =>
              h(
                'li',
                {},
                r.taskId
                  ? h('a', { href: `#/tasks/${enc(r.taskId)}` }, r.slotAt)
                  : `${r.slotAt} skipped: ${r.skippedReason ?? ''}`,
              ),
            ),
          ),
          h(
            'span',
            { class: 'buttons' },
            actionButton(
              ctx,
              `${s.paused ? 'Resume' : 'Pause'} ${s.name}`,
              s.paused
                ? `Resume schedule ${s.name}: it fires again from its next slot.`
                : `Pause schedule ${s.name}: it fires no task until resumed.`,
              () => post(`/schedules/${enc(s.name)}/${s.paused ? 'resume' : 'pause'}`),
              load,
            ),
          ),
        ]),
        count(schedules.length, 'schedule'),
      ),
    );
  };
  every(ctx, 10_000, load);
}
