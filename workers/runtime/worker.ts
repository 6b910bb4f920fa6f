/**
 * The worker process as a small state machine: idle → running → draining → stopped.
 *
 * It registers as an agent, heartbeats, and runs one BullMQ consumer per route it serves (a route is a
 * task type it has a handler for plus a capability set it covers), picking up routes that appear later.
 * Redis connections: one shared command connection, one producer connection for re-sends, and one
 * blocking connection per served route.
 */
import { createTelemetry } from '../../src/telemetry/create';
import { instrumentStore } from '../../src/telemetry/instrumentStore';
import { noTelemetry, type Telemetry } from '../../src/telemetry/telemetry';
import os from 'node:os';
import { Worker as QueueConsumer, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../../src/config/config';
import type { AgentState } from '../../src/domain/agent';
import { covers, routeKey, workerServesRoute } from '../../src/domain/capabilities';
import { systemClock, type Clock } from '../../src/domain/clock';
import { dispatchRefs, type DispatchMessage, type DispatchRef } from '../../src/domain/task';
import { Dispatcher, isBatchJob } from '../../src/dispatch/dispatcher';
import {
  closeConnection,
  createConsumerConnection,
  createProducerConnection,
  waitUntilReady,
} from '../../src/dispatch/redis';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/port';
import { VERSION } from '../../src/version';
import type { TaskHandler } from './context';
import { Executor } from './executor';
import { Heartbeat } from './heartbeat';
import { Slots } from './slots';

const HOLD_STATES: ReadonlySet<AgentState> = new Set(['suspended', 'frozen', 'draining']);

export const WORKER_STATES = ['idle', 'running', 'draining', 'stopped'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export interface WorkerOptions {
  config: Config;
  capabilities: string[];
  concurrency: number;
  handlers: TaskHandler<any, any>[];
  id?: string;
  log: Logger;
  clock?: Clock;
}

export class WorkerRuntime {
  state: WorkerState = 'idle';
  readonly id: string;
  readonly types: string[];
  private readonly handlers: Map<string, TaskHandler<any, any>>;
  private readonly consumers = new Map<string, QueueConsumer<DispatchMessage>>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private store!: Store;
  private commands!: Redis;
  private producer!: Redis;
  private dispatcher!: Dispatcher;
  private executor!: Executor;
  private slots!: Slots;
  private heartbeat!: Heartbeat;
  private routeTimer: NodeJS.Timeout | null = null;
  private telemetry: Telemetry = noTelemetry;
  private starting: Promise<void> | null = null;
  /** The registry state that keeps this worker from taking work, if any. */
  private held: AgentState | null = null;

  constructor(private readonly o: WorkerOptions) {
    this.clock = o.clock ?? systemClock;
    this.id = o.id ?? `${os.hostname()}-${process.pid}-${uuidv7().slice(-6)}`;
    this.log = o.log.child({ agentId: this.id });
    // A handler that needs capabilities this worker lacks is not loaded, so its type is not advertised.
    const usable = o.handlers.filter((h) => covers(o.capabilities, h.capabilities ?? []));
    this.handlers = new Map(usable.map((h) => [h.type, h]));
    this.types = [...this.handlers.keys()].sort();
  }

  get runningTasks(): number {
    return this.executor?.runningCount ?? 0;
  }

  start(): Promise<void> {
    if (this.starting) throw new Error(`cannot start a worker that is ${this.state}`);
    this.starting = this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    const { config } = this.o;
    this.telemetry = createTelemetry(config, 'taskfleet-worker', this.id);
    this.store = instrumentStore(await openStore(config), this.telemetry);
    this.commands = createConsumerConnection(config.redisUrl, `taskfleet-worker-${this.id}`);
    this.producer = createProducerConnection(config.redisUrl, `taskfleet-worker-${this.id}-producer`);
    for (const c of [this.commands, this.producer]) c.on('error', (err) => this.log.debug({ err }, 'redis error'));
    await Promise.all([waitUntilReady(this.commands, config.redisUrl), waitUntilReady(this.producer, config.redisUrl)]);
    this.dispatcher = new Dispatcher(this.producer, config.redisPrefix);
    this.executor = new Executor({
      store: this.store,
      dispatcher: this.dispatcher,
      agentId: this.id,
      handlers: this.handlers,
      leaseMs: config.leaseDurationMs,
      backoff: config.backoff,
      defaultTimeoutSeconds: config.defaultTimeoutSeconds,
      clock: this.clock,
      log: this.log,
      telemetry: this.telemetry,
    });
    this.slots = new Slots(this.o.concurrency, () => this.applySlots());
    const registered = await this.store.registerAgent(
      {
        id: this.id,
        capabilities: this.o.capabilities,
        types: this.types,
        concurrency: this.o.concurrency,
        hostname: os.hostname(),
        pid: process.pid,
        version: VERSION,
      },
      this.clock.now(),
    );
    this.heartbeat = new Heartbeat(
      this.store,
      this.id,
      config.heartbeatIntervalMs,
      () => this.runningTasks,
      this.clock,
      this.log,
      (agent) => this.applyRegistryState(agent.state),
    );
    this.heartbeat.start();
    this.state = 'running';
    this.telemetry.agentStateChanged(this.id, null, registered.state, 'registered');
    this.applyRegistryState(registered.state);
    await this.refreshRoutes();
    this.scheduleRouteRefresh();
    this.log.info(
      {
        capabilities: this.o.capabilities,
        types: this.types,
        concurrency: this.o.concurrency,
        routes: [...this.consumers.keys()],
      },
      'worker running',
    );
  }

  private scheduleRouteRefresh(): void {
    this.routeTimer = setTimeout(() => {
      this.refreshRoutes()
        .catch((err: unknown) => this.log.warn({ err }, 'could not refresh routes'))
        .finally(() => {
          if (this.state === 'running') this.scheduleRouteRefresh();
        });
    }, this.o.config.routeRefreshMs);
  }

  /** Starts a consumer for every route this worker serves that it does not consume yet. */
  async refreshRoutes(): Promise<void> {
    const routes = await this.store.listRoutes();
    for (const route of routes) {
      const key = routeKey(route.type, route.capabilities);
      if (this.state !== 'running' || this.consumers.has(key)) continue;
      if (!workerServesRoute({ types: this.types, capabilities: this.o.capabilities }, route)) continue;
      this.consumers.set(key, this.createConsumer(key));
      this.log.info({ route: key }, 'consuming route');
      if (this.consumers.size === this.o.config.workerQueueWarn + 1) {
        this.log.warn(
          { routes: this.consumers.size },
          'this worker consumes many routes: each holds one blocking Redis connection; split the fleet into pools',
        );
      }
    }
  }

  private createConsumer(route: string): QueueConsumer<DispatchMessage> {
    const consumer = new QueueConsumer<DispatchMessage>(route, (job, token) => this.process(job, token), {
      connection: this.commands,
      prefix: this.o.config.redisPrefix,
      concurrency: Math.max(1, this.slots.limitFor(route)),
      autorun: false,
      // The SQL lease, not BullMQ's job lock, guards a task; a lost job lock only risks a harmless re-dispatch.
      maxStalledCount: 1000,
      // A worker killed between fetching a job and claiming its task leaves the job active in Redis (so the
      // reconciler sees it as present). Short locks and frequent stall checks hand such jobs back within
      // seconds rather than BullMQ's default 30 s per check.
      lockDuration: 10_000,
      stalledInterval: 5_000,
    });
    consumer.on('error', (err) => this.log.debug({ err, route }, 'queue consumer error'));
    if (!this.fetching(route)) void consumer.pause(true);
    void consumer.run().catch((err: unknown) => this.log.error({ err, route }, 'queue consumer stopped'));
    return consumer;
  }

  private async process(job: Job<DispatchMessage>, token: string | undefined): Promise<void> {
    const route = job.queueName;
    const refs = dispatchRefs(job.data);
    const taken = this.state === 'running' && this.held === null ? this.slots.acquireUpTo(route, refs.length) : 0;
    if (taken === 0) {
      // Fetched after the slots filled (or while draining or held): hand it back untouched for another worker.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const run = refs.slice(0, taken);
    // A batch bigger than the free slots: the rest goes on as a job of its own, for this worker or another,
    // while the tasks taken start.
    const handedOn = taken < refs.length ? this.sendOn(job, refs.slice(taken)) : null;
    let refused: DispatchRef[] = [];
    try {
      const outcomes = await Promise.all(
        run.map((ref) => this.runOne(job, ref).finally(() => this.slots.releaseTask(route))),
      );
      refused = run.filter((_, i) => outcomes[i] === 'refused');
      await handedOn;
    } finally {
      this.slots.endJob(route);
      if (isBatchJob(job.id)) {
        const ran = run.filter((ref) => !refused.includes(ref));
        this.dispatcher.forget(route, ran).catch((err: unknown) => this.log.debug({ err }, 'could not remove markers'));
      }
    }
    if (refused.length > 0) {
      // The registry holds this agent: learn the state now rather than at the next heartbeat, and hand the
      // dispatches back for a worker that may run them (a lone one untouched, in its own job).
      await this.heartbeat.beat().catch(() => undefined);
      if (refs.length === 1) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      await this.sendOn(job, refused);
    }
  }

  private async runOne(job: Job<DispatchMessage>, ref: DispatchRef): Promise<'done' | 'refused'> {
    try {
      return await this.executor.execute(ref, (value) => {
        job.updateProgress(value).catch(() => undefined);
      });
    } catch (err) {
      // The task stays queued in SQL; the reconciler re-sends it after its grace period.
      this.log.error({ err, taskId: ref.taskId }, 'could not execute a dispatch');
      return 'done';
    }
  }

  /** Sends dispatches of this job on as a new job; when that fails, the reconciler re-sends them later. */
  private async sendOn(job: Job<DispatchMessage>, refs: DispatchRef[]): Promise<void> {
    await this.dispatcher.sendOn(job.queueName, job.name, refs, job.opts.priority).catch((err: unknown) => {
      this.log.warn({ err, tasks: refs.length }, 'could not send dispatches on; the reconciler will');
    });
  }

  /** Whether the consumer of `route` should fetch now: running, not held by the registry, and a slot for it. */
  private fetching(route: string): boolean {
    return this.state === 'running' && this.held === null && this.slots.limitFor(route) > 0;
  }

  /**
   * Keeps every consumer's fetch limit within its running tasks plus the free slots, and pauses only a
   * consumer that may take nothing at all. A consumer with tasks running keeps running even when no slot is
   * free: its limit then equals what it holds, so BullMQ fetches nothing more, and a completion can still
   * fetch the next job in the same round trip (a paused consumer cannot, and pausing and resuming under
   * load would cost a round trip per task).
   */
  private applySlots(): void {
    for (const [route, c] of this.consumers) {
      const fetching = this.fetching(route);
      if (fetching) c.concurrency = this.slots.limitFor(route);
      if (!fetching && !c.isPaused()) void c.pause(true);
      else if (fetching && c.isPaused()) void c.resume();
    }
  }

  /**
   * Acts on the state the registry holds for this agent (learnt at registration and every heartbeat):
   * suspended, frozen or draining (by an admin) → take no new work, running tasks carry on (a suspended or
   * frozen agent's leases are reclaimed by the supervisor, which aborts them here at the next renewal);
   * any other state → take work again.
   */
  applyRegistryState(state: AgentState): void {
    const hold = HOLD_STATES.has(state) ? state : null;
    if (hold === this.held) return;
    this.held = hold;
    if (hold) this.log.warn({ state }, 'the registry holds this agent: taking no new work');
    else this.log.info({ state }, 'taking work again');
    this.applySlots();
  }

  /**
   * Stops taking work, lets running tasks finish within `timeoutMs`, hands the rest back to the queue,
   * marks the agent stopped and releases every connection.
   */
  async drain(timeoutMs = this.o.config.drainTimeoutMs): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.state !== 'running') return;
    this.state = 'draining';
    if (this.routeTimer) clearTimeout(this.routeTimer);
    this.log.info({ running: this.runningTasks, timeoutMs }, 'draining');
    await this.store
      .setAgentState({ agentId: this.id, to: 'draining', reason: 'drain requested (SIGTERM)', now: this.clock.now() })
      .then((changed) => {
        if (changed) this.telemetry.agentStateChanged(this.id, 'running', 'draining', 'drain requested (SIGTERM)');
      })
      .catch((err: unknown) => this.log.warn({ err }, 'could not record draining'));
    await Promise.all([...this.consumers.values()].map((c) => c.pause(true)));
    const deadline = Date.now() + timeoutMs;
    while (this.runningTasks > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (this.runningTasks > 0) {
      this.log.warn({ running: this.runningTasks }, 'drain timeout: releasing running tasks');
      this.executor.abortAll('released');
    }
    // Waits for the processors, which record each released task before they return.
    await Promise.all([...this.consumers.values()].map((c) => c.close()));
    await this.stopTheRest('stopped', 'drained');
  }

  private async stopTheRest(to: 'stopped', reason: string): Promise<void> {
    this.heartbeat.stop();
    await this.store
      .setAgentState({ agentId: this.id, to, reason, now: this.clock.now() })
      .then((changed) => {
        if (changed) this.telemetry.agentStateChanged(this.id, 'draining', to, reason);
      })
      .catch((err: unknown) => this.log.warn({ err }, 'could not record the stop'));
    await this.dispatcher.close();
    await Promise.all([closeConnection(this.commands), closeConnection(this.producer)]);
    await this.store.close();
    await this.telemetry.flush();
    this.state = 'stopped';
    this.log.info('worker stopped');
  }
}
