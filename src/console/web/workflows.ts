/**
 * The Workflows page (a paged list with a state filter) and a workflow's page: its graph (workflowGraph.ts),
 * the chosen step's details, approve/reject for a step waiting for a person, cancel, and the event log. The page
 * reads the workflow every 2 s until it ends: one request for every step, and one for the events since the
 * last shown.
 *
 * Who sees the buttons: admin keys and submitter keys. Whether a submitter may act on this workflow (its own)
 * or this step (`approval.role: admin`) is the API's to say; its refusal is shown as an error.
 */
import { ApiError, get, post, session, whoami } from './api.js';
import { badge, count, h, json, redraw, replace, since, table } from './dom.js';
import { actionButton, errorText, every, filterForm, Newest, Pager, type Ctx } from './page.js';
import { gatesOf, kindText, roundText, workflowGraph, type StepView, type WorkflowGraph } from './workflowGraph.js';

const STATES = ['running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'];
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const POLL_MS = 2000;
const EVENTS_PAGE = 500;
const enc = encodeURIComponent;

interface WorkflowSummary {
  id: string;
  name: string | null;
  state: string;
  stepCount: number;
  submittedBy: string | null;
  error: { kind: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

interface Workflow extends WorkflowSummary {
  steps: StepView[];
}

interface WorkflowEvent {
  seq: number;
  at: string;
  kind: string;
  step: string | null;
  round: number | null;
  data: unknown;
}

/** The role of the signed-in key, asked once per key (the navigation bar asked too, but keeps only "admin"). */
let known: { key: string | null; role: Promise<string> } | null = null;
function role(): Promise<string> {
  const key = session.key();
  if (known?.key !== key) known = { key, role: whoami().then((me) => me.role) };
  return known.role;
}

/** Ctx for the buttons: shown to admin and submitter keys (a submitter may act on its own workflows). */
async function actingCtx(ctx: Ctx): Promise<Ctx> {
  const r = await role().catch(() => 'reader');
  return { ...ctx, admin: r === 'admin' || r === 'submitter' };
}

/** The page's error text, saying what a refusal means here (errorText reads a 404 as a missing route). */
function refusal(err: unknown): Error {
  if (!(err instanceof ApiError)) return err instanceof Error ? err : new Error(String(err));
  const why: Record<number, string> = {
    403: 'this key may not do that',
    404: 'not found, or not a workflow of this key',
    409: 'the workflow changed meanwhile: it no longer applies',
  };
  return new Error(`${err.status}: ${why[err.status] ? `${why[err.status]} (${err.detail})` : err.detail}`);
}

export function workflowsPage(ctx: Ctx): void {
  const pager = new Pager();
  let filters: Record<string, string> = {};
  const body = h('div', { id: 'workflows-table' });
  const form = filterForm([{ name: 'state', label: 'State', options: STATES }], (values) => {
    filters = values;
    pager.reset();
    void load().catch((err) => ctx.announce(errorText(err), true));
  });
  replace(ctx.main, h('h1', {}, 'Workflows'), form, body);

  const newest = new Newest();
  async function load(): Promise<void> {
    const current = newest.begin();
    const page = await get<{ workflows: WorkflowSummary[]; nextCursor?: string }>('/workflows', {
      ...filters,
      limit: '50',
      cursor: pager.cursor,
    });
    if (!current()) return;
    pager.next = page.nextCursor;
    redraw(
      body,
      table(
        ['Workflow', 'Name', 'State', 'Steps', 'Submitted by', 'Created', 'Updated'],
        page.workflows.map((w) => [
          h('a', { href: `#/workflows/${enc(w.id)}` }, w.id),
          w.name ?? '—',
          badge(w.state),
          w.stepCount,
          w.submittedBy ?? '—',
          `${since(w.createdAt)} ago`,
          `${since(w.updatedAt)} ago`,
        ]),
        `${count(page.workflows.length, 'workflow')} on this page, newest first`,
      ),
      pager.controls(() => void load().catch((err) => ctx.announce(errorText(err), true))),
    );
  }
  every(ctx, 3000, load);
}

function facts(w: Workflow): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'State'),
    h('dd', { id: 'workflow-state' }, badge(w.state)),
    h('dt', {}, 'Name'),
    h('dd', {}, w.name ?? '—'),
    h('dt', {}, 'Steps'),
    h('dd', {}, w.steps.length),
    h('dt', {}, 'Submitted by'),
    h('dd', {}, w.submittedBy ?? '—'),
    h('dt', {}, 'Created'),
    h('dd', {}, `${w.createdAt} (${since(w.createdAt)} ago)`),
    h('dt', {}, 'Finished'),
    h('dd', {}, w.finishedAt ?? '—'),
    w.error ? h('dt', {}, 'Error') : null,
    w.error ? h('dd', { class: 'error' }, `${w.error.kind}: ${w.error.message}`) : null,
  );
}

