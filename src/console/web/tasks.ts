/** The Tasks page (filters, paging, live from the fleet event stream) and a task's page (live from its own). */
import { follow, get, post } from './api.js';
import { badge, h, json, redraw, replace, since, table, count } from './dom.js';
import { actionButton, errorText, every, filterForm, Newest, Pager, type Ctx } from './page.js';

const STATUSES = ['queued', 'running', 'succeeded', 'dead', 'cancelled', 'expired'];
const TERMINAL = new Set(['succeeded', 'dead', 'cancelled', 'expired']);
const enc = encodeURIComponent;

interface Task {
  id: string;
  type: string;
  status: string;
  attempt: number;
  maxAttempts: number;
  requiredCapabilities: string[];
  payload: unknown;
  result?: unknown;
  error?: unknown;
  agentId?: string;
  progress: unknown;
  createdAt: string;
  updatedAt: string;
}

function taskActions(ctx: Ctx, t: Task, after: () => unknown): Array<HTMLButtonElement | null> {
  const out: Array<HTMLButtonElement | null> = [];
  if (t.status === 'queued' || t.status === 'running') {
    out.push(
      actionButton(
        ctx,
        `Cancel ${t.id}`,
        `Cancel task ${t.id} (${t.type}).`,
        () => post(`/tasks/${enc(t.id)}/cancel`),
        after,
        'Cancel',
      ),
    );
  }
  if (t.status === 'dead' || t.status === 'cancelled' || t.status === 'expired') {
    out.push(
      actionButton(
        ctx,
        `Retry ${t.id}`,
        `Retry task ${t.id} (${t.type}): it is queued again for a new attempt.`,
        () => post(`/tasks/${enc(t.id)}/retry`),
        after,
        'Retry',
      ),
    );
  }
  return out;
}

/**
 * Redraws at most once a second while `follow` delivers events; polls instead when the stream is refused
 * (a submitter key may not read the fleet stream) or ends.
 */
function liveRefresh(ctx: Ctx, path: string, reload: () => Promise<void>): void {
  let pending = false;
  const onEvent = () => {
    if (pending) return;
    pending = true;
    window.setTimeout(() => {
      pending = false;
      if (!ctx.signal.aborted) void reload();
    }, 1000);
  };
  follow(path, onEvent, ctx.signal)
    .catch(() => undefined)
    .finally(() => {
      if (!ctx.signal.aborted) every(ctx, 3000, reload);
    });
}

export function tasksPage(ctx: Ctx): void {
  const pager = new Pager();
  let filters: Record<string, string> = {};
  const body = h('div', { id: 'tasks-table' });
  const form = filterForm(
    [
      { name: 'status', label: 'Status', options: STATUSES },
      { name: 'type', label: 'Type' },
      { name: 'capability', label: 'Capability' },
    ],
    (values) => {
      filters = values;
      pager.reset();
      void load();
    },
  );
  const bulk = bulkRetry(ctx, () => filters);
  replace(ctx.main, h('h1', {}, 'Tasks'), form, bulk ? h('p', {}, bulk) : null, body);

  const newest = new Newest();
  async function load(): Promise<void> {
    const current = newest.begin();
    const page = await get<{ tasks: Task[]; nextCursor?: string }>('/tasks', {
      ...filters,
      limit: '50',
      cursor: pager.cursor,
    });
    if (!current()) return;
    pager.next = page.nextCursor;
    const list = table(
      ['Task', 'Type', 'Status', 'Attempt', 'Agent', 'Updated', ctx.admin ? 'Actions' : ''],
      page.tasks.map((t) => [
        h('a', { href: `#/tasks/${enc(t.id)}` }, t.id),
        t.type,
        badge(t.status),
        `${t.attempt} / ${t.maxAttempts}`,
        t.agentId ?? '—',
        `${since(t.updatedAt)} ago`,
        h('span', { class: 'buttons' }, ...taskActions(ctx, t, load)),
      ]),
      `${count(page.tasks.length, 'task')} on this page (live)`,
    );
    redraw(body, ...pager.around(() => void load(), page.tasks.length, list));
  }
  void load().catch((err) => ctx.announce(errorText(err), true));
  liveRefresh(ctx, '/events?follow=true', load);
}

/** The bulk retry button, whose confirmation names the filter in force when it is pressed. */
function bulkRetry(ctx: Ctx, filters: () => Record<string, string>): HTMLButtonElement | null {
  const chosen = () => {
    const f = filters();
    return { ...(f.type ? { type: f.type } : {}), ...(f.capability ? { capability: f.capability } : {}) };
  };
  const describe = () => {
    const parts = Object.entries(chosen()).map(([k, v]) => `${k} ${v}`);
    return `Retry every dead task${parts.length ? ` with ${parts.join(' and ')}` : ''} (up to the bulk limit).`;
  };
  const run = async () => {
    const answer = await post<{ matched: number; retried: number }>('/tasks/retry', {
      filter: { status: 'dead', ...chosen() },
    });
    return `Retried ${answer.retried} of ${answer.matched} dead tasks`;
  };
  return actionButton(ctx, 'Retry dead tasks matching the filter', describe, run, () => undefined);
}

