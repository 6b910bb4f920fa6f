/**
 * The supervisor's side of the HTTP agent protocol: agents in any language register, heartbeat, claim and
 * report over the API with an `agent` key, never touching Redis or SQL.
 *
 * Claims are made in SQL for them, with the same conditional claim as a Node worker's (`claimTask`, fenced on
 * the attempt, refused to a held agent): the gateway lists the due queued tasks of the routes the agent covers
 * (`listClaimable`, critical first) and claims them one by one until it has `max`. A Node worker that later
 * fetches the doorbell of a task claimed here loses the conditional claim and moves on, so the two kinds of
 * agent share one fleet and SQL decides. Fairness follows placement: the agent takes at once the tasks of routes
 * its own pool is the tightest for (or that no queue-consuming pool covers); tasks of routes a tighter Node pool
 * covers only once they have waited `spillAfterMs`, as the rebalancer spills between Node pools.
 *
 * An admin's settings (PATCH /v1/agents/:id) reach the agent in each heartbeat answer (`agentSettingsOf`), and
 * hold here at once: a claim covers only the types the agent still serves (`AgentRecord.types`), and hands it
 * no more tasks than the lower of its desired and its applied concurrency.
 *
 * A claim that finds nothing waits (a long poll) for the work doorbell (notifyWork, rung by every supervisor's
 * dispatcher when a task of a route HTTP agents cover becomes due), and looks again every `pollMs` whatever
 * happens, since a delayed task becomes due without a doorbell and a message can be lost.
 */
import type { WorkflowTaskContext } from '../domain/workflow';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ACCEPTING_STATES, type AgentRecord, type AgentState } from '../domain/agent';
import type { ClaimBody, HeartbeatBody, LogsBody, RegisterBody } from '../domain/agentProtocol';
import type { BackoffPolicy } from '../domain/backoff';
import { parseRouteKey, routeKey, workerServesRoute, type Route } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { NotFoundError, TaskfleetError } from '../domain/errors';
import { placementOrder, poolKey } from '../domain/pool';
import { mayActAs, type Actor } from '../domain/security';
import type { TaskRecord } from '../domain/task';
import {
  boundedLogMessage,
  logLineBytes,
  MAX_LOG_BYTES_PER_ATTEMPT,
  MAX_LOG_LINES_PER_ATTEMPT,
  type TaskLogLine,
} from '../domain/taskLog';
import { afterFailure } from '../domain/transitions';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import type { LeaseRef, Store } from '../store/port';
import { ForbiddenError } from '../security/errors';
import type { PoolPlacement } from './poolPlacement';
import type { TaskWatcher } from './taskWatcher';

export interface GatewaySettings {
  leaseMs: number;
  heartbeatMs: number;
  spillAfterMs: number;
  backoff: BackoffPolicy;
  /** How often a waiting claim looks in SQL without a doorbell. */
  pollMs: number;
  /** How long the list of routes is reused before it is read again (a doorbell for an unknown route reads it). */
  routesRefreshMs: number;
}

export interface GatewayDeps {
  store: Store;
  dispatcher: Dispatcher;
  placement: PoolPlacement;
  watcher: TaskWatcher;
  redis: Redis;
  prefix: string;
  clock: Clock;
  log: Logger;
}

/** The states an agent may leave by itself for `stopped`: not the registry's holds. */
const LEAVING_FROM: AgentState[] = [...ACCEPTING_STATES, 'draining', 'failed'];

/** A write about a task by an agent that no longer holds that attempt. */
export class LeaseLostError extends TaskfleetError {
  constructor(taskId: string, attempt: number) {
    super(
      `attempt ${attempt} of task ${taskId} is no longer held by this agent (its lease expired, it was reclaimed, or the task finished): drop the result`,
      409,
      'lease_lost',
    );
    this.name = 'LeaseLostError';
  }
}

