/**
 * The worker process's lifecycle (states and events in lifecycle.ts): it registers as an agent, heartbeats,
 * takes work through flow control (one BullMQ consumer, on its pool's queue), and drains or stops.
 *
 * - `start()`: connect, register, heartbeat, consume. A start that fails releases what it opened.
 * - `drain(timeoutMs)`: take no new work, let running tasks finish within the timeout, hand the rest back to
 *   the queue, mark the agent stopped and release every connection (SIGTERM).
 * - `stop()`: the same without the wait: running tasks are aborted and handed back at once.
 * - `recycleRedis(reason)`: replaces the socket of every Redis connection (when the supervisor sees this worker
 *   idle beside tasks it should be running: a connection may have gone silent unnoticed).
 * - An admin's settings (PATCH /v1/agents/:id), read from the registration and every heartbeat answer, apply at
 *   once (`applySettings`): the concurrency resizes the slots, and disabled types leave the worker's pool for the
 *   pool of the types it still serves (its capabilities stay: they describe the machine).
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../../src/config/config';
import { servedTypes, type AgentRecord, type AgentState } from '../../src/domain/agent';
import { covers } from '../../src/domain/capabilities';
import { systemClock, type Clock } from '../../src/domain/clock';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { routeQueue, type Placement } from '../../src/dispatch/placement';
import { notifyTaskChanged } from '../../src/dispatch/notify';
import { poolKey } from '../../src/domain/pool';
import type { AgentRegistration } from '../../src/store/port';
import { VERSION } from '../../src/version';
import { recycle } from '../../src/dispatch/redisWatch';
import { closeConnections, openConnections, redisConnections, type Connections } from './connections';
import type { TaskHandler } from './context';
import { Executor } from './executor';
import { FlowControl } from './flowControl';
import { Heartbeat } from './heartbeat';
import {
  Lifecycle,
  WorkerStateError,
  type WorkerEventMap,
  type WorkerEvents,
  type WorkerEventSource,
  type WorkerState,
} from './lifecycle';

export { WORKER_STATES, nextEvent, type WorkerEventMap, type WorkerState } from './lifecycle';

export interface WorkerOptions {
  config: Config;
  capabilities: string[];
  concurrency: number;
  handlers: TaskHandler<any, any>[];
  id?: string;
  log: Logger;
  clock?: Clock;
}

/** What a started worker holds, made together in `start` and released together when it stops. */
interface Parts extends Connections {
  readonly dispatcher: Dispatcher;
  readonly executor: Executor;
  readonly flow: FlowControl;
  readonly heartbeat: Heartbeat;
}

/** A snapshot of the worker, for logs, tests and health checks. */
export interface WorkerStatus {
  readonly id: string;
  readonly state: WorkerState;
  /** The registry state that keeps the worker from taking work, if any. */
  readonly heldBy: AgentState | null;
  readonly runningTasks: number;
  readonly freeSlots: number;
  /** The queue consumed: the worker's pool key (null before it consumes). */
  readonly queue: string | null;
  /** The slots applied now (an admin may change them at run time). */
  readonly concurrency: number;
  /** The types served now: the handlers' types less the ones an admin disabled. */
  readonly servedTypes: readonly string[];
}

export class WorkerRuntime {
  readonly id: string;
  /** The types of its handlers: what it registers with. */
  readonly types: readonly string[];
  private readonly capabilities: string[];
  /** The types it serves now (all of `types` but the ones an admin disabled). */
  private served: readonly string[];
  /** The key of this worker's pool (its capabilities and served types), which names the queue it consumes. */
  private poolNow: string | null;
  private readonly emitter: WorkerEvents = new EventEmitter<WorkerEventMap>();
  private readonly lifecycle = new Lifecycle(this.emitter);
  private readonly handlers: ReadonlyMap<string, TaskHandler<any, any>>;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Set once started; null before, and after a start that failed. */
  private parts: Parts | null = null;
  private startup: Promise<void> | null = null;
  private shutdown: Promise<void> | null = null;
  /** A stop during a drain ends the drain's wait early. */
  private graceCut = false;
  private endGrace: (() => void) | null = null;