export function taskPage(ctx: Ctx, id: string): void {
  const head = h('div', {});
  const detail = h('div', { class: 'columns' });
  const logs = h('div', {});
  const timeline = h('ol', { class: 'timeline', id: 'task-timeline' });
  replace(
    ctx.main,
    h('h1', {}, `Task ${id}`),
    head,
    detail,
    h('h2', {}, 'Logs'),
    logs,
    h('h2', {}, 'Events'),
    timeline,
  );
  let shownAttempt: number | null = null;
  let onTask: (t: Task) => void = () => undefined;

  async function load(): Promise<void> {
    const t = await get<Task>(`/tasks/${enc(id)}`);
    onTask(t);
    redraw(
      head,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Status'),
        h('dd', { id: 'task-status' }, badge(t.status)),
        h('dt', {}, 'Type'),
        h('dd', {}, t.type),
        h('dt', {}, 'Attempt'),
        h('dd', {}, `${t.attempt} / ${t.maxAttempts}`),
        h('dt', {}, 'Agent'),
        h('dd', {}, t.agentId ? h('a', { href: `#/agents/${enc(t.agentId)}` }, t.agentId) : '—'),
        h('dt', {}, 'Capabilities'),
        h('dd', {}, t.requiredCapabilities.join(', ') || '—'),
      ),
      h('p', { class: 'buttons' }, ...taskActions(ctx, t, load)),
    );
    redraw(
      detail,
      h('section', {}, h('h2', {}, 'Payload'), json(t.payload)),
      h('section', {}, h('h2', {}, t.error ? 'Error' : 'Result'), json(t.error ?? t.result)),
      h('section', {}, h('h2', {}, 'Progress'), json(t.progress)),
    );
    await loadLogs(t.attempt);
  }

  async function loadLogs(latest: number): Promise<void> {
    const attempt = shownAttempt ?? latest;
    const answer = await get<{ lines: Array<{ at: string; level: string; message: string }> }>(
      `/tasks/${enc(id)}/logs`,
      {
        attempt: String(attempt),
      },
    );
    const pick = h(
      'select',
      { id: 'log-attempt' },
      ...Array.from({ length: Math.max(1, latest) }, (_, i) =>
        h('option', { value: String(i + 1), selected: i + 1 === attempt }, `attempt ${i + 1}`),
      ),
    );
    pick.addEventListener('change', () => {
      shownAttempt = Number(pick.value);
      void loadLogs(latest);
    });
    redraw(
      logs,
      h('label', { for: 'log-attempt' }, 'Logs of '),
      pick,
      answer.lines.length === 0
        ? h('p', { class: 'muted' }, 'no log lines')
        : h('pre', { class: 'logs' }, answer.lines.map((l) => `${l.at} ${l.level.padEnd(5)} ${l.message}`).join('\n')),
    );
  }

  // The task's stream ends with its terminal event; a retry (here or elsewhere) starts it again, resumed after
  // the last event shown (Last-Event-ID). While no stream runs, the page is read every 5 s to notice a change.
  let lastSeq: number | undefined;
  let streaming = false;
  const onEvent = (e: { event: string; data: unknown }) => {
    const ev = e.data as { kind?: string; at?: string; attempt?: number; agentId?: string; seq?: number };
    if (ev.kind === undefined) return; // progress updates carry no kind: the reload shows them
    if (ev.seq !== undefined) lastSeq = ev.seq;
    timeline.append(
      h(
        'li',
        {},
        h('time', { datetime: ev.at ?? '' }, ev.at ?? ''),
        ` ${ev.kind}`,
        ev.attempt ? ` (attempt ${ev.attempt})` : '',
        ev.agentId ? ` on ${ev.agentId}` : '',
      ),
    );
  };
  let pending = false;
  const refresh = () => {
    if (pending) return;
    pending = true;
    window.setTimeout(() => {
      pending = false;
      if (!ctx.signal.aborted) void load().catch((err) => ctx.announce(errorText(err), true));
    }, 300);
  };
  const startFollowing = () => {
    if (streaming || ctx.signal.aborted) return;
    streaming = true;
    follow(`/tasks/${enc(id)}/events?follow=true`, (e) => (onEvent(e), refresh()), ctx.signal, lastSeq)
      .then(refresh, (err: unknown) => {
        if (!ctx.signal.aborted) ctx.announce(`live updates stopped: ${errorText(err)}`, true);
      })
      .finally(() => (streaming = false));
  };
  // A task that changed since the page last looked while no stream ran (retried, perhaps already finished again)
  // has events the timeline lacks: a stream resumed after the last one shown brings them, and ends at once if
  // the task is terminal.
  let seenUpdatedAt: string | null = null;
  onTask = (t) => {
    const changed = t.updatedAt !== seenUpdatedAt;
    seenUpdatedAt = t.updatedAt;
    if (!streaming && (changed || !TERMINAL.has(t.status))) startFollowing();
  };
  void load().catch((err) => ctx.announce(errorText(err), true));
  startFollowing();
  every(ctx, 5000, async () => {
    if (!streaming) await load();
  });
}
