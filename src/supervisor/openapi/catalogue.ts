/**
 * Every route the supervisor serves, once, for `GET /openapi.json`: its summary, the zod schemas its handler
 * validates with (the same objects, imported from the route files) and what it answers. Who may call a /v1
 * route is not written here: the document takes it from the permission table (src/security/permissions.ts), so
 * the two cannot disagree. test/api/openapi.test.ts fails when a served route has no entry here, or an entry
 * serves nothing.
 */
import { z } from 'zod';
import {
  claimBody,
  completeBody,
  failBody,
  heartbeatBody,
  leaseBody,
  logsBody,
  progressBody,
  registerBody,
  releaseBody,
} from '../../domain/agentProtocol';
import { MAX_BATCH, batchSubmissionSchema, taskSubmissionSchema } from '../../domain/submission';
import type { Method } from '../../security/permissions';
import type { Role } from '../../domain/security';
import { agentMetricsQuery } from '../routes/agentMetrics';
import { routeListQuery } from '../routes/routeList';
import { agentListQuery } from '../routes/agents';
import { auditQuerySchema } from '../routes/audit';
import { agentSettingsBody, statsQuery, windowQuery } from '../routes/fleet';
import { declareBody } from '../routes/pools';
import { scalingQuery } from '../routes/scaling';
import { createBody as scheduleBody, listQuery as schedulesQuery, runsQuery } from '../routes/schedules';
import { cancelSchema, retrySchema } from '../retryService';
import { logsQuerySchema } from '../routes/taskLogs';
import { listQuerySchema } from '../routes/tasks';
import { fleetQuerySchema, waitSchema } from '../routes/taskStreams';
import { createBody as webhookBody, deliveriesQuery } from '../routes/webhooks';
import { routeEventsQuery } from '../routes/routeControls';
import { circuitBreakerBody, routeLimitsBody } from '../../domain/routeControl';
import { WORKFLOW_ROUTES } from './workflowDocs';

export interface RouteDoc {
  method: Method;
  /** Express form (`/v1/tasks/:id`); the document writes it `/v1/tasks/{id}`. */
  path: string;
  summary: string;
  tag:
    | 'tasks'
    | 'agents'
    | 'agent protocol'
    | 'fleet'
    | 'routes'
    | 'pools'
    | 'schedules'
    | 'workflows'
    | 'webhooks'
    | 'service'
    | 'console';
  /** The JSON body the handler parses. */
  body?: z.ZodType;
  /** The query string the handler parses (an object schema: one parameter per property). */
  query?: z.ZodObject;
  /** Success statuses and what each answers. */
  responses: Record<number, string>;
  /** Problem statuses the route's own logic answers (authentication, rate limit and roles are added). */
  errors?: number[];
  /** Outside /v1: no key needed. */
  public?: true;
  /** Outside /v1 but with a bearer key, which the route checks itself: the roles it lets in. */
  roles?: readonly Role[];
  /** The success body's media type, when not JSON. */
  contentType?: string;
}

/** The batch body as each of its tasks is validated (TaskService checks every task with the single schema). */
const batchBody = batchSubmissionSchema.extend({
  tasks: z.array(taskSubmissionSchema).min(1).max(MAX_BATCH),
});

const agentAction = (action: string, what: string): RouteDoc => ({
  method: 'POST',
  path: `/v1/agents/:id/${action}`,
  summary: what,
  tag: 'agents',
  responses: { 200: 'the agent after the action' },
  errors: [404, 409],
});

