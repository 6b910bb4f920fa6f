/**
 * The console: a sign-in form, a navigation bar and one page at a time, chosen by the URL's hash (#/fleet,
 * #/agents/<id>, #/tasks, #/tasks/<id>, #/pools, #/routes, #/schedules, #/workflows, #/workflows/<id>). Leaving a page aborts its streams and
 * timers.
 */
import { ApiError, openQueueSession, session, whoami, type WhoAmI } from './api.js';
import { h, replace } from './dom.js';
import { agentPage, fleetPage } from './fleet.js';
import { errorText, type Ctx } from './page.js';
import { poolsPage, routesPage, schedulesPage } from './others.js';
import { taskPage, tasksPage } from './tasks.js';
import { workflowPage, workflowsPage } from './workflows.js';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const status = document.getElementById('status') as HTMLElement;

function announce(message: string, error = false): void {
  status.textContent = message;
  status.className = error ? 'error' : '';
}

function signInForm(message = ''): void {
  nav.hidden = true;
  const input = h('input', { id: 'api-key', name: 'key', type: 'password', autocomplete: 'off', required: true });
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to taskfleet'),
    h('p', {}, 'The key is kept in this browser tab only and sent with each API call.'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    session.signIn(input.value.trim());
    void start();
  });
  replace(main, form);
  input.focus();
}

let admin = false;
let current: AbortController | null = null;

function route(): void {
  current?.abort();
  current = new AbortController();
  const ctx: Ctx = { admin, main, signal: current.signal, announce };
  const [, page = 'fleet', id] = location.hash.replace(/^#/, '').split('/');
  const param = id === undefined ? undefined : decodeURIComponent(id);
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${page}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  announce('');
  if (page === 'agents' && param) agentPage(ctx, param);
  else if (page === 'tasks' && param) taskPage(ctx, param);
  else if (page === 'tasks') tasksPage(ctx);
  else if (page === 'pools') poolsPage(ctx);
  else if (page === 'routes') routesPage(ctx);
  else if (page === 'schedules') schedulesPage(ctx);
  else if (page === 'workflows' && param) workflowPage(ctx, param);
  else if (page === 'workflows') workflowsPage(ctx);
  else fleetPage(ctx);
  main.focus();
}

async function start(): Promise<void> {
  if (!session.key()) return signInForm();
  let me: WhoAmI;
  try {
    me = await whoami();
  } catch (err) {
    session.signOut();
    return signInForm(err instanceof ApiError && err.status === 401 ? 'That key was not accepted.' : errorText(err));
  }
  if (me.role === 'agent') {
    session.signOut();
    return signInForm('An agent key reaches the agent protocol only: sign in with a reader or admin key.');
  }
  // Buttons follow the role the supervisor names; the API still refuses a forged call (403).
  admin = me.role === 'admin';
  nav.hidden = false;
  const acts = admin ? 'admin' : me.role === 'submitter' ? 'submitter' : 'read only';
  document.getElementById('role')!.textContent = `${me.name} (${acts})`;
  document.getElementById('queues-link')!.hidden = !admin;
  route();
}

window.addEventListener('hashchange', route);
document.getElementById('sign-out')!.addEventListener('click', () => {
  current?.abort();
  session.signOut();
  signInForm();
});
document.getElementById('queues-link')!.addEventListener('click', (e) => {
  e.preventDefault();
  openQueueSession().then(
    () => location.assign('/admin/queues'),
    (err: unknown) => announce(`The queue view could not be opened: ${errorText(err)}`, true),
  );
});
void start();