/** A claimed task as the agent receives it. */
export interface ClaimedTask {
  id: string;
  attempt: number;
  type: string;
  payload: unknown;
  priority: string;
  maxAttempts: number;
  timeoutSeconds: number | null;
  leaseExpiresAt: string;
  /** A workflow step's task: its place in the workflow (what a TypeScript handler gets as `ctx.workflow`). */
  workflow?: WorkflowTaskContext;
}

export class AgentGateway {
  private routes: { at: number; list: Route[]; keys: Set<string> } | null = null;

  constructor(
    private readonly deps: GatewayDeps,
    private readonly settings: GatewaySettings,
  ) {
    // A doorbell for a route this supervisor has not read yet: the routes are read again at the next look, so
    // the first task of a new route is not left waiting for the cache to expire.
    deps.watcher.onWork((keys) => {
      if (this.routes && keys.some((k) => !this.routes!.keys.has(k))) this.routes = null;
    });
  }

  get protocolSettings() {
    const { leaseMs, heartbeatMs } = this.settings;
    return { leaseMs, heartbeatMs };
  }

  async register(agentId: string, body: RegisterBody, ip: string): Promise<AgentRecord> {
    const metadata = body.metadata ?? null;
    const hostname = typeof metadata?.hostname === 'string' ? metadata.hostname.slice(0, 255) : ip;
    const pid = typeof metadata?.pid === 'number' && Number.isInteger(metadata.pid) ? metadata.pid : 0;
    return this.deps.store.registerAgent(
      {
        id: agentId,
        capabilities: [...new Set(body.capabilities)].sort(),
        types: [...new Set(body.types)].sort(),
        concurrency: body.concurrency,
        hostname,
        pid,
        version: body.version ?? 'unknown',
        transport: 'http',
        metadata,
      },
      this.deps.clock.now(),
    );
  }

  async heartbeat(agentId: string, body: HeartbeatBody): Promise<AgentRecord> {
    const m = body.metrics;
    const agent = await this.deps.store.heartbeat({
      agentId,
      now: this.deps.clock.now(),
      runningTasks: body.running.length,
      ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
      metrics: m
        ? { cpuPercent: m.cpuPercent ?? 0, rssBytes: m.rssBytes ?? 0, heapUsedBytes: m.heapUsedBytes ?? 0 }
        : null,
    });
    if (!agent) throw new NotFoundError(`agent ${agentId} (register it first)`);
    return agent;
  }

  /**
   * The agent leaves: `stopped`, so missed heartbeats are not escalated. A suspended or frozen agent stays so
   * (stopping must not lift a hold; registering again keeps it too). Its state after; null when it is unknown.
   */
  async stop(agentId: string): Promise<AgentState | null> {
    const { store, clock } = this.deps;
    await store.setAgentState({
      agentId,
      to: 'stopped',
      from: LEAVING_FROM,
      reason: 'stopped by the agent',
      now: clock.now(),
    });
    return (await store.getAgent(agentId))?.state ?? null;
  }

