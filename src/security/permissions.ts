/**
 * Who may do what: ONE table of (method, path pattern) → roles, applied to every /v1 request by one
 * `authorize` middleware, after authentication and before any route.
 *
 * It fails closed: a /v1 request that matches no row is answered 404 here, and never reaches a router, so a
 * route added without a row in this table cannot be called at all. Patterns match the way express routes
 * (case-insensitive, an optional trailing slash, `:param` = one non-empty path segment).
 *
 * Ownership is the second question, and its answer is written here once (`taskOwner`, `maySeeTask`): a
 * submitter reaches only the tasks its own key submitted, and another key's task answers exactly as a task that
 * does not exist (404), so its existence is not revealed; `reader` and `admin` reach every task, as operators.
 * The rows marked `scope: 'own-tasks'` are the routes it applies to. The middleware cannot apply it (it would
 * need the task): TaskService does, on every read and action of a task, and filters a submitter's list in the
 * store query, so pages and counts hold only its own tasks.
 */
import type { RequestHandler } from 'express';
import { TaskfleetError } from '../domain/errors';
import { mayActAs, ROLES, type Actor, type Role } from '../domain/security';
import type { TaskRecord } from '../domain/task';
import { actorOf } from './actor';
import { ForbiddenError } from './errors';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Permission {
  method: Method;
  /** Full path under /v1, with `:name` for one path segment. */
  path: string;
  roles: readonly Role[];
  /** What the row allows, for the 403 message. */
  what: string;
  /**
   * `own-tasks`: a submitter reaches only the tasks its key submitted (see `maySeeTask`). `as-agent`: an agent
   * key acts only as the agents its binding names; the `:id` of the path is the agent (checked here).
   */
  scope?: 'own-tasks' | 'as-agent';
}

/** Every role but `agent`: an agent key reaches the agent protocol and nothing else. */
const ALL: readonly Role[] = ROLES.filter((r) => r !== 'agent');
const SUBMIT: readonly Role[] = ['submitter', 'admin'];
const ADMIN: readonly Role[] = ['admin'];
const AGENT: readonly Role[] = ['agent'];
const OWN = 'own-tasks' as const;
const AS_AGENT = 'as-agent' as const;