/** The chosen step: its facts, its task per round (links), result or error, feedback, and the decision buttons. */
function stepDetails(
  acting: Ctx,
  w: Workflow,
  s: StepView,
  comment: HTMLTextAreaElement,
  after: () => unknown,
): Array<HTMLElement | null> {
  const gate = gatesOf(w.steps).get(s.id);
  const rows: Array<[string, Node | string]> = [
    ['Kind', kindText(s)],
    ['State', badge(s.state)],
    ['Round', roundText(s, gatesOf(w.steps))],
    ['Needs', s.needs.join(', ') || '—'],
  ];
  if (s.validates !== undefined) rows.push(['Validates', `${s.validates} (at most ${s.maxRounds ?? '?'} rounds)`]);
  if (gate) rows.push(['Validated by', gate.id]);
  if (s.approval) rows.push(['Who decides', s.approval.role === 'admin' ? 'an admin' : 'an admin or the submitter']);
  if (s.approval?.note) rows.push(['Note', s.approval.note]);
  if (s.onFailure === 'continue') rows.push(['On failure', 'its dependents run and see the failure']);
  const tasks =
    s.taskIds.length === 0
      ? h('p', { class: 'muted' }, s.kind === 'approval' ? 'a person’s step: no task' : 'no task yet')
      : h(
          'ol',
          { class: 'plain' },
          ...s.taskIds.map((id, i) => h('li', {}, `round ${i + 1}: `, h('a', { href: `#/tasks/${enc(id)}` }, id))),
        );
  const decide = (kind: 'approve' | 'reject') => {
    const said = () => (comment.value.trim() ? ` with the comment “${comment.value.trim()}”` : ' without a comment');
    const what = () =>
      kind === 'approve'
        ? `Approve step ${s.id} of workflow ${w.id}${said()}: the steps after it are released.`
        : `Reject step ${s.id} of workflow ${w.id}${said()}: the step fails (and with it the workflow, unless the step continues on failure).`;
    return actionButton(
      acting,
      `${kind === 'approve' ? 'Approve' : 'Reject'} step ${s.id}`,
      what,
      async () => {
        const text = comment.value.trim();
        try {
          await post(`/workflows/${enc(w.id)}/steps/${enc(s.id)}/${kind}`, text ? { comment: text } : {});
        } catch (err) {
          throw refusal(err);
        }
        comment.value = '';
        return `Step ${s.id} ${kind === 'approve' ? 'approved' : 'rejected'}`;
      },
      after,
      kind === 'approve' ? 'Approve' : 'Reject',
    );
  };
  const approve = s.state === 'waiting_approval' ? decide('approve') : null;
  const reject = s.state === 'waiting_approval' ? decide('reject') : null;
  return [
    h('h2', { id: 'step-title' }, `Step ${s.id}`),
    h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    approve && reject
      ? h(
          'div',
          { class: 'wf-decision' },
          h('label', { for: 'decision-comment' }, 'Comment (optional, kept in the audit log and the event)'),
          comment,
          h('p', { class: 'buttons' }, approve, reject),
        )
      : null,
    h('h3', {}, 'Tasks'),
    tasks,
    h('h3', {}, s.error ? 'Error' : 'Result'),
    s.error
      ? h('p', { class: 'error' }, `${s.error.kind}: ${s.error.message}`)
      : s.result === null || s.result === undefined
        ? h('p', { class: 'muted' }, 'none yet')
        : json(s.result),
    h('h3', {}, 'Feedback'),
    s.feedback === null || s.feedback === undefined
      ? h('p', { class: 'muted' }, 'none (only a gate’s rejection gives feedback)')
      : json(s.feedback),
  ];
}

function eventLine(e: WorkflowEvent): HTMLLIElement {
  const data = e.data === null || e.data === undefined ? '' : JSON.stringify(e.data);
  return h(
    'li',
    {},
    h('time', { datetime: e.at }, e.at),
    ` ${e.kind}`,
    e.step ? ` ${e.step}` : '',
    e.round ? ` (round ${e.round})` : '',
    data && data !== '{}'
      ? h('span', { class: 'muted' }, ` ${data.length > 160 ? `${data.slice(0, 159)}…` : data}`)
      : '',
  );
}

