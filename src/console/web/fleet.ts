/** The Fleet page (every agent, paged and filtered, refreshed by polling one page) and an agent's page. */
import { get, post } from './api.js';
import { ago, badge, h, lineChart, redraw, replace, since, table, count } from './dom.js';
import { actionButton, every, filterForm, Newest, Pager, type Ctx } from './page.js';

const STATES = ['registered', 'running', 'degraded', 'draining', 'stopped', 'failed', 'warning', 'suspended', 'frozen'];

interface Agent {
  id: string;
  state: string;
  stateReason?: string;
  live: boolean;
  capabilities: string[];
  types: string[];
  concurrency: number;
  runningTasks: number;
  heartbeatAgeMs: number;
  hostname: string;
  pid: number;
  version: string;
  transport: string;
  /** With include=health (0 to 100); absent from an older supervisor. */
  healthScore?: number;
}

/** The health score out of 100, worded by band as well as coloured (the colour is never the only sign). */
function health(score: number | undefined): HTMLElement | string {
  if (score === undefined) return '—';
  const band = score >= 80 ? 'good' : score >= 50 ? 'fair' : 'poor';
  return h('span', { class: `health health-${band}` }, `${score} (${band})`);
}

const enc = encodeURIComponent;
/** How often the Fleet list asks for its agents' health scores (GET /v1/agents?include=health). */
const HEALTH_EVERY_MS = 15_000;

/** The admin actions that make sense in an agent's state. */
function agentActions(ctx: Ctx, a: Agent, after: () => unknown): Array<HTMLButtonElement | null> {
  const act = (action: string, label: string, what: string) =>
    actionButton(ctx, label, what, () => post(`/agents/${enc(a.id)}/${action}`), after);
  const out: Array<HTMLButtonElement | null> = [];
  if (a.state === 'frozen')
    out.push(
      act('unfreeze', `Unfreeze ${a.id}`, `Unfreeze agent ${a.id}: it takes work again once its heartbeat is fresh.`),
    );
  if (a.state === 'suspended')
    out.push(act('resume', `Resume ${a.id}`, `Resume agent ${a.id}: it takes new tasks again.`));
  if (!['stopped', 'failed', 'draining', 'suspended', 'frozen'].includes(a.state)) {
    out.push(
      act(
        'drain',
        `Drain ${a.id}`,
        `Drain agent ${a.id}: it finishes its running tasks, takes no new ones, and stops.`,
      ),
    );
    out.push(
      act(
        'suspend',
        `Suspend ${a.id}`,
        `Suspend agent ${a.id}: it keeps running but takes no new tasks until resumed.`,
      ),
    );
  }
  return out;
}

export function fleetPage(ctx: Ctx): void {
  const pager = new Pager();
  let filters: Record<string, string> = {};
  const body = h('div', { id: 'fleet-table' });
  const form = filterForm(
    [
      { name: 'state', label: 'State', options: STATES },
      { name: 'capability', label: 'Capability' },
    ],
    (values) => {
      filters = values;
      pager.reset();
      void load();
    },
  );
  replace(ctx.main, h('h1', {}, 'Fleet'), form, body);

  const newest = new Newest();
  // The scores count each agent's attempts over 15 minutes: read with the page every HEALTH_EVERY_MS, and at
  // once for a new page or filter, not on every 2 s refresh.
  let scores = new Map<string, number | undefined>();
  let scoredAt = 0;
  let scoredFor = '';
  async function load(): Promise<void> {
    const current = newest.begin();
    const view = JSON.stringify([filters, pager.cursor ?? null]);
    const withHealth = view !== scoredFor || Date.now() - scoredAt >= HEALTH_EVERY_MS;
    const page = await get<{ agents: Agent[]; nextCursor?: string }>('/agents', {
      ...filters,
      ...(withHealth ? { include: 'health' } : {}),
      limit: '100',
      cursor: pager.cursor,
    });
    if (!current()) return;
    pager.next = page.nextCursor;
    if (withHealth) {
      scores = new Map(page.agents.map((a) => [a.id, a.healthScore]));
      [scoredAt, scoredFor] = [Date.now(), view];
    }
    const rows = page.agents.map((a) => [
      h('a', { href: `#/agents/${enc(a.id)}` }, a.id),
      h('span', {}, badge(a.state), a.live ? '' : ' (not live)'),
      a.capabilities.join(', ') || '—',
      a.types.join(', ') || 'any',
      `${a.runningTasks} / ${a.concurrency}`,
      ago(a.heartbeatAgeMs),
      health(scores.get(a.id)),
      h('span', { class: 'buttons' }, ...agentActions(ctx, a, load)),
    ]);
    const list = table(
      [
        'Agent',
        'State',
        'Capabilities',
        'Types',
        'Running / concurrency',
        'Heartbeat age',
        'Health',
        ctx.admin ? 'Actions' : '',
      ],
      rows,
      `${count(page.agents.length, 'agent')} on this page (refreshed every 2 s, health every 15 s)`,
    );
    redraw(body, ...pager.around(() => void load(), page.agents.length, list));
  }
  every(ctx, 2000, load);
}