export const PERMISSIONS: readonly Permission[] = [
  // tasks
  { method: 'GET', path: '/v1/tasks', roles: ALL, what: 'list tasks', scope: OWN },
  // An idempotent replay answers only the submitting key's own task: keys are scoped to it (TaskService).
  { method: 'POST', path: '/v1/tasks', roles: SUBMIT, what: 'submit tasks', scope: OWN },
  { method: 'POST', path: '/v1/tasks/batch', roles: SUBMIT, what: 'submit tasks', scope: OWN },
  { method: 'GET', path: '/v1/tasks/:id', roles: ALL, what: 'read a task', scope: OWN },
  { method: 'GET', path: '/v1/tasks/:id/events', roles: ALL, what: "read a task's events", scope: OWN },
  { method: 'GET', path: '/v1/tasks/:id/logs', roles: ALL, what: "read a task's logs", scope: OWN },
  { method: 'POST', path: '/v1/tasks/:id/cancel', roles: SUBMIT, what: 'cancel tasks', scope: OWN },
  { method: 'POST', path: '/v1/tasks/:id/retry', roles: SUBMIT, what: 'retry tasks', scope: OWN },
  // Bulk: an admin's reach is every task; RetryService applies the ownership rule all the same.
  { method: 'POST', path: '/v1/tasks/retry', roles: ADMIN, what: 'retry tasks in bulk', scope: OWN },
  { method: 'POST', path: '/v1/tasks/cancel', roles: ADMIN, what: 'cancel tasks in bulk', scope: OWN },
  // workflows: a submitter's own (WorkflowService applies the ownership rule of tasks)
  { method: 'POST', path: '/v1/workflows', roles: SUBMIT, what: 'submit workflows', scope: OWN },
  { method: 'GET', path: '/v1/workflows', roles: ALL, what: 'list workflows', scope: OWN },
  { method: 'GET', path: '/v1/workflows/:id', roles: ALL, what: 'read a workflow', scope: OWN },
  { method: 'GET', path: '/v1/workflows/:id/events', roles: ALL, what: "read a workflow's events", scope: OWN },
  { method: 'POST', path: '/v1/workflows/:id/cancel', roles: SUBMIT, what: 'cancel workflows', scope: OWN },
  {
    method: 'POST',
    path: '/v1/workflows/:id/steps/:step/approve',
    roles: SUBMIT,
    what: 'approve workflow steps',
    scope: OWN,
  },
  {
    method: 'POST',
    path: '/v1/workflows/:id/steps/:step/reject',
    roles: SUBMIT,
    what: 'reject workflow steps',
    scope: OWN,
  },
  // agents
  { method: 'GET', path: '/v1/agents', roles: ALL, what: 'list agents' },
  { method: 'GET', path: '/v1/agents/:id', roles: ALL, what: 'read an agent' },
  { method: 'GET', path: '/v1/agents/:id/events', roles: ALL, what: "read an agent's events" },
  { method: 'GET', path: '/v1/agents/:id/performance', roles: ALL, what: "read an agent's performance" },
  { method: 'GET', path: '/v1/agents/:id/metrics', roles: ALL, what: "read an agent's metrics history" },
  { method: 'POST', path: '/v1/agents/:id/drain', roles: ADMIN, what: 'drain agents' },
  { method: 'POST', path: '/v1/agents/:id/suspend', roles: ADMIN, what: 'suspend agents' },
  { method: 'POST', path: '/v1/agents/:id/resume', roles: ADMIN, what: 'resume agents' },
  { method: 'POST', path: '/v1/agents/:id/unfreeze', roles: ADMIN, what: 'unfreeze agents' },
  { method: 'PATCH', path: '/v1/agents/:id', roles: ADMIN, what: "change agents' settings" },
  { method: 'DELETE', path: '/v1/agents/:id', roles: ADMIN, what: 'remove agents' },
  // the HTTP agent protocol: agent keys only, each as the agents it is bound to. A task write names its agent
  // in the body, which the gateway checks against the binding (the path holds the task).
  { method: 'POST', path: '/v1/agents/:id/register', roles: AGENT, what: 'register as an agent', scope: AS_AGENT },
  { method: 'POST', path: '/v1/agents/:id/heartbeat', roles: AGENT, what: 'heartbeat as an agent', scope: AS_AGENT },
  { method: 'POST', path: '/v1/agents/:id/claim', roles: AGENT, what: 'claim tasks as an agent', scope: AS_AGENT },
  { method: 'POST', path: '/v1/agents/:id/stop', roles: AGENT, what: 'stop as an agent', scope: AS_AGENT },
  { method: 'POST', path: '/v1/tasks/:id/lease', roles: AGENT, what: 'renew a lease' },
  { method: 'POST', path: '/v1/tasks/:id/complete', roles: AGENT, what: 'report a result' },
  { method: 'POST', path: '/v1/tasks/:id/fail', roles: AGENT, what: 'report a failure' },
  { method: 'POST', path: '/v1/tasks/:id/release', roles: AGENT, what: 'hand a task back' },
  { method: 'POST', path: '/v1/tasks/:id/progress', roles: AGENT, what: "report a task's progress" },
  { method: 'POST', path: '/v1/tasks/:id/logs', roles: AGENT, what: "write a task's log" },
  // fleet
  { method: 'GET', path: '/v1/stats', roles: ALL, what: 'read stats' },
  { method: 'GET', path: '/v1/routes', roles: ALL, what: 'list routes' },
  { method: 'GET', path: '/v1/routes/:route', roles: ALL, what: 'read a route' },
  { method: 'GET', path: '/v1/routes/:route/events', roles: ALL, what: "read a route's events" },
  { method: 'POST', path: '/v1/routes/:route/pause', roles: ADMIN, what: 'pause routes' },
  { method: 'POST', path: '/v1/routes/:route/resume', roles: ADMIN, what: 'resume routes' },
  { method: 'PATCH', path: '/v1/routes/:route', roles: ADMIN, what: 'set route limits' },
  { method: 'GET', path: '/v1/circuit-breakers', roles: ALL, what: 'list circuit breakers' },
  { method: 'PUT', path: '/v1/circuit-breakers/:type', roles: ADMIN, what: 'set circuit breakers' },
  { method: 'DELETE', path: '/v1/circuit-breakers/:type', roles: ADMIN, what: 'remove circuit breakers' },
  // Every task's events: operators only (a submitter follows its own tasks' streams).
  { method: 'GET', path: '/v1/events', roles: ['admin', 'reader'], what: 'read the fleet event stream' },
  { method: 'GET', path: '/v1/scaling/pool', roles: ALL, what: "read a worker pool's backlog" },
  { method: 'GET', path: '/v1/audit', roles: ADMIN, what: 'read the audit log' },
  // Every role, agent keys too: only the caller's own key, which it already holds.
  { method: 'GET', path: '/v1/whoami', roles: ROLES, what: 'read its own key' },
  // pools (not owner-scoped: a pool holds no one's tasks)
  { method: 'GET', path: '/v1/pools', roles: ALL, what: 'list pools' },
  { method: 'POST', path: '/v1/pools', roles: ADMIN, what: 'declare pools' },
  { method: 'DELETE', path: '/v1/pools/:key', roles: ADMIN, what: 'remove declared pools' },
  // schedules (not owner-scoped: an admin's, fired as the admin key that created them)
  { method: 'POST', path: '/v1/schedules', roles: ADMIN, what: 'create schedules' },
  { method: 'GET', path: '/v1/schedules', roles: ALL, what: 'list schedules' },
  { method: 'GET', path: '/v1/schedules/:name', roles: ALL, what: 'read a schedule' },
  { method: 'GET', path: '/v1/schedules/:name/runs', roles: ALL, what: "read a schedule's runs" },
  { method: 'POST', path: '/v1/schedules/:name/pause', roles: ADMIN, what: 'pause schedules' },
  { method: 'POST', path: '/v1/schedules/:name/resume', roles: ADMIN, what: 'resume schedules' },
  { method: 'DELETE', path: '/v1/schedules/:name', roles: ADMIN, what: 'delete schedules' },
  // webhooks: each key's own subscriptions (an admin's: every key's); readers hold none
  { method: 'POST', path: '/v1/webhooks', roles: SUBMIT, what: 'subscribe to webhooks' },
  { method: 'GET', path: '/v1/webhooks', roles: SUBMIT, what: 'list webhooks' },
  { method: 'POST', path: '/v1/webhooks/secret', roles: SUBMIT, what: "rotate the key's callback secret" },
  { method: 'GET', path: '/v1/webhooks/:id', roles: SUBMIT, what: 'read a webhook' },
  { method: 'DELETE', path: '/v1/webhooks/:id', roles: SUBMIT, what: 'delete webhooks' },
  { method: 'GET', path: '/v1/webhooks/:id/deliveries', roles: SUBMIT, what: "read a webhook's deliveries" },
];

