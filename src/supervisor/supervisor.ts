/**
 * The supervisor process: the HTTP API plus the background loops (reconciler, rebalancer, lease reaper, deadline
 * expiry, heartbeat enforcer, stall watch, retention purge). Every loop is safe with several supervisors running against one store.
 *
 * `buildSupervisor` is the one place its object graph is built: `taskfleet supervisor`, `taskfleet dev`,
 * the benchmark and the tests all start a supervisor through it, the tests with overrides.
 */
import { AgentGateway } from './agentGateway';
import { agentProtocolRoutes } from './routes/agentProtocol';
import os from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { systemClock, type Clock } from '../domain/clock';
import { Dispatcher } from '../dispatch/dispatcher';
import { Reconciler } from '../dispatch/reconciler';
import { closeConnection, createProducerConnection, waitUntilReady } from '../dispatch/redis';
import { watchAndReport } from '../dispatch/redisWatch';
import { AuditLog } from '../security/audit';
import { createSecurityCounters, type SecurityCounters } from '../security/auth';
import { openStore } from '../store/open';
import { sealStore } from '../store/sealedStore';
import type { Store } from '../store/port';
import { createTelemetry } from '../telemetry/create';
import { FleetGauges } from '../telemetry/gauges';
import { instrumentStore } from '../telemetry/instrumentStore';
import { createLogger } from '../telemetry/logger';
import { PrometheusMetrics } from '../telemetry/prometheus';
import type { Telemetry } from '../telemetry/telemetry';
import { AgentAdmin } from './agentAdmin';
import { AgentDirectory } from './agentDirectory';
import { createApp } from './app';
import { fleetQueueNames } from '../console/queueNames';
import { applyConfiguredPools } from './configuredPools';
import { HeartbeatEnforcer } from './enforcement';
import { routeListRoutes } from './routes/routeList';
import { AgentMetricsHistory } from './agentMetrics';
import { agentMetricsRoutes } from './routes/agentMetrics';
import { UnroutablePolicy } from './unroutable';
import { lateAfterMs, Scheduler } from './scheduler';
import { TaskMaintenance } from './maintenance';
import { PoolPlacement } from './poolPlacement';
import { RetentionPurge } from './purge';
import { RouteMinuteRollup } from './routeSeries';
import { Rebalancer } from './rebalancer';
import { fleetRoutes } from './routes/fleet';
import { scalingRoutes } from './routes/scaling';
import { supervisorSettings, type HttpOverrides } from './settings';
import { StallWatch } from './stallWatch';
import { rebalanceIntervalMs, startLoops } from './loops';
import { DEFAULT_STREAM_SETTINGS, type StreamSettings } from './sse';
import { TaskService } from './taskService';
import { TaskWatcher } from './taskWatcher';
import { RetryService } from './retryService';
import { scheduleRoutes } from './routes/schedules';
import { workflowRoutes } from './routes/workflows';
import { WorkflowEngine } from './workflowEngine';
import { WorkflowService } from './workflowService';
import { taskRetryRoutes } from './routes/taskRetry';
import { webhookRoutes } from './routes/webhooks';
import { routeControlRoutes } from './routes/routeControls';
import { RouteGate } from './routeGate';
import { routeState } from '../domain/routeControl';
import { CircuitBreakers } from './circuitBreaker';
import { testWebhookHooks } from '../config/testHooks';
import { DEFAULT_OUTBOX, WebhookOutbox, type OutboxSettings } from '../webhooks/outbox';
import { UrlGuard } from '../webhooks/urlGuard';

export interface SupervisorOverrides {
  /** By default a logger made from the configuration (TASKFLEET_LOG_LEVEL, TASKFLEET_LOG_FORMAT). */
  log?: Logger;
  clock?: Clock;
  /** A store (or a wrapper of one, to make it fail) that the caller opened and closes; by default its own. */
  store?: Store;
  /** Background loops on (default) or off, for tests that drive them by hand. */
  loops?: boolean;
  /** Telemetry to report to; by default what the configuration asks for (a no-op without it). */
  telemetry?: Telemetry;
  /** The admin key and the rate limit, in place of the configuration's. */
  http?: HttpOverrides;
  /** Where to listen, in place of TASKFLEET_HOST and TASKFLEET_PORT (port 0: any free port). */
  listen?: { host?: string; port?: number };
  /** Webhook outbox settings in place of the defaults (tests: a short backoff); `holdSends` never sends. */
  webhooks?: Partial<OutboxSettings> & { holdSends?: boolean };
  /** Event stream settings in place of the defaults (tests: a short keep-alive interval). */
  streams?: Partial<StreamSettings>;
}