  constructor(private readonly options: WorkerOptions) {
    this.clock = options.clock ?? systemClock;
    this.id = options.id ?? `${os.hostname()}-${process.pid}-${uuidv7().slice(-6)}`;
    this.log = options.log.child({ agentId: this.id });
    // A handler that needs capabilities this worker lacks is not loaded, so its type is not advertised.
    const usable = options.handlers.filter((h) => covers(options.capabilities, h.capabilities ?? []));
    this.handlers = new Map(usable.map((h) => [h.type, h]));
    this.types = [...this.handlers.keys()].sort();
    this.capabilities = [...new Set(options.capabilities)].sort();
    this.served = this.types;
    this.poolNow = this.poolOf(this.served);
  }

  /** The key of this worker's pool now (its capabilities and served types); null while it serves none. */
  get pool(): string | null {
    return this.poolNow;
  }

  private poolOf(types: readonly string[]): string | null {
    return types.length > 0 ? poolKey({ capabilities: this.capabilities, types: [...types] }) : null;
  }

  /** State changes, tasks started and finished, registry holds: what tests and embedders await. */
  get events(): WorkerEventSource {
    return this.emitter;
  }

  get state(): WorkerState {
    return this.lifecycle.state;
  }

  get runningTasks(): number {
    return this.parts?.executor.runningCount ?? 0;
  }

  status(): WorkerStatus {
    return {
      id: this.id,
      state: this.state,
      heldBy: this.parts?.flow.heldBy ?? null,
      runningTasks: this.runningTasks,
      freeSlots: this.parts?.flow.freeSlots ?? this.options.concurrency,
      queue: this.parts?.flow.queue ?? null,
      concurrency: this.parts?.flow.concurrency ?? this.options.concurrency,
      servedTypes: this.served,
    };
  }