/** The roles that reach every task. Any other role (a role added later, too) reaches only its own. */
const OPERATORS: readonly Role[] = ['admin', 'reader'];

/** Whose tasks an actor may reach: null for every task (an operator), else the key id its tasks carry. */
export function taskOwner(actor: Pick<Actor, 'role' | 'keyId'>): string | null {
  return OPERATORS.includes(actor.role) ? null : actor.keyId;
}

/** Whether an actor may see (and so act on) a task; a task it may not see is one that does not exist for it. */
export function maySeeTask(actor: Pick<Actor, 'role' | 'keyId'>, task: Pick<TaskRecord, 'submittedBy'>): boolean {
  const owner = taskOwner(actor);
  return owner === null || task.submittedBy === owner;
}

interface CompiledPermission extends Permission {
  pattern: RegExp;
}

/** The `:id` segment of an `as-agent` path (`/v1/agents/:id/…`): the agent the request acts as. */
function agentOfPath(path: string): string | null {
  const segment = /^\/v1\/agents\/([^/]+)\//i.exec(path)?.[1];
  if (segment === undefined) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(p: Permission): CompiledPermission {
  const source = p.path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : escape(seg)))
    .join('/');
  return { ...p, pattern: new RegExp(`^${source}/?$`, 'i') };
}

export class PermissionTable {
  private readonly rows: CompiledPermission[];

  constructor(rows: readonly Permission[] = PERMISSIONS) {
    this.rows = rows.map(compile);
  }

  /** The row for a request (HEAD is a GET), or null when no route exists. */
  match(method: string, path: string): Permission | null {
    const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    return this.rows.find((r) => r.method === m && r.pattern.test(path)) ?? null;
  }
}

/**
 * The middleware, mounted on /v1 after `authenticate`: 404 (not_found) for a request no row matches,
 * 403 (ForbiddenError naming the roles that may) for a role the row does not list.
 */
export function authorize(table = new PermissionTable()): RequestHandler {
  return (req, res, next) => {
    const path = req.baseUrl + req.path;
    const row = table.match(req.method, path);
    if (!row) throw new TaskfleetError(`no route for ${req.method} ${path}`, 404, 'not_found');
    const actor = actorOf(res);
    const { role } = actor;
    if (!row.roles.includes(role)) {
      throw new ForbiddenError(
        `only ${row.roles.join(' or ')} keys may ${row.what}; this key's role is ${role}`,
        row.roles,
      );
    }
    if (row.scope === 'as-agent') {
      const agentId = agentOfPath(path);
      if (agentId === null || !mayActAs(actor, agentId)) {
        throw new ForbiddenError(`this key may not act as agent ${agentId ?? '(none)'}`, row.roles);
      }
    }
    next();
  };
}