export interface Supervisor {
  url: string;
  port: number;
  store: Store;
  dispatcher: Dispatcher;
  /** Which pool each task goes to. */
  placement: PoolPlacement;
  /** Moves tasks waiting behind a busy pool, and the tasks of routes a new pool covers. */
  rebalancer: Rebalancer;
  /** Rings for the routes whose controls hold them (paused, circuit, rate limit, cap). */
  gate: RouteGate;
  /** Applies attempt outcomes to the circuits of the types with a breaker. */
  breakers: CircuitBreakers;
  reconciler: Reconciler;
  maintenance: TaskMaintenance;
  enforcer: HeartbeatEnforcer;
  /** Agents idle beside tasks they cover: asked to recycle their Redis connections, then degraded. */
  stallWatch: StallWatch;
  /** Expires tasks nothing could run for TASKFLEET_UNROUTABLE_EXPIRE_AFTER (off by default). */
  unroutable: UnroutablePolicy;
  /** Samples every agent's metrics once per interval (GET /v1/agents/:id/metrics). */
  agentMetrics: AgentMetricsHistory;
  admin: AgentAdmin;
  /** Tails the task event log for `?wait=` and the event streams. */
  watcher: TaskWatcher;
  /** Turns terminal task events into webhook deliveries and sends them (src/webhooks/outbox.ts). */
  outbox: WebhookOutbox;
  /** Fires due schedules (src/supervisor/scheduler.ts). */
  scheduler: Scheduler;
  /** Moves workflows on (src/supervisor/workflowEngine.ts). */
  workflows: WorkflowEngine;
  /** Deletes rows past their retention (src/supervisor/purge.ts). */
  purge: RetentionPurge;
  /** Rolls each ended minute's task events up per route (src/supervisor/routeSeries.ts). */
  routeMinutes: RouteMinuteRollup;
  /** The 401, 403 and 429 answers counted so far (shown in `GET /v1/stats`). */
  counters: SecurityCounters;
  /** The express app it serves (the OpenAPI test walks its routes). */
  app: Express;
  stop(): Promise<void>;
}

interface Connections {
  /** The store as the supervisor uses it (instrumented when telemetry is on). */
  store: Store;
  /** The store itself: what `/metrics` reads, uninstrumented. */
  rawStore: Store;
  /** Whether the supervisor opened the store, and so closes it. */
  ownsStore: boolean;
  redis: Redis;
}

interface Parts {
  dispatcher: Dispatcher;
  placement: PoolPlacement;
  rebalancer: Rebalancer;
  gate: RouteGate;
  breakers: CircuitBreakers;
  reconciler: Reconciler;
  maintenance: TaskMaintenance;
  enforcer: HeartbeatEnforcer;
  stallWatch: StallWatch;
  unroutable: UnroutablePolicy;
  agentMetrics: AgentMetricsHistory;
  admin: AgentAdmin;
  watcher: TaskWatcher;
  counters: SecurityCounters;
  gauges: FleetGauges;
  outbox: WebhookOutbox;
  scheduler: Scheduler;
  workflows: WorkflowEngine;
  purge: RetentionPurge;
  routeMinutes: RouteMinuteRollup;
  metrics: PrometheusMetrics;
  holdWebhookSends: boolean;
  app: Express;
}

async function connect(
  config: Config,
  overrides: SupervisorOverrides,
  log: Logger,
  telemetry: Telemetry,
): Promise<Connections> {
  const ownsStore = overrides.store === undefined;
  // openStore seals the store it opens; a store given by a test is sealed here.
  const rawStore = overrides.store
    ? sealStore(overrides.store, config.dataKeys)
    : await openStore(config, { supervisor: true });
  // Deadlines on every command: a connection gone silent is replaced, so the API, the relay and the reconciler
  // never wait on it for ever.
  const watch = watchAndReport(config.redisCommandTimeoutMs, log, telemetry);
  const redis = createProducerConnection(config.redisUrl, 'taskfleet-supervisor', watch);
  redis.on('error', (err) => log.debug({ err }, 'redis connection error'));
  try {
    await waitUntilReady(redis, config.redisUrl);
  } catch (err) {
    redis.disconnect();
    if (ownsStore) await rawStore.close();
    throw err;
  }
  return { store: instrumentStore(rawStore, telemetry), rawStore, ownsStore, redis };
}