export function workflowPage(ctx: Ctx, id: string): void {
  const head = h('div', { id: 'workflow-head' });
  const graphBox = h('div', { id: 'workflow-graph' }, h('p', { class: 'muted' }, 'loading…'));
  const details = h(
    'section',
    { id: 'step-details', class: 'wf-details', 'aria-labelledby': 'step-title' },
    h('h2', { id: 'step-title' }, 'Step details'),
    h('p', { class: 'muted' }, 'Choose a step in the graph (click it, or Tab to it and press Enter).'),
  );
  const timeline = h('ol', { class: 'timeline', id: 'workflow-timeline' });
  replace(
    ctx.main,
    h('h1', {}, `Workflow ${id}`),
    head,
    h('h2', {}, 'Graph'),
    h(
      'p',
      { class: 'muted wf-legend' },
      'Arrows: a step needs the one before. Dashed: a gate validates the step it points back to.',
    ),
    graphBox,
    details,
    h('h2', {}, 'Events'),
    timeline,
  );

  let graph: WorkflowGraph | null = null;
  let selected: string | null = null;
  let latest: Workflow | null = null;
  let shownHead = '';
  let shownStep = '';
  let lastSeq = 0;
  const comments = new Map<string, HTMLTextAreaElement>();
  const commentFor = (step: string) => {
    let el = comments.get(step);
    if (!el) {
      el = h('textarea', { id: 'decision-comment', rows: 2, maxlength: 2000 });
      comments.set(step, el);
    }
    return el;
  };
  let acting: Ctx = { ...ctx, admin: false };

  // Redrawn only when what they show changed: a comment being typed or a focused button stays put.
  const drawHead = (w: Workflow) => {
    const key = JSON.stringify([w.state, w.error, w.finishedAt, acting.admin]);
    if (key === shownHead) return;
    shownHead = key;
    const cancel = TERMINAL.has(w.state)
      ? null
      : actionButton(
          acting,
          `Cancel workflow ${w.id}`,
          `Cancel workflow ${w.id}${w.name ? ` (${w.name})` : ''}: its pending steps are cancelled and its running tasks asked to stop.`,
          async () => {
            try {
              await post(`/workflows/${enc(w.id)}/cancel`);
            } catch (err) {
              throw refusal(err);
            }
            return `Workflow ${w.id} cancelled`;
          },
          () => refresh(),
          'Cancel workflow',
        );
    redraw(head, facts(w), cancel ? h('p', { class: 'buttons' }, cancel) : null);
  };
  const drawStep = () => {
    const s = latest?.steps.find((x) => x.id === selected);
    if (!latest || !s) return;
    const key = JSON.stringify([s, acting.admin]);
    if (key === shownStep) return;
    shownStep = key;
    redraw(details, ...stepDetails(acting, latest, s, commentFor(s.id), () => refresh()));
  };
  const choose = (step: string) => {
    selected = step;
    shownStep = '';
    graph?.select(step);
    drawStep();
  };

  const newest = new Newest();
  let finished = false;
  async function load(): Promise<void> {
    const current = newest.begin();
    const w = await get<Workflow>(`/workflows/${enc(id)}`);
    if (!current() || ctx.signal.aborted) return;
    latest = w;
    if (!graph) {
      graph = workflowGraph(w.name ?? w.id, w.steps, choose);
      replace(graphBox, graph.element);
    }
    graph.update(w.steps);
    // Until a step is chosen, a step waiting for a person is shown: it is what someone here most likely wants.
    const waiting = selected === null ? w.steps.find((s) => s.state === 'waiting_approval') : undefined;
    if (waiting) choose(waiting.id);
    drawHead(w);
    drawStep();
    for (;;) {
      const page = await get<{ events: WorkflowEvent[] }>(`/workflows/${enc(id)}/events`, {
        after: String(lastSeq),
        limit: String(EVENTS_PAGE),
      });
      for (const e of page.events) {
        if (e.seq <= lastSeq) continue;
        lastSeq = e.seq;
        timeline.append(eventLine(e));
      }
      if (page.events.length < EVENTS_PAGE || ctx.signal.aborted) break;
    }
    finished = TERMINAL.has(w.state);
  }
  function refresh(): Promise<void> {
    return load().catch((err) => ctx.announce(errorText(refusal(err)), true));
  }

  // Polled, not streamed: one read answers every step, and the poll stops when the workflow has ended.
  let timer: number | undefined;
  const poll = async () => {
    try {
      await load();
    } catch (err) {
      if (ctx.signal.aborted) return;
      ctx.announce(errorText(refusal(err)), true);
      if (err instanceof ApiError && err.status === 404) return; // not this key's, or gone: nothing to follow
    }
    if (!ctx.signal.aborted && !finished) timer = window.setTimeout(() => void poll(), POLL_MS);
  };
  ctx.signal.addEventListener('abort', () => window.clearTimeout(timer));
  void actingCtx(ctx).then((c) => {
    acting = c;
    void poll();
  });
}