  /**
   * Claims up to `max` tasks (at most the agent's free slots) for the agent, waiting up to `waitSeconds` for
   * one; `closed` tells it the caller went away (nothing is claimed after that). An agent that is unknown, or
   * held by the registry (draining, suspended, frozen, stopped, failed), gets nothing.
   */
  async claim(agentId: string, body: ClaimBody, closed: () => boolean): Promise<ClaimedTask[]> {
    const { clock, store } = this.deps;
    const deadline = clock.now() + body.waitSeconds * 1000;
    let agent = await store.getAgent(agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId} (register it first)`);
    for (;;) {
      if (closed()) return [];
      // Listening before the look: a doorbell that rings while it reads SQL sends it to look again at once.
      const bell = this.listen(agent);
      try {
        // The claim itself shows the agent alive; missed heartbeats reach it through the enforcer's holds.
        const free = agent && ACCEPTING_STATES.has(agent.state) ? await this.freeSlots(agent) : 0;
        const claimed = free > 0 ? await this.claimNow(agent!, Math.min(body.max, free), closed) : [];
        if (claimed.length > 0 || clock.now() >= deadline) return claimed;
        await bell.rung(Math.min(deadline - clock.now(), this.settings.pollMs));
      } finally {
        bell.close();
      }
      agent = await store.getAgent(agentId);
    }
  }

  /** Renews a held lease: its new expiry and whether a cancel was asked. */
  async renew(taskId: string, w: TaskWrite): Promise<{ leaseExpiresAt: number; cancelRequested: boolean }> {
    const ref = await this.lease(taskId, w);
    const { leaseMs } = this.settings;
    const renewed = await this.deps.store.renewLease({ ...ref, leaseMs });
    if (!renewed.held) throw new LeaseLostError(taskId, w.attempt);
    return { leaseExpiresAt: ref.now + leaseMs, cancelRequested: renewed.cancelRequested };
  }

  async complete(taskId: string, w: TaskWrite, result: unknown): Promise<void> {
    const ref = await this.lease(taskId, w);
    if (!(await this.deps.store.completeTask({ ...ref, result: result ?? null }))) {
      throw new LeaseLostError(taskId, w.attempt);
    }
    this.changed(taskId);
  }

  /** Records a failure: queued again with backoff while attempts remain and it is retryable, else dead. */
  async fail(taskId: string, w: TaskWrite, error: { message: string; retryable: boolean }): Promise<'queued' | 'dead'> {
    const ref = await this.lease(taskId, w);
    const task = await this.heldTask(ref);
    // Not held: the fenced write below refuses, and records the refusal (`result_rejected`) as for a Node worker.
    const decision = task
      ? afterFailure(task, ref.now, this.settings.backoff, { permanent: !error.retryable })
      : ({ status: 'dead' } as const);
    const failure = { kind: 'handler', message: error.message, ...(error.retryable ? {} : { name: 'PermanentError' }) };
    if (!(await this.deps.store.failTask({ ...ref, error: failure, decision }))) {
      throw new LeaseLostError(taskId, w.attempt);
    }
    this.changed(taskId);
    if (decision.status === 'queued') await this.resend(task!, decision.notBefore);
    return decision.status;
  }

  /** Hands a task back unrun (queued, its attempt budget kept), or ends it cancelled when a cancel was asked. */
  async release(taskId: string, w: TaskWrite): Promise<'queued' | 'cancelled'> {
    const ref = await this.lease(taskId, w);
    const task = await this.heldTask(ref);
    if (!task) throw new LeaseLostError(taskId, w.attempt);
    if (task.cancelRequested) {
      if (!(await this.deps.store.finishCancelled(ref))) throw new LeaseLostError(taskId, w.attempt);
      this.changed(taskId);
      return 'cancelled';
    }
    if (!(await this.deps.store.releaseTask(ref))) throw new LeaseLostError(taskId, w.attempt);
    this.changed(taskId);
    await this.resend(task, ref.now);
    return 'queued';
  }

  async progress(taskId: string, w: TaskWrite, value: unknown): Promise<boolean> {
    const ref = await this.lease(taskId, w);
    await this.held(ref);
    const recorded = await this.deps.store.setTaskProgress({
      taskId,
      attempt: w.attempt,
      progress: value,
      now: ref.now,
    });
    if (recorded) this.changed(taskId);
    return recorded;
  }

  /**
   * Appends lines to the attempt's log under the same caps as a Node worker's (MAX_LOG_LINES_PER_ATTEMPT lines,
   * MAX_LOG_BYTES_PER_ATTEMPT bytes; the rest counted as dropped), numbered after the lines kept so far.
   */
  async logs(taskId: string, w: TaskWrite, lines: LogsBody['lines']): Promise<boolean> {
    const ref = await this.lease(taskId, w);
    await this.held(ref);
    const kept = await this.deps.store.listTaskLogs(taskId, w.attempt);
    let seq = kept.lines.reduce((n, l) => Math.max(n, l.seq), 0);
    let count = kept.lines.length;
    let bytes = kept.lines.reduce(
      (n, l) => n + logLineBytes(l.message, l.fields == null ? null : JSON.stringify(l.fields)),
      0,
    );
    const dropped = { ...kept.dropped };
    const batch: TaskLogLine[] = [];
    for (const line of lines) {
      const message = boundedLogMessage(line.message);
      const fields = line.fields ?? null;
      const size = logLineBytes(message, fields === null ? null : JSON.stringify(fields));
      if (count >= MAX_LOG_LINES_PER_ATTEMPT || bytes + size > MAX_LOG_BYTES_PER_ATTEMPT) {
        dropped.lines += 1;
        dropped.bytes += size;
        continue;
      }
      count += 1;
      bytes += size;
      batch.push({ seq: ++seq, at: ref.now, level: line.level, message, fields });
    }
    return this.deps.store.appendTaskLogs({ taskId, attempt: w.attempt, lines: batch, dropped });
  }

  /**
   * The lease a write is about: the writing agent must be one the key may act as (403 otherwise). Whether it
   * still holds the attempt is the store's fenced write to decide (409 and a `result_rejected` event otherwise).
   */
  private async lease(taskId: string, w: TaskWrite): Promise<LeaseRef> {
    if (!mayActAs(w.actor, w.agentId)) {
      throw new ForbiddenError(`this key may not act as agent ${w.agentId}`, ['agent']);
    }
    return { taskId, attempt: w.attempt, agentId: w.agentId, now: this.deps.clock.now() };
  }

  /**
   * The task while `ref` holds it, else null. An unknown task is not held either: an agent key learns nothing
   * of the tasks it was not handed (a 409, never a 404 that would tell an existing id from an unknown one).
   */
  private async heldTask(ref: LeaseRef): Promise<TaskRecord | null> {
    const task = await this.deps.store.getTask(ref.taskId);
    const holds = task?.status === 'running' && task.attempt === ref.attempt && task.agentId === ref.agentId;
    return holds ? task : null;
  }

  /** As heldTask, but a LeaseLostError when not held: progress and lines of a zombie are not kept. */
  private async held(ref: LeaseRef): Promise<TaskRecord> {
    const task = await this.heldTask(ref);
    if (!task) throw new LeaseLostError(ref.taskId, ref.attempt);
    return task;
  }

  /** The agent's slots less its leases: its applied concurrency, or the desired one when that is lower. */
  private async freeSlots(agent: AgentRecord): Promise<number> {
    const slots = Math.min(agent.concurrency, agent.desiredConcurrency ?? agent.concurrency);
    const leases = await this.deps.store.listLeasesOf(agent.id, slots);
    return Math.max(0, slots - leases.length);
  }

  private async claimNow(agent: AgentRecord, max: number, closed: () => boolean): Promise<ClaimedTask[]> {
    const { store, clock } = this.deps;
    const now = clock.now();
    // A paused route, or one whose circuit is open, would only refuse every claim: not asked at all.
    const routes = (await this.coveredRoutes(agent))
      .filter((route) => !this.deps.placement.shut(route))
      .map((route) => ({ route, dueBefore: this.dueBefore(agent, route, now) }));
    if (routes.length === 0) return [];
    // A few more than asked: some may be claimed by others between the read and the claim.
    const rows = await store.listClaimable({ routes, limit: max * 2 });
    const claimed: ClaimedTask[] = [];
    const { leaseMs } = this.settings;
    // As many claims at once as places are left: on SQLite they share one group commit (one fsync), on Azure
    // SQL they run side by side. A claim lost to another claimer leaves its place to the next row.
    let next = 0;
    while (claimed.length < max && next < rows.length && !closed()) {
      const wave = rows.slice(next, next + (max - claimed.length));
      next += wave.length;
      const at = clock.now();
      const results = await Promise.all(
        wave.map((row) =>
          store.claimTask({ taskId: row.id, attempt: row.attempt, agentId: agent.id, now: at, leaseMs }),
        ),
      );
      for (const result of results) {
        if (!result.claimed) continue;
        const t = result.task;
        claimed.push({
          id: t.id,
          attempt: t.attempt,
          type: t.type,
          payload: t.payload,
          priority: t.priority,
          maxAttempts: t.maxAttempts,
          timeoutSeconds: t.timeoutSeconds ?? null,
          leaseExpiresAt: new Date(t.leaseExpiresAt ?? at + leaseMs).toISOString(),
          ...(t.workflow ? { workflow: t.workflow } : {}),
        });
      }
    }
    return claimed;
  }

  /**
   * When a task of `route` may be claimed for this agent: as soon as it is due when the agent's pool is the
   * tightest that covers the route among the queue-consuming pools and itself; after `spillAfterMs` otherwise.
   */
  private dueBefore(agent: AgentRecord, route: Route, now: number): number {
    const own = { capabilities: agent.capabilities, types: agent.types };
    const tightest = placementOrder([...this.deps.placement.order(route), own], route)[0];
    return tightest && poolKey(tightest) === poolKey(own) ? now : now - this.settings.spillAfterMs;
  }

  private async coveredRoutes(agent: AgentRecord): Promise<Route[]> {
    const now = this.deps.clock.now();
    if (!this.routes || now - this.routes.at > this.settings.routesRefreshMs) {
      const list = await this.deps.store.listRoutes();
      this.routes = { at: now, list, keys: new Set(list.map((r) => routeKey(r.type, r.capabilities))) };
    }
    return this.routes.list.filter((r) => workerServesRoute(agent, r));
  }

  /**
   * Listens for work doorbells of the routes the agent serves (any route, for an unknown agent): `rung(ms)`
   * resolves at once when one rang since the listening began, else on the next one, or after `ms`.
   */
  private listen(agent: AgentRecord | null): { rung(ms: number): Promise<void>; close(): void } {
    let rang = false;
    let wake: (() => void) | null = null;
    const off = this.deps.watcher.onWork((keys) => {
      if (!keys.some((k) => serves(agent, k))) return;
      rang = true;
      wake?.();
    });
    return {
      rung: (ms) =>
        rang || ms <= 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                wake = null;
                resolve();
              }, ms);
              wake = () => {
                clearTimeout(timer);
                wake = null;
                resolve();
              };
            }),
      close: () => {
        off();
      },
    };
  }

  private changed(taskId: string): void {
    notifyTaskChanged(this.deps.redis, this.deps.prefix, taskId);
  }

  /** Sends the task's next dispatch at once (a Node pool's doorbell, or the work doorbell for HTTP agents). */
  private async resend(task: TaskRecord, notBefore: number): Promise<void> {
    // A task record is a dispatch row (as the worker's OutcomeRecorder sends it), due at `notBefore`.
    await this.deps.dispatcher.send([{ ...task, notBefore }], this.deps.clock.now()).catch((err: unknown) => {
      // SQL has it; the reconciler sends it later.
      this.deps.log.debug({ err, taskId: task.id }, 'could not send the next dispatch at once');
    });
  }
}

/**
 * The admin's settings an agent follows, as the heartbeat answer carries them: `desiredConcurrency` (null: the
 * concurrency it registered with) and `disabledTypes` (types it must stop claiming and running).
 */
export function agentSettingsOf(agent: AgentRecord): { desiredConcurrency: number | null; disabledTypes: string[] } {
  return { desiredConcurrency: agent.desiredConcurrency, disabledTypes: agent.disabledTypes };
}

/** Who writes about a task: the key, and the agent it writes as, and the attempt it holds. */
export interface TaskWrite {
  actor: Pick<Actor, 'role' | 'agent'>;
  agentId: string;
  attempt: number;
}

/** Whether the agent (any agent, when unknown) serves the route of a doorbell's key; false for a key that is not one. */
function serves(agent: AgentRecord | null, key: string): boolean {
  try {
    const route = parseRouteKey(key);
    return !agent || workerServesRoute(agent, route);
  } catch {
    return false;
  }
}