export const ROUTE_CATALOGUE: readonly RouteDoc[] = [
  // service (no key)
  { method: 'GET', path: '/healthz', summary: 'liveness', tag: 'service', public: true, responses: { 200: 'ok' } },
  {
    method: 'GET',
    path: '/readyz',
    summary: 'readiness: SQL and Redis answer',
    tag: 'service',
    public: true,
    responses: { 200: 'ready' },
    errors: [503],
  },
  {
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'service',
    public: true,
    responses: { 200: 'Prometheus text exposition' },
    contentType: 'text/plain',
  },
  {
    method: 'GET',
    path: '/openapi.json',
    summary: 'this document',
    tag: 'service',
    public: true,
    responses: { 200: 'the OpenAPI 3.1 document' },
  },
  // console (the static pages under /ui and /docs, and bull-board's own routes, are not API operations)
  {
    method: 'GET',
    path: '/',
    summary: 'redirects to the console at /ui/',
    tag: 'console',
    public: true,
    responses: { 302: 'to /ui/' },
  },
  {
    method: 'POST',
    path: '/admin/queues/session',
    summary: 'opens bull-board (/admin/queues) for an admin key: a short-lived HttpOnly cookie for that path only',
    tag: 'console',
    roles: ['admin'],
    responses: { 204: 'the cookie is set' },
    errors: [401, 403],
  },
  // tasks
  {
    method: 'GET',
    path: '/v1/tasks',
    summary: 'list tasks, newest first, a page at a time (nextCursor)',
    tag: 'tasks',
    query: listQuerySchema,
    responses: { 200: '{ tasks, nextCursor }' },
  },
  {
    method: 'POST',
    path: '/v1/tasks',
    summary: 'submit a task (Idempotency-Key header: a replay answers the first task, 200)',
    tag: 'tasks',
    body: taskSubmissionSchema,
    responses: { 201: 'the task, created', 200: 'the task of an earlier submission with the same Idempotency-Key' },
    errors: [409, 413],
  },
  {
    method: 'POST',
    path: '/v1/tasks/batch',
    summary: `submit up to ${MAX_BATCH} tasks at once, all or none`,
    tag: 'tasks',
    body: batchBody,
    responses: { 201: '{ tasks }, created', 200: '{ tasks } of an earlier batch with the same Idempotency-Key' },
    errors: [409, 413],
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id',
    summary: 'read a task; with wait=1..60, once it is terminal or when the wait runs out (always 200)',
    tag: 'tasks',
    query: waitSchema.partial(),
    responses: { 200: 'the task' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id/events',
    summary:
      "a task's events, oldest first; with follow=true a text/event-stream of them and each new one (resumes after Last-Event-ID), ending after the terminal event",
    tag: 'tasks',
    query: z.strictObject({
      follow: z.enum(['true', 'false']).optional(),
      lastEventId: z.coerce.number().int().min(0).optional(),
    }),
    responses: { 200: '{ events }, or with follow=true a text/event-stream' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/tasks/:id/logs',
    summary: 'the lines a handler kept with ctx.log in one attempt (the latest by default)',
    tag: 'tasks',
    query: logsQuerySchema,
    responses: { 200: '{ taskId, attempt, lines, dropped: { lines, bytes } }' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/tasks/:id/cancel',
    summary: 'cancel a task (a running one is asked to stop)',
    tag: 'tasks',
    responses: { 202: '{ outcome, task }', 409: '{ outcome: already_terminal, task }: the task had ended' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/tasks/:id/retry',
    summary: 'send a dead, cancelled or expired task through again (its budget of attempts added)',
    tag: 'tasks',
    responses: { 200: '{ task }' },
    errors: [404, 409],
  },
  {
    method: 'POST',
    path: '/v1/tasks/retry',
    summary: 'retry every dead, cancelled or expired task a filter matches, up to limit',
    tag: 'tasks',
    body: retrySchema,
    responses: { 200: '{ matched, retried }' },
  },
  {
    method: 'POST',
    path: '/v1/tasks/cancel',
    summary: 'cancel every queued or running task a filter matches, up to limit',
    tag: 'tasks',
    body: cancelSchema,
    responses: { 200: '{ matched, cancelled, cancelRequested }' },
  },
  {
    method: 'GET',
    path: '/v1/events',
    summary:
      "every task's events after a seq, oldest first; with follow=true a text/event-stream (resumes after Last-Event-ID)",
    tag: 'tasks',
    query: fleetQuerySchema,
    responses: { 200: '{ events, nextCursor }, or with follow=true a text/event-stream' },
  },
  // agents
  {
    method: 'GET',
    path: '/v1/agents',
    summary:
      'list agents: by id, filtered by state and capability, paged; agents gone a while are left out unless include=stopped; include=health adds each healthScore',
    tag: 'agents',
    query: agentListQuery,
    responses: { 200: '{ agents: [{ …agent, healthScore? }], nextCursor? }' },
  },
  {
    method: 'GET',
    path: '/v1/agents/:id',
    summary: 'read an agent',
    tag: 'agents',
    responses: { 200: 'the agent' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/events',
    summary: "an agent's state changes",
    tag: 'agents',
    responses: { 200: '{ events }' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/performance',
    summary: "an agent's runs over a window: success rate, durations",
    tag: 'agents',
    query: windowQuery,
    responses: { 200: 'the figures' },
    errors: [404],
  },
  agentAction('drain', 'drain an agent: it takes no new task and stops when idle'),
  agentAction('suspend', 'suspend an agent: it takes no new task'),
  agentAction('resume', 'resume a drained or suspended agent'),
  agentAction('unfreeze', 'unfreeze an agent the heartbeat enforcer froze'),
  {
    method: 'PATCH',
    path: '/v1/agents/:id',
    summary:
      "change an agent's settings (concurrency, null for its own; disabledTypes, the whole list): it applies them at its next heartbeat, without a restart",
    tag: 'agents',
    body: agentSettingsBody,
    responses: { 200: 'the agent with its settings' },
    errors: [400, 404],
  },
  {
    method: 'DELETE',
    path: '/v1/agents/:id',
    summary: 'remove an agent that is gone',
    tag: 'agents',
    responses: { 204: 'removed' },
    errors: [404, 409],
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/metrics',
    summary: "an agent's metrics history: a sample per interval (running tasks, slots, CPU, memory, heartbeat age)",
    tag: 'agents',
    query: agentMetricsQuery,
    responses: {
      200: '{ agentId, intervalMs, samples: [{ at, runningTasks, concurrency, cpuPercent, rssBytes, heartbeatAgeMs }] }',
    },
    errors: [404],
  },
  // the HTTP agent protocol (agent keys)
  {
    method: 'POST',
    path: '/v1/agents/:id/register',
    summary: 'register (or register again) as an HTTP agent: the agent record and the settings to follow',
    tag: 'agent protocol',
    body: registerBody,
    responses: { 200: '{ agent, settings: { leaseMs, heartbeatMs, maxClaimWaitSeconds } }' },
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/heartbeat',
    summary:
      "an HTTP agent's heartbeat (with the concurrency it applies): answers the state it must follow (draining, suspended, frozen: claim nothing) and the admin's settings (desiredConcurrency, null for its own; disabledTypes)",
    tag: 'agent protocol',
    body: heartbeatBody,
    responses: { 200: '{ state, leaseMs, heartbeatMs, desiredConcurrency, disabledTypes }' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/claim',
    summary: 'claim tasks the agent covers: a long poll that answers once one is claimed, or empty when the wait ends',
    tag: 'agent protocol',
    body: claimBody,
    responses: {
      200: '{ tasks: [{ id, attempt, type, payload, priority, maxAttempts, timeoutSeconds, leaseExpiresAt, workflow? }] }',
    },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/stop',
    summary: 'an HTTP agent leaves (after its drain): stopped, so its silence is not escalated',
    tag: 'agent protocol',
    responses: { 200: '{ state }: stopped, or the hold the agent stays under' },
    errors: [404],
  },
  ...(
    [
      ['lease', leaseBody, 'renew a held lease', '{ leaseExpiresAt, cancelRequested }'],
      ['complete', completeBody, 'report the result of a held attempt', '{ status: "succeeded" }'],
      ['fail', failBody, 'report a failure: retried with backoff while attempts remain and retryable', '{ status }'],
      ['release', releaseBody, 'hand a held task back unrun (cancelled when a cancel was asked)', '{ status }'],
      ['progress', progressBody, "report a held attempt's progress", '{ recorded }'],
      ['logs', logsBody, "append lines to a held attempt's log", '{ recorded }'],
    ] as const
  ).map(([action, body, summary, answer]): RouteDoc => ({
    method: 'POST',
    path: `/v1/tasks/:id/${action}`,
    summary,
    tag: 'agent protocol',
    body,
    responses: { 200: answer },
    errors: [409],
  })),
  // fleet
  {
    method: 'GET',
    path: '/v1/routes',
    summary:
      'every route: queue figures, whether it is routable, the pool its tasks go to first, and optionally its counts per minute; paged by route key',
    tag: 'fleet',
    query: routeListQuery,
    responses: {
      200: '{ routes: [{ route, type, capabilities, queued, delayed, running, dead, oldestQueuedAgeMs, routable, state, paused, settings, circuit, pool, series? }], nextCursor? }; with series=N, series is { start, stepMs, succeeded[], failed[], dead[], cancelled[], expired[] } over the last N complete minutes',
    },
  },
  // route controls
  {
    method: 'GET',
    path: '/v1/routes/:route',
    summary: 'a route (by its key, URL-encoded) with its state, settings, circuit and latest events',
    tag: 'routes',
    responses: { 200: '{ route, type, capabilities, state, paused, settings, circuit, events }' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/routes/:route/events',
    summary: "a route's events (pauses, limits, circuit changes), newest first",
    tag: 'routes',
    query: routeEventsQuery,
    responses: { 200: '{ route, events, nextBefore? }' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/routes/:route/pause',
    summary: 'pause a route: its queued tasks wait, running ones finish, submissions are accepted',
    tag: 'routes',
    responses: { 200: 'the route' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/routes/:route/resume',
    summary: 'resume a route (also closes an open circuit)',
    tag: 'routes',
    responses: { 200: 'the route' },
    errors: [404],
  },
  {
    method: 'PATCH',
    path: '/v1/routes/:route',
    summary: "set a route's rate limit (tasks started per second, fleet-wide) and concurrency cap; null removes",
    tag: 'routes',
    body: routeLimitsBody,
    responses: { 200: 'the route' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/circuit-breakers',
    summary: 'the circuit breakers, per task type',
    tag: 'routes',
    responses: { 200: '{ breakers }' },
  },
  {
    method: 'PUT',
    path: '/v1/circuit-breakers/:type',
    summary: "set a task type's circuit breaker: open a route after `failures` of its last `window` attempts failed",
    tag: 'routes',
    body: circuitBreakerBody,
    responses: { 200: 'the breaker' },
  },
  {
    method: 'DELETE',
    path: '/v1/circuit-breakers/:type',
    summary: "remove a task type's circuit breaker (its routes' circuits stay as they are until resumed)",
    tag: 'routes',
    responses: { 204: 'removed' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/stats',
    summary: 'fleet figures: tasks by status, throughput, agents',
    tag: 'fleet',
    query: statsQuery,
    responses: { 200: 'the figures' },
  },
  {
    method: 'GET',
    path: '/v1/scaling/pool',
    summary: "a worker pool's backlog and desired replicas (for autoscalers)",
    tag: 'fleet',
    query: scalingQuery,
    responses: { 200: '{ pool, queued, delayed, running, backlog, desiredReplicas, … }' },
  },
  {
    method: 'GET',
    path: '/v1/audit',
    summary: 'the audit log, newest first, a page at a time',
    tag: 'fleet',
    query: auditQuerySchema,
    responses: { 200: '{ entries, nextCursor }' },
  },
  {
    method: 'GET',
    path: '/v1/whoami',
    summary: 'the calling key: its id, name, role and (an agent key) its agent binding',
    tag: 'fleet',
    responses: { 200: '{ keyId, name, role, agent?: { id } | { prefix } }' },
  },
  // pools
  { method: 'GET', path: '/v1/pools', summary: 'list pools', tag: 'pools', responses: { 200: '{ pools }' } },
  {
    method: 'POST',
    path: '/v1/pools',
    summary: 'declare a pool (idempotent)',
    tag: 'pools',
    body: declareBody,
    responses: { 201: 'the pool, declared', 200: 'the pool, already declared' },
  },
  {
    method: 'DELETE',
    path: '/v1/pools/:key',
    summary: 'remove a declared pool',
    tag: 'pools',
    responses: { 204: 'removed' },
    errors: [404],
  },
  ...WORKFLOW_ROUTES,
  // schedules
  {
    method: 'POST',
    path: '/v1/schedules',
    summary: 'create a schedule: a task submitted once per cron slot',
    tag: 'schedules',
    body: scheduleBody,
    responses: { 201: 'the schedule, with its first slot (nextAt)' },
    errors: [409],
  },
  {
    method: 'GET',
    path: '/v1/schedules',
    summary: 'list schedules, by name',
    tag: 'schedules',
    query: schedulesQuery,
    responses: { 200: '{ schedules }' },
  },
  {
    method: 'GET',
    path: '/v1/schedules/:name',
    summary: 'read a schedule',
    tag: 'schedules',
    responses: { 200: 'the schedule' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/schedules/:name/runs',
    summary: "a schedule's slots, newest first: the task each fired, or why it was skipped",
    tag: 'schedules',
    query: runsQuery,
    responses: { 200: '{ name, runs }' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/schedules/:name/pause',
    summary: 'pause a schedule (its slots are not fired while paused)',
    tag: 'schedules',
    responses: { 200: 'the schedule' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/schedules/:name/resume',
    summary: 'resume a schedule from its first slot after now',
    tag: 'schedules',
    responses: { 200: 'the schedule' },
    errors: [404],
  },
  {
    method: 'DELETE',
    path: '/v1/schedules/:name',
    summary: 'delete a schedule and its runs (its tasks stay)',
    tag: 'schedules',
    responses: { 204: 'deleted' },
    errors: [404],
  },
  // webhooks
  {
    method: 'POST',
    path: '/v1/webhooks',
    summary: "subscribe the caller's key to task events (the signing secret is shown once, here)",
    tag: 'webhooks',
    body: webhookBody,
    responses: { 201: '{ id, url, events, createdAt, secret }' },
  },
  {
    method: 'GET',
    path: '/v1/webhooks',
    summary: "the caller key's subscriptions (an admin: every key's)",
    tag: 'webhooks',
    responses: { 200: '{ webhooks }' },
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id',
    summary: 'read a subscription',
    tag: 'webhooks',
    responses: { 200: 'the subscription' },
    errors: [404],
  },
  {
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    summary: 'delete a subscription',
    tag: 'webhooks',
    responses: { 204: 'deleted' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/webhooks/secret',
    summary: "create or rotate the caller key's secret for callbackUrl deliveries (shown once, here)",
    tag: 'webhooks',
    responses: { 200: '{ secret }' },
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id/deliveries',
    summary: "a subscription's deliveries, newest first, with their attempts (status codes, errors)",
    tag: 'webhooks',
    query: deliveriesQuery,
    responses: { 200: '{ webhookId, deliveries }' },
    errors: [404],
  },
];