interface Performance {
  windowSeconds: number;
  completed: number;
  failed: number;
  p95RunMs: number | null;
  healthScore: number;
}

interface Sample {
  at: string;
  runningTasks: number;
  cpuPercent: number | null;
  rssBytes: number | null;
}

export function agentPage(ctx: Ctx, id: string): void {
  const head = h('div', {});
  const charts = h('div', { class: 'charts' });
  const timeline = h('div', {});
  const tasks = h('div', {});
  replace(
    ctx.main,
    h('h1', {}, `Agent ${id}`),
    head,
    h('h2', {}, 'Metrics'),
    charts,
    h('h2', {}, 'Status timeline'),
    timeline,
    h('h2', {}, 'Recent tasks'),
    tasks,
  );

  async function load(): Promise<void> {
    const [a, perf, events, metrics] = await Promise.all([
      get<Agent>(`/agents/${enc(id)}`),
      get<Performance>(`/agents/${enc(id)}/performance`),
      get<{ events: Array<{ at: string; from?: string; to: string; reason: string }> }>(`/agents/${enc(id)}/events`),
      get<{ samples: Sample[] }>(`/agents/${enc(id)}/metrics`, { limit: '500' }),
    ]);
    redraw(
      head,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'State'),
        h('dd', { id: 'agent-state' }, badge(a.state), a.stateReason ? ` ${a.stateReason}` : ''),
        h('dt', {}, 'Load'),
        h('dd', {}, `${a.runningTasks} / ${a.concurrency}`),
        h('dt', {}, 'Health score'),
        h('dd', { id: 'agent-health' }, `${perf.healthScore} / 100`),
        h('dt', {}, `Last ${ago(perf.windowSeconds * 1000)}`),
        h(
          'dd',
          {},
          `${perf.completed} completed, ${perf.failed} failed` +
            (perf.p95RunMs === null ? '' : `, p95 run ${ago(perf.p95RunMs)}`),
        ),
        h('dt', {}, 'Heartbeat age'),
        h('dd', {}, ago(a.heartbeatAgeMs)),
        h('dt', {}, 'Capabilities'),
        h('dd', {}, a.capabilities.join(', ') || '—'),
        h('dt', {}, 'Host'),
        h('dd', {}, `${a.hostname} pid ${a.pid} (${a.transport}, ${a.version})`),
      ),
      h('p', { class: 'buttons' }, ...agentActions(ctx, a, load)),
    );
    const t = (s: Sample) => Date.parse(s.at);
    redraw(
      charts,
      lineChart(
        'Running tasks',
        metrics.samples.map((s) => [t(s), s.runningTasks]),
      ),
      lineChart(
        'CPU',
        metrics.samples.map((s) => [t(s), s.cpuPercent ?? 0]),
        '%',
      ),
      lineChart(
        'Memory (RSS)',
        metrics.samples.map((s) => [t(s), Math.round((s.rssBytes ?? 0) / 1048576)]),
        ' MiB',
      ),
    );
    redraw(
      timeline,
      h(
        'ol',
        { class: 'timeline' },
        ...events.events
          .slice(-50)
          .reverse()
          .map((e) =>
            h(
              'li',
              {},
              h('time', { datetime: e.at }, `${since(e.at)} ago`),
              ' ',
              e.from ? `${e.from} → ` : '',
              badge(e.to),
              ` ${e.reason}`,
            ),
          ),
      ),
    );
  }

  // The task list has no agent filter: the latest 100 tasks (payloads and all) are read, every 15 s only.
  async function loadTasks(): Promise<void> {
    const recent = await get<{
      tasks: Array<{ id: string; type: string; status: string; agentId?: string; updatedAt: string }>;
    }>('/tasks', { limit: '100' });
    const mine = recent.tasks.filter((task) => task.agentId === id).slice(0, 20);
    redraw(
      tasks,
      mine.length === 0
        ? h('p', { class: 'muted' }, 'none among the latest 100 tasks')
        : table(
            ['Task', 'Type', 'Status', 'Updated'],
            mine.map((x) => [
              h('a', { href: `#/tasks/${enc(x.id)}` }, x.id),
              x.type,
              badge(x.status),
              `${since(x.updatedAt)} ago`,
            ]),
            'Latest tasks it ran',
          ),
    );
  }
  every(ctx, 3000, load);
  every(ctx, 15_000, loadTasks);
}
