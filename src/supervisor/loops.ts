/**
 * The supervisor's background loops: each runs one pass of its part every interval (src/supervisor/loop.ts), on
 * every supervisor; each part is safe with several supervisors (conditional writes, leases in SQL).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import type { Reconciler } from '../dispatch/reconciler';
import { GAUGE_INTERVAL_MS, type FleetGauges } from '../telemetry/gauges';
import type { Telemetry } from '../telemetry/telemetry';
import type { WebhookOutbox } from '../webhooks/outbox';
import type { AgentMetricsHistory } from './agentMetrics';
import type { HeartbeatEnforcer } from './enforcement';
import { Loop } from './loop';
import type { TaskMaintenance } from './maintenance';
import type { RetentionPurge } from './purge';
import type { Rebalancer } from './rebalancer';
import type { RouteGate } from './routeGate';
import { ROLL_UP_PASS_MS, type RouteMinuteRollup } from './routeSeries';
import type { Scheduler } from './scheduler';
import { PASS_MS as WORKFLOW_PASS_MS, type WorkflowEngine } from './workflowEngine';
import type { StallWatch } from './stallWatch';
import type { UnroutablePolicy } from './unroutable';

/** The parts a loop drives. */
export interface LoopParts {
  reconciler: Reconciler;
  rebalancer: Rebalancer;
  maintenance: TaskMaintenance;
  enforcer: HeartbeatEnforcer;
  stallWatch: StallWatch;
  unroutable: UnroutablePolicy;
  agentMetrics: AgentMetricsHistory;
  gauges: FleetGauges;
  outbox: WebhookOutbox;
  purge: RetentionPurge;
  scheduler: Scheduler;
  workflows: WorkflowEngine;
  gate: RouteGate;
  routeMinutes: RouteMinuteRollup;
  holdWebhookSends: boolean;
}

/** How often tasks waiting behind a busy pool are looked for, and the pools' view refreshed: a few times per wait. */
export function rebalanceIntervalMs(config: Config): number {
  return Math.max(50, Math.floor(config.spillAfterMs / 4));
}

/** How often the outbox looks for new events and due deliveries: the added latency of a webhook, at most. */
const WEBHOOK_PASS_MS = 200;

export function startLoops(config: Config, parts: LoopParts, log: Logger, telemetry: Telemetry): Loop[] {
  const { reconciler, rebalancer, maintenance, enforcer, stallWatch, unroutable, agentMetrics, gauges, outbox, purge } =
    parts;
  return [
    // New deliveries are sent at once rather than at the next delivery pass.
    new Loop(
      'webhook outbox',
      WEBHOOK_PASS_MS,
      async () => {
        if ((await outbox.expand()) > 0 && !parts.holdWebhookSends) await outbox.deliver(true);
      },
      log,
    ),
    ...(parts.holdWebhookSends ? [] : [new Loop('webhook delivery', WEBHOOK_PASS_MS, () => outbox.deliver(), log)]),
    new Loop('scheduler', config.schedulerIntervalMs, () => parts.scheduler.pass(), log),
    new Loop('workflow engine', WORKFLOW_PASS_MS, () => parts.workflows.pass(), log),
    new Loop('reconciler', config.reconcileIntervalMs, () => reconciler.reconcile(), log),
    new Loop('rebalancer', rebalanceIntervalMs(config), () => rebalancer.pass(), log),
    new Loop('route gate', config.routeGateMs, () => parts.gate.pass(), log),
    new Loop('parking queue pruning', config.reconcileIntervalMs, () => rebalancer.pruneParkingQueues(), log),
    new Loop('lease reaper', config.reaperIntervalMs, () => maintenance.reapExpiredLeases(), log),
    new Loop('deadline expiry', config.reaperIntervalMs, () => maintenance.expireOverdue(), log),
    new Loop('heartbeat enforcer', config.heartbeatIntervalMs, () => enforcer.enforceHeartbeats(), log),
    ...(stallWatch.enabled ? [new Loop('stall watch', config.heartbeatIntervalMs, () => stallWatch.check(), log)] : []),
    new Loop('agent metrics history', config.agentMetrics.intervalMs, () => agentMetrics.sample(), log),
    ...(unroutable.enabled
      ? [new Loop('unroutable expiry', config.reconcileIntervalMs, () => unroutable.expire(), log)]
      : []),
    new Loop('route minutes roll-up', ROLL_UP_PASS_MS, () => parts.routeMinutes.pass(), log),
    new Loop('retention purge', config.retention.intervalMs, () => purge.pass(), log),
    ...(telemetry.enabled ? [new Loop('telemetry gauges', GAUGE_INTERVAL_MS, () => gauges.report(), log)] : []),
  ].map((loop) => loop.start());
}
