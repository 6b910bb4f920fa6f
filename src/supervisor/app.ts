import express, { type Express, type Router } from 'express';
import type { PrometheusMetrics } from '../telemetry/prometheus';
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import { traceRequests } from '../telemetry/traceRequests';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { isStoreFull } from '../domain/errors';
import { withTimeout } from '../domain/timeout';
import { authenticate, type SecurityCounters } from '../security/auth';
import { noStore, securityHeaders } from '../security/headers';
import { authorize } from '../security/permissions';
import { RateLimiter, rateLimit } from '../security/rateLimit';
import { redactingLogger } from '../security/redact';
import { consoleRoutes, type ConsoleDeps } from '../console/routes';
import type { Store } from '../store/port';
import type { AgentDirectory } from './agentDirectory';
import type { HttpSettings } from './settings';
import { buildOpenApiDocument } from './openapi/document';
import { errorHandler, notFoundHandler, sendProblem } from './problem';
import { agentRoutes } from './routes/agents';
import { auditRoutes } from './routes/audit';
import { whoamiRoutes } from './routes/whoami';
import { poolRoutes } from './routes/pools';
import { taskStreamRoutes } from './routes/taskStreams';
import { taskLogRoutes } from './routes/taskLogs';
import { taskRoutes } from './routes/tasks';
import { DEFAULT_STREAM_SETTINGS, type StreamSettings } from './sse';
import type { TaskService } from './taskService';
import type { TaskWatcher } from './taskWatcher';
import type { EnforcementPolicy } from '../domain/enforcement';

export interface AppDeps {
  store: Store;
  redis: Redis;
  tasks: TaskService;
  agents: AgentDirectory;
  clock: Clock;
  log: Logger;
  http: HttpSettings;
  /** Counted into (401, 403, 429); the supervisor shows them in its stats. */
  counters: SecurityCounters;
  /** Where submit and the trace of each request are reported (a no-op by default). */
  telemetry?: Telemetry;
  /** Serves `GET /metrics` (Prometheus text) when given. */
  metrics?: PrometheusMetrics;
  /**
   * More routers to mount under /v1 (fleet administration, stats, …). They sit behind the same
   * authentication, rate limit and permission table: a path without a row in `PERMISSIONS` is a 404.
   */
  routers?: Router[];
  /** Serves `?wait=` and the event streams when given (one watcher per supervisor). */
  watcher?: TaskWatcher;
  streams?: StreamSettings;
  /** What the agent list's health scores weigh heartbeats against (the enforcement policy); a default when absent. */
  healthPolicy?: Pick<EnforcementPolicy, 'heartbeatIntervalMs' | 'suspendAfter'>;
  /** Serves the console (/ui), the API reference (/docs) and bull-board (/admin/queues) when given. */
  console?: Omit<ConsoleDeps, 'auth'>;
}

/**
 * The HTTP API. Every /v1 request goes through, in order: security headers → authentication (401) → the
 * key's rate limit (429) → the permission table (404 for no route, 403 for the wrong role) → the JSON body
 * parser (413 over the limit) → the route. So an unauthenticated request costs one hash and is never parsed.
 */
export function createApp(deps: AppDeps): Express {
  const { counters, http } = deps;
  const { adminApiKey } = http;
  const limiter = new RateLimiter(http.rateLimit, deps.clock);
  const log = redactingLogger(deps.log);
  if (adminApiKey === null) {
    log.info(
      'TASKFLEET_ADMIN_API_KEY is not set: only API keys from the store are accepted (taskfleet keys create), and ' +
        "the queue view's cookie (/admin/queues) is good on this supervisor only",
    );
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.locals.securityCounters = counters;
  app.use(securityHeaders());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.store.ping(), 2_000, 'SQL'),
      withTimeout(deps.redis.ping(), 2_000, 'Redis'),
    ]);
    const [sql, redis] = checks.map((c) =>
      c.status === 'fulfilled' ? 'ok' : isStoreFull(c.reason) ? 'out_of_space' : 'unreachable',
    );
    if (sql === 'ok' && redis === 'ok') {
      res.json({ status: 'ready', sql, redis });
      return;
    }
    // Out of space: the store answers, but writes fail until someone frees space (ready again by itself then).
    const sqlDetail = sql === 'out_of_space' ? 'out of space (writes fail; free space on the database disk)' : sql;
    const detail = `SQL: ${sqlDetail}, Redis: ${redis}`;
    sendProblem(res, { status: 503, code: 'not_ready', detail, extra: { sql, redis } });
  });

  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.render());
    });
  }

  // Public like /healthz: it describes the API (as the README does), holds no data, and API tooling (client
  // generators, gateways importing it) fetches it without a key. Built on first request, then kept.
  let openApi: unknown;
  app.get('/openapi.json', (_req, res) => {
    res.json((openApi ??= buildOpenApiDocument()));
  });

  // Outside /v1: static pages that hold no data (the console reads the API with the person's key) and
  // bull-board behind its own admin session (src/console/queueSession.ts).
  if (deps.console) app.use(consoleRoutes({ ...deps.console, auth: { store: deps.store, adminApiKey } }));

  app.use(
    '/v1',
    noStore,
    authenticate({ store: deps.store, adminApiKey }),
    rateLimit(limiter),
    authorize(),
    express.json({ limit: http.maxBodyBytes, type: ['application/json', 'application/*+json'] }),
    // Last, so that the routes (not only the middleware above) run inside the request's trace.
    traceRequests(deps.telemetry ?? noTelemetry),
  );
  if (deps.watcher) {
    const { tasks, agents, store, watcher } = deps;
    const settings = deps.streams ?? DEFAULT_STREAM_SETTINGS;
    app.use('/v1', taskStreamRoutes({ tasks, agents, store, watcher, settings }));
  }
  app.use('/v1', taskRoutes(deps.tasks, deps.agents));
  app.use('/v1', taskLogRoutes(deps.tasks, deps.store));
  app.use('/v1', agentRoutes(deps.store, deps.clock, http.staleAfterMs, deps.healthPolicy));
  app.use('/v1', auditRoutes(deps.store));
  app.use('/v1', whoamiRoutes());
  app.use('/v1', poolRoutes({ store: deps.store, clock: deps.clock, directory: deps.agents }));
  for (const router of deps.routers ?? []) app.use('/v1', router);
  app.use(notFoundHandler);
  app.use(errorHandler(log, counters));
  return app;
}
