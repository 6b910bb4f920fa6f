/**
 * The supervisor process: the HTTP API plus the background loops (reconciler, lease reaper, deadline
 * expiry, heartbeat enforcer). Every loop is safe with several supervisors running against one store.
 */
import os from 'node:os';
import { createTelemetry } from '../telemetry/create';
import { FleetGauges, GAUGE_INTERVAL_MS } from '../telemetry/gauges';
import { instrumentStore } from '../telemetry/instrumentStore';
import { PrometheusMetrics } from '../telemetry/prometheus';
import type { Telemetry } from '../telemetry/telemetry';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { systemClock, type Clock } from '../domain/clock';
import { Dispatcher } from '../dispatch/dispatcher';
import { Reconciler } from '../dispatch/reconciler';
import { closeConnection, createProducerConnection, waitUntilReady } from '../dispatch/redis';
import { openStore } from '../store/open';
import type { Store } from '../store/port';
import type { EnforcementPolicy } from '../domain/enforcement';
import { AuditLog } from '../security/audit';
import { createSecurityCounters } from '../security/auth';
import { AgentAdmin } from './agentAdmin';
import { AgentDirectory } from './agentDirectory';
import { createApp } from './app';
import { HeartbeatEnforcer } from './enforcement';
import { fleetRoutes } from './routes/fleet';
import { scalingRoutes } from './routes/scaling';
import { Loop } from './loop';
import { TaskMaintenance } from './maintenance';
import { TaskService } from './taskService';

export interface SupervisorOptions {
  config: Config;
  log: Logger;
  clock?: Clock;
  store?: Store;
  /** Background loops on (default) or off, for tests that drive them by hand. */
  loops?: boolean;
  /** Telemetry to report to; by default what the configuration asks for (a no-op without it). */
  telemetry?: Telemetry;
}

export interface Supervisor {
  url: string;
  port: number;
  store: Store;
  dispatcher: Dispatcher;
  reconciler: Reconciler;
  maintenance: TaskMaintenance;
  enforcer: HeartbeatEnforcer;
  stop(): Promise<void>;
}

export async function startSupervisor(opts: SupervisorOptions): Promise<Supervisor> {
  const { config, log } = opts;
  const clock = opts.clock ?? systemClock;
  const telemetry =
    opts.telemetry ?? createTelemetry(config, 'taskfleet-supervisor', `${os.hostname()}-${process.pid}`);
  const ownStore = opts.store ?? (await openStore(config, { supervisor: true }));
  const store = instrumentStore(ownStore, telemetry);
  const redis = createProducerConnection(config.redisUrl, 'taskfleet-supervisor');
  redis.on('error', (err) => log.debug({ err }, 'redis connection error'));
  try {
    await waitUntilReady(redis, config.redisUrl);
  } catch (err) {
    redis.disconnect();
    if (!opts.store) await ownStore.close();
    throw err;
  }
  const dispatcher = new Dispatcher(redis, config.redisPrefix, { batchSize: config.dispatchBatch });
  const staleAfterMs = 3 * config.heartbeatIntervalMs;
  const agents = new AgentDirectory(store, clock, staleAfterMs);
  const tasks = new TaskService(store, dispatcher, config, clock, log, telemetry);
  const reconciler = new Reconciler(store, dispatcher, { graceMs: config.reconcileIntervalMs }, clock, log);
  const maintenance = new TaskMaintenance(store, dispatcher, clock, log, telemetry);
  const policy: EnforcementPolicy = { heartbeatIntervalMs: config.heartbeatIntervalMs, ...config.heartbeatThresholds };
  const enforcer = new HeartbeatEnforcer(store, dispatcher, policy, clock, log, telemetry);
  const admin = new AgentAdmin(store, enforcer, new AuditLog(store, clock), clock, telemetry);
  const counters = createSecurityCounters();
  const stats = { store, clock, staleAfterMs, extra: () => ({ security: { ...counters } }) };
  const metrics = new PrometheusMetrics(ownStore, stats);
  const gauges = new FleetGauges(stats, telemetry);

  const app = createApp({
    store,
    redis,
    tasks,
    agents,
    clock,
    log,
    maxBodyBytes: config.maxBodyBytes,
    staleAfterMs,
    security: { counters },
    telemetry,
    metrics,
    routers: [fleetRoutes({ store, clock, admin, policy, stats, staleAfterMs }), scalingRoutes(store, clock)],
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;

  const loops =
    opts.loops === false
      ? []
      : [
          new Loop('reconciler', config.reconcileIntervalMs, () => reconciler.reconcile(), log).start(),
          new Loop('lease reaper', config.reaperIntervalMs, () => maintenance.reapExpiredLeases(), log).start(),
          new Loop('deadline expiry', config.reaperIntervalMs, () => maintenance.expireOverdue(), log).start(),
          new Loop('heartbeat enforcer', config.heartbeatIntervalMs, () => enforcer.enforceHeartbeats(), log).start(),
          ...(telemetry.enabled
            ? [new Loop('telemetry gauges', GAUGE_INTERVAL_MS, () => gauges.report(), log).start()]
            : []),
        ];
  log.info({ url, store: store.kind }, 'supervisor listening');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(loops.map((l) => l.stop()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dispatcher.close();
      await closeConnection(redis);
      await telemetry.flush();
      if (!opts.store) await ownStore.close();
      log.info('supervisor stopped');
    })());

  return { url, port, store, dispatcher, reconciler, maintenance, enforcer, stop };
}