function wire(
  config: Config,
  overrides: SupervisorOverrides,
  deps: { connections: Connections; clock: Clock; log: Logger; telemetry: Telemetry },
): Parts {
  const { connections, clock, log, telemetry } = deps;
  const { store, redis } = connections;
  const settings = supervisorSettings(config, overrides.http);
  const { staleAfterMs, enforcement } = settings;
  const agents = new AgentDirectory(store, clock, staleAfterMs, undefined, config.routeRefreshMs);
  const placement = new PoolPlacement({
    directory: agents,
    redis,
    prefix: config.redisPrefix,
    clock,
    refreshMs: rebalanceIntervalMs(config),
    log,
  });
  const dispatcher = new Dispatcher(redis, config.redisPrefix, { batchSize: config.dispatchBatch, placement });
  const rebalancer = new Rebalancer(
    store,
    dispatcher,
    placement,
    { spillAfterMs: config.spillAfterMs, routesRefreshMs: config.routeRefreshMs },
    clock,
    log,
  );
  const gate = new RouteGate({ store, dispatcher, placement, clock, log, intervalMs: config.routeGateMs });
  placement.holds = (key) => gate.holds(key);
  placement.shuts = (key) => gate.shuts(key);
  agents.routeState = (key) => routeState(gate.control(key));
  const tasks = new TaskService(store, dispatcher, config, clock, log, telemetry);
  const reconciler = new Reconciler(store, dispatcher, { graceMs: config.reconcileIntervalMs }, clock, log);
  const maintenance = new TaskMaintenance(store, dispatcher, clock, log, telemetry);
  const enforcer = new HeartbeatEnforcer(store, dispatcher, enforcement, clock, log, telemetry);
  const stallWatch = new StallWatch(store, { stallAfterMs: config.stallAfterMs, staleAfterMs }, clock, log, telemetry);
  const admin = new AgentAdmin(store, enforcer, new AuditLog(store, clock), clock, telemetry);
  const unroutable = new UnroutablePolicy(
    store,
    agents,
    dispatcher,
    { expireAfterMs: config.unroutableExpireAfterMs, batch: 500 },
    clock,
    log,
  );
  const counters = createSecurityCounters();
  const watcher = new TaskWatcher({
    store,
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    pollMs: config.watchPollMs,
    log,
    watch: watchAndReport(config.redisCommandTimeoutMs, log, telemetry),
  });
  const breakers = new CircuitBreakers({ store, watcher, gate, clock, log });
  const workflows = new WorkflowEngine({
    store,
    dispatcher,
    clock,
    log,
    defaultMaxAttempts: config.defaultMaxAttempts,
  });
  watcher.onRing((taskIds) => workflows.tasksRang(taskIds));
  const streams = { ...DEFAULT_STREAM_SETTINGS, stallMs: config.streamStallMs, ...overrides.streams };
  const gateway = new AgentGateway(
    { store, dispatcher, placement, watcher, redis, prefix: config.redisPrefix, clock, log },
    {
      leaseMs: config.leaseDurationMs,
      heartbeatMs: config.heartbeatIntervalMs,
      spillAfterMs: config.spillAfterMs,
      backoff: config.backoff,
      pollMs: config.agentClaimPollMs,
      routesRefreshMs: config.routeRefreshMs,
    },
  );
  const agentMetrics = new AgentMetricsHistory(store, config.agentMetrics, clock, log);
  const urlGuard = new UrlGuard(config.webhooks.allowHosts);
  const hooks = testWebhookHooks();
  const outbox = new WebhookOutbox(
    store,
    urlGuard,
    config.dataKeys,
    {
      ...DEFAULT_OUTBOX,
      ...(hooks.backoffMs === null ? {} : { backoff: { baseMs: hooks.backoffMs, maxMs: hooks.backoffMs * 8 } }),
      owner: `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      retryForMs: config.webhooks.retryForMs,
      ...overrides.webhooks,
    },
    clock,
    log,
  );
  // Batches are reported to `metrics` only once a pass runs, after this function returned.
  const purge = new RetentionPurge(store, config.retention, clock, log, (kind, rows) =>
    metrics.countPurged(kind, rows),
  );
  const stats = {
    store,
    clock,
    staleAfterMs,
    declaredPools: () => agents.declared(),
    extra: () => ({ security: { ...counters }, purged: { ...purge.purged } }),
    gate,
  };
  const metrics = new PrometheusMetrics(connections.rawStore, stats);
  const app = createApp({
    store,
    redis,
    tasks,
    agents,
    clock,
    log,
    http: settings.http,
    counters,
    telemetry,
    watcher,
    streams,
    metrics,
    console: { queueNames: () => fleetQueueNames(stats), queueFor: (name) => dispatcher.queueFor(name) },
    healthPolicy: enforcement,
    routers: [
      fleetRoutes({ store, clock, admin, policy: enforcement, stats, staleAfterMs }),
      scalingRoutes({ store, clock, directory: agents }),
      taskRetryRoutes({ retries: new RetryService(store, dispatcher, clock, log), agents }),
      webhookRoutes({ store, clock, guard: urlGuard, dataKeys: config.dataKeys }),
      scheduleRoutes({ store, clock }),
      workflowRoutes({ workflows: new WorkflowService(store, workflows, config, clock), engine: workflows, streams }),
      agentProtocolRoutes({ gateway, clock, staleAfterMs }),
      agentMetricsRoutes({ store, clock, settings: config.agentMetrics }),
      routeListRoutes(stats),
      routeControlRoutes({ store, clock, gate }),
    ],
  });
  const gauges = new FleetGauges(stats, telemetry);
  return {
    dispatcher,
    placement,
    rebalancer,
    gate,
    breakers,
    reconciler,
    maintenance,
    enforcer,
    stallWatch,
    unroutable,
    agentMetrics,
    admin,
    watcher,
    counters,
    gauges,
    outbox,
    scheduler: new Scheduler({ store, tasks, clock, log, lateAfterMs: lateAfterMs(config.schedulerIntervalMs) }),
    workflows,
    purge,
    routeMinutes: new RouteMinuteRollup(store, clock, log),
    metrics,
    holdWebhookSends: hooks.holdSends || overrides.webhooks?.holdSends === true,
    app,
  };
}

/** Closes what `connect` opened, and the dispatcher's queues on that Redis connection. */
async function disconnect(connections: Connections, dispatcher: Dispatcher): Promise<void> {
  await dispatcher.close();
  await closeConnection(connections.redis);
  if (connections.ownsStore) await connections.rawStore.close();
}

async function listen(
  app: Express,
  host: string,
  port: number,
): Promise<{ server: Server; url: string; port: number }> {
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(port, host, () => resolve(listening));
    listening.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const boundPort = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${urlHost}:${boundPort}`, port: boundPort };
}

/** Builds the supervisor, listens, and starts its loops (unless `overrides.loops` is false). */
export async function buildSupervisor(config: Config, overrides: SupervisorOverrides = {}): Promise<Supervisor> {
  const log = overrides.log ?? createLogger({ level: config.logLevel, format: config.logFormat, name: 'supervisor' });
  const clock = overrides.clock ?? systemClock;
  const telemetry =
    overrides.telemetry ?? createTelemetry(config, 'taskfleet-supervisor', `${os.hostname()}-${process.pid}`);
  const connections = await connect(config, overrides, log, telemetry);
  const parts = wire(config, overrides, { connections, clock, log, telemetry });
  const host = overrides.listen?.host ?? config.host;
  const { server, url, port } = await applyConfiguredPools(connections.store, config.pools, clock, log)
    .then(() => parts.watcher.start())
    .then(() => parts.metrics.start())
    .then(() => listen(parts.app, host, overrides.listen?.port ?? config.port))
    .catch(async (err: unknown) => {
      await parts.watcher.stop();
      await disconnect(connections, parts.dispatcher);
      throw err;
    });
  const loops = overrides.loops === false ? [] : startLoops(config, parts, log, telemetry);
  log.info({ url, store: connections.store.kind }, 'supervisor listening');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      parts.purge.stop();
      await Promise.all(loops.map((loop) => loop.stop()));
      await parts.workflows.stop();
      parts.breakers.stop();
      // Open streams end (cleanly, so clients resume) before the server closes every connection.
      await parts.watcher.stop();
      await parts.outbox.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await telemetry.flush();
      await disconnect(connections, parts.dispatcher);
      log.info('supervisor stopped');
    })());

  const { dispatcher, placement, rebalancer, reconciler, maintenance, enforcer, stallWatch, admin, counters, outbox } =
    parts;
  const { unroutable, agentMetrics } = parts;
  const { store } = connections;
  return {
    ...{ url, port, store, dispatcher, placement, rebalancer, reconciler, maintenance, enforcer, stallWatch, admin },
    watcher: parts.watcher,
    gate: parts.gate,
    breakers: parts.breakers,
    unroutable,
    agentMetrics,
    counters,
    app: parts.app,
    outbox,
    scheduler: parts.scheduler,
    workflows: parts.workflows,
    purge: parts.purge,
    routeMinutes: parts.routeMinutes,
    stop,
  };
}