  start(): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new WorkerStateError('start', this.state));
    this.lifecycle.moveTo('starting');
    this.startup = this.open();
    return this.startup;
  }

  /**
   * Stops taking work, lets running tasks finish within `timeoutMs`, hands the rest back to the queue,
   * marks the agent stopped and releases every connection. Asked while starting, it drains once started;
   * asked again (or after a stop), it resolves when that ends.
   */
  async drain(timeoutMs = this.options.config.drainTimeoutMs): Promise<void> {
    await this.startup?.catch(() => undefined);
    if (this.state !== 'running') return this.ending('drain');
    this.shutdown = this.drainRunning(this.started('drain'), timeoutMs);
    return this.shutdown;
  }

  /** Stops at once: running tasks are aborted and handed back to the queue, then as `drain`. */
  async stop(): Promise<void> {
    await this.startup?.catch(() => undefined);
    if (this.state === 'draining') {
      this.graceCut = true;
      this.endGrace?.();
    }
    if (this.state !== 'running') return this.ending('stop');
    this.shutdown = this.stopRunning(this.started('stop'));
    return this.shutdown;
  }

  /**
   * Replaces every Redis connection of the worker (commands, producer, each consumer's blocking connection)
   * with a new socket, and resolves once they answer again. Running tasks carry on: their results go to SQL,
   * and a BullMQ call cut short only leaves a job that is handed back and whose claim is then refused. Nothing
   * happens before the worker runs or once it stops.
   */
  async recycleRedis(reason: string): Promise<void> {
    const parts = this.parts;
    if (!parts || this.state === 'stopping' || this.state === 'stopped') return;
    this.log.warn({ reason }, `recycling every Redis connection: ${reason}`);
    await recycle(redisConnections(parts), this.options.config.redisCommandTimeoutMs);
  }

  /** A drain or stop asked when none may begin: waits for the one under way, or refuses. */
  private async ending(action: 'drain' | 'stop'): Promise<void> {
    if (this.state === 'created' || this.state === 'starting') throw new WorkerStateError(action, this.state);
    await this.shutdown;
  }

  private started(action: 'drain' | 'stop'): Parts {
    if (!this.parts) throw new WorkerStateError(action, this.state);
    return this.parts;
  }

  private async open(): Promise<void> {
    const connections = await openConnections(this.options.config, this.id, this.log).catch((err: unknown) => {
      this.lifecycle.moveTo('stopping');
      this.lifecycle.moveTo('stopped');
      throw err;
    });
    const parts = this.assemble(connections);
    try {
      const registered = await parts.store.registerAgent(this.registration(), this.clock.now());
      parts.heartbeat.start();
      parts.telemetry.agentStateChanged(this.id, null, registered.state, 'registered');
      parts.flow.applyRegistryState(registered.state);
      this.applySettings(parts, registered);
      parts.flow.consume();
    } catch (err) {
      this.lifecycle.moveTo('stopping');
      await parts.flow.close();
      await this.release(parts, { from: 'running', reason: 'start failed' }).catch((closeErr: unknown) =>
        this.log.warn({ err: closeErr }, 'could not release what the start opened'),
      );
      this.lifecycle.moveTo('stopped');
      throw err;
    }
    this.parts = parts;
    this.lifecycle.moveTo('running');
    const { capabilities, concurrency } = this.options;
    this.log.info({ capabilities, types: this.types, concurrency, pool: this.pool }, 'worker running');
  }

  /** Builds the parts on open connections; nothing here touches the network. */
  private assemble(connections: Connections): Parts {
    const { config } = this.options;
    const { store, telemetry } = connections;
    const dispatcher = new Dispatcher(connections.producer, config.redisPrefix, { placement: this.ownPool() });
    const executor = new Executor({
      store,
      dispatcher,
      agentId: this.id,
      handlers: this.handlers,
      leaseMs: config.leaseDurationMs,
      backoff: config.backoff,
      defaultTimeoutSeconds: config.defaultTimeoutSeconds,
      resultMaxBytes: config.resultMaxBytes,
      clock: this.clock,
      log: this.log,
      telemetry,
      events: this.emitter,
      notify: (taskId) => notifyTaskChanged(connections.producer, config.redisPrefix, taskId),
      // A type without a handler is not a disabled one: its claim fails as `no_handler`, as it always did.
      serves: (type) => !this.handlers.has(type) || this.served.includes(type),
    });
    const heartbeat: Heartbeat = new Heartbeat(
      store,
      this.id,
      config.heartbeatIntervalMs,
      () => executor.runningCount,
      this.clock,
      this.log,
      (agent) => {
        flow.applyRegistryState(agent.state);
        this.applySettings({ flow }, agent);
      },
      (requestedAt) => {
        const reason = `the supervisor saw this agent idle beside tasks it covers (asked at ${new Date(requestedAt).toISOString()})`;
        this.recycleRedis(reason).catch((err: unknown) => this.log.warn({ err }, 'recycling Redis connections failed'));
      },
      () => flow.concurrency,
    );
    const flow: FlowControl = new FlowControl({
      queue: this.poolNow,
      concurrency: this.options.concurrency,
      connection: connections.commands,
      redisPrefix: config.redisPrefix,
      dispatcher,
      executor,
      learnRegistryState: () => heartbeat.beat(),
      events: this.emitter,
      log: this.log,
    });
    return { ...connections, dispatcher, executor, flow, heartbeat };
  }

  /**
   * Applies the admin's settings the registry holds: the slots (its own concurrency when none is asked), and the
   * types it serves, which name its pool and so the queue it consumes. Once a drain or stop began: nothing changes.
   */
  private applySettings(parts: Pick<Parts, 'flow'>, agent: AgentRecord): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    parts.flow.resize(agent.desiredConcurrency ?? this.options.concurrency);
    const served = servedTypes(this.types, agent.disabledTypes);
    if (served.join(',') === this.served.join(',')) return;
    this.log.info({ served, disabled: agent.disabledTypes }, 'the types served changed');
    this.served = served;
    this.poolNow = this.poolOf(served);
    void parts.flow.moveTo(this.poolNow);
  }

  /**
   * Where this worker sends what it re-dispatches (a retry, a released task): its own pool's queue, which covers
   * the types it serves; a task of a type it no longer serves goes to its route's parking queue, from which the
   * supervisor's reconciler places it on a pool that serves it.
   */
  private ownPool(): Placement {
    const place = (route: { type: string; capabilities: string[] }): string =>
      this.poolNow !== null && this.served.includes(route.type) ? this.poolNow : routeQueue(route);
    return { place, queuesFor: (route) => [place(route)] };
  }

  private registration(): AgentRegistration {
    const { capabilities, concurrency } = this.options;
    const host = { hostname: os.hostname(), pid: process.pid, version: VERSION };
    return { id: this.id, capabilities, types: [...this.types], concurrency, ...host };
  }

  private async drainRunning(parts: Parts, timeoutMs: number): Promise<void> {
    this.lifecycle.moveTo('draining');
    this.log.info({ running: this.runningTasks, timeoutMs }, 'draining');
    const stoppedTaking = parts.flow.stopTaking();
    await this.recordAgentState(parts, 'draining', 'running', 'drain requested (SIGTERM)');
    await stoppedTaking;
    if (!(await this.grace(parts.executor, timeoutMs))) {
      this.log.warn({ running: this.runningTasks }, 'drain timeout: releasing running tasks');
      parts.executor.abortAll('released');
    }
    await this.close(parts, 'draining', 'drained');
  }

  private async stopRunning(parts: Parts): Promise<void> {
    this.lifecycle.moveTo('stopping');
    this.log.info({ running: this.runningTasks }, 'stopping: releasing running tasks');
    await parts.flow.stopTaking();
    parts.executor.abortAll('released');
    await this.close(parts, 'running', 'stopped: running tasks released');
  }

  /** Waits until no handler runs, for at most `timeoutMs` (less when a stop cuts it short); true when none runs. */
  private async grace(executor: Executor, timeoutMs: number): Promise<boolean> {
    if (executor.runningCount === 0 || this.graceCut) return executor.runningCount === 0;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      this.endGrace = resolve;
    });
    await Promise.race([executor.whenIdle(), ended]);
    clearTimeout(timer);
    this.endGrace = null;
    return executor.runningCount === 0;
  }

  /** Waits for the tasks still recording, then records the agent stopped and releases every connection. */
  private async close(parts: Parts, from: AgentState, reason: string): Promise<void> {
    if (this.state !== 'stopping') this.lifecycle.moveTo('stopping');
    // The processors record each released task before they return.
    await parts.flow.close();
    await this.release(parts, { from, reason });
    this.lifecycle.moveTo('stopped');
    this.log.info('worker stopped');
  }

  private async release(parts: Parts, stopped: { from: AgentState; reason: string }): Promise<void> {
    parts.heartbeat.stop();
    await this.recordAgentState(parts, 'stopped', stopped.from, stopped.reason);
    await parts.dispatcher.close();
    await closeConnections(parts);
  }

  private async recordAgentState(parts: Parts, to: AgentState, from: AgentState, reason: string): Promise<void> {
    await parts.store
      .setAgentState({ agentId: this.id, to, reason, now: this.clock.now() })
      .then((changed) => {
        if (changed) parts.telemetry.agentStateChanged(this.id, from, to, reason);
      })
      .catch((err: unknown) => this.log.warn({ err }, `could not record the agent ${to}`));
  }
}
