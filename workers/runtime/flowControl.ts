/**
 * Flow control: how much work a worker takes and from where. One BullMQ consumer, on the queue of the worker's
 * pool (src/dispatch/placement.ts), whatever routes exist: a worker holds three Redis connections (commands,
 * producer, and this consumer's blocking one). Its concurrency limit is counted in tasks (Slots). A job carries
 * one dispatch or a dispatch batch; the worker runs what its free slots take and sends the rest on as a job of
 * its own, gives each slot back as its task ends, and sets the consumer's fetch limit in jobs (see
 * Slots.limitFor). It takes no work once a drain or stop began, nor while the registry holds the agent.
 *
 * An admin's settings (PATCH /v1/agents/:id) change both at run time: `resize` sets the slots, and `moveTo`
 * moves the consumer to another pool's queue (a disabled type changes the worker's pool). The old consumer is
 * closed first, after its jobs in flight, and only then the new one opened, so the worker never holds more than
 * its three Redis connections; the doorbells left in the old queue are placed again by the supervisor.
 */
import { Worker as QueueConsumer, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CLAIM_REFUSED_STATES, type AgentState } from '../../src/domain/agent';
import { dispatchRefs, type DispatchMessage, type DispatchRef } from '../../src/domain/task';
import { isBatchJob, type Dispatcher } from '../../src/dispatch/dispatcher';
import type { Executor } from './executor';
import type { WorkerEvents } from './lifecycle';
import { Slots } from './slots';

export interface FlowControlOptions {
  /** The queue of this worker's pool (its pool key); null: none (it serves no type). */
  queue: string | null;
  concurrency: number;
  /** The command connection the consumer uses (it also opens one blocking connection of its own). */
  connection: Redis;
  redisPrefix: string;
  dispatcher: Pick<Dispatcher, 'sendOn' | 'forget'>;
  executor: Pick<Executor, 'execute'>;
  /** Learns the registry's state for this agent now (called when a claim was refused). */
  learnRegistryState: () => Promise<void>;
  events: WorkerEvents;
  log: Logger;
}

/** The registry refuses this agent's claims in these states, so the worker takes no new work in them. */
const REFUSING: ReadonlySet<AgentState> = new Set(CLAIM_REFUSED_STATES);

export class FlowControl {
  /** Keyed by queue name: the pool's queue once consuming. */
  private readonly consumers = new Map<string, QueueConsumer<DispatchMessage>>();
  private readonly slots: Slots;
  private taking = true;
  private held: AgentState | null = null;
  /** The pool's queue to consume (it changes with the worker's served types). */
  private target: string | null;
  private started = false;
  /** Moves between queues, one after the other; `close` waits for them. */
  private moving: Promise<void> = Promise.resolve();

  constructor(private readonly options: FlowControlOptions) {
    this.slots = new Slots(options.concurrency, () => this.applySlots());
    this.target = options.queue;
  }

  /** The queue consumed (the pool key), once consuming. */
  get queue(): string | null {
    return [...this.consumers.keys()][0] ?? null;
  }

  get concurrency(): number {
    return this.slots.capacity;
  }

  /** Sets the worker's slots: fewer → running tasks finish and nothing new starts until under the limit. */
  resize(concurrency: number): void {
    if (concurrency === this.slots.capacity) return;
    this.options.log.info({ from: this.slots.capacity, to: concurrency }, 'concurrency changed');
    this.slots.resize(concurrency);
  }

  /**
   * Consumes `queue` from now on (null: none): closes the current consumer after its jobs in flight, then opens
   * the new one. Resolves once moved; moves asked meanwhile run after it, each to the latest queue asked.
   */
  moveTo(queue: string | null): Promise<void> {
    if (queue === this.target) return this.moving;
    this.options.log.info({ from: this.target, to: queue }, "moving to another pool's queue");
    this.target = queue;
    this.moving = this.moving
      .then(() => this.follow())
      .catch((err: unknown) => {
        this.options.log.error({ err }, "could not move to the pool's queue");
      });
    return this.moving;
  }

  private async follow(): Promise<void> {
    const current = this.queue;
    if (current === this.target) return;
    if (current !== null) {
      const old = this.consumers.get(current)!;
      this.consumers.delete(current);
      await old.close();
    }
    if (this.started) this.consume();
  }

  /** The registry state that keeps this worker from taking work, if any. */
  get heldBy(): AgentState | null {
    return this.held;
  }

  get freeSlots(): number {
    return this.slots.free;
  }

  /** Starts consuming the pool's queue (once). */
  consume(): void {
    this.started = true;
    const queue = this.target;
    if (!this.taking || queue === null || this.consumers.size > 0) return;
    this.consumers.set(queue, this.createConsumer(queue));
  }

  /**
   * Acts on the state the registry holds for this agent (learnt at registration and every heartbeat): one
   * in which it refuses claims (suspended, frozen, draining, …) → take no new work, running tasks carry on
   * (a suspended or frozen agent's leases are reclaimed by the supervisor, which aborts them here at the next
   * renewal); any other state → take work again.
   */
  applyRegistryState(state: AgentState): void {
    const hold = REFUSING.has(state) ? state : null;
    if (hold === this.held) return;
    this.held = hold;
    if (hold) this.options.log.warn({ state }, 'the registry holds this agent: taking no new work');
    else this.options.log.info({ state }, 'taking work again');
    this.options.events.emit('held', hold);
    this.applySlots();
  }

  /** Takes no more work: jobs fetched from now on are handed back, and every consumer stops fetching. */
  async stopTaking(): Promise<void> {
    this.taking = false;
    await Promise.all([...this.consumers.values()].map((consumer) => consumer.pause(true)));
  }

  /** Closes every consumer; waits for their processors, which record each task before they return. */
  async close(): Promise<void> {
    this.taking = false;
    await this.moving;
    await Promise.all([...this.consumers.values()].map((consumer) => consumer.close()));
  }

  private createConsumer(route: string): QueueConsumer<DispatchMessage> {
    const consumer = new QueueConsumer<DispatchMessage>(route, (job, token) => this.process(job, token), {
      connection: this.options.connection,
      prefix: this.options.redisPrefix,
      concurrency: Math.max(1, this.slots.limitFor(route)),
      autorun: false,
      // The SQL lease, not BullMQ's job lock, guards a task; a lost job lock only risks a harmless re-dispatch.
      maxStalledCount: 1000,
      // A worker killed between fetching a job and claiming its task leaves the job active in Redis (so the
      // reconciler sees it as present). Short locks and frequent stall checks hand such jobs back within
      // seconds rather than BullMQ's default 30 s per check.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      // After a failed fetch (a command past its deadline on a dead connection, now replaced), BullMQ waits this
      // long before it fetches again: 15 s by default, half of the 30 s in which consumption must resume.
      runRetryDelay: 1_000,
    });
    consumer.on('error', (err) => this.options.log.debug({ err, route }, 'queue consumer error'));
    if (!this.fetching(route)) void consumer.pause(true);
    void consumer.run().catch((err: unknown) => this.options.log.error({ err, route }, 'queue consumer stopped'));
    return consumer;
  }

  private async process(job: Job<DispatchMessage>, token: string | undefined): Promise<void> {
    const route = job.queueName;
    const refs = dispatchRefs(job.data);
    const taken = this.taking && this.held === null ? this.slots.acquireUpTo(route, refs.length) : 0;
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
        run.map((ref) => this.runOne(ref).finally(() => this.slots.releaseTask(route))),
      );
      refused = run.filter((_, i) => outcomes[i] === 'refused');
      await handedOn;
    } finally {
      this.slots.endJob(route);
      if (isBatchJob(job.id)) {
        const ran = run.filter((ref) => !refused.includes(ref));
        this.options.dispatcher
          .forget(route, ran)
          .catch((err: unknown) => this.options.log.debug({ err }, 'could not remove markers'));
      }
    }
    if (refused.length > 0) {
      // The registry holds this agent: learn the state now rather than at the next heartbeat, and hand the
      // dispatches back for a worker that may run them (a lone one untouched, in its own job).
      await this.options.learnRegistryState().catch(() => undefined);
      if (refs.length === 1) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      await this.sendOn(job, refused);
    }
  }

  private async runOne(ref: DispatchRef): Promise<'done' | 'refused'> {
    try {
      return await this.options.executor.execute(ref);
    } catch (err) {
      // The task stays queued in SQL; the reconciler re-sends it after its grace period.
      this.options.log.error({ err, taskId: ref.taskId }, 'could not execute a dispatch');
      return 'done';
    }
  }

  /** Sends dispatches of this job on as a new job; when that fails, the reconciler re-sends them later. */
  private async sendOn(job: Job<DispatchMessage>, refs: DispatchRef[]): Promise<void> {
    await this.options.dispatcher.sendOn(job.queueName, job.name, refs, job.opts.priority).catch((err: unknown) => {
      this.options.log.warn({ err, tasks: refs.length }, 'could not send dispatches on; the reconciler will');
    });
  }

  /** Whether the consumer of `route` should fetch now: taking work, not held by the registry, a slot for it. */
  private fetching(route: string): boolean {
    return this.taking && this.held === null && this.slots.limitFor(route) > 0;
  }

  /**
   * Keeps every consumer's fetch limit within its running tasks plus the free slots, and pauses only a
   * consumer that may take nothing at all. A consumer with tasks running keeps running even when no slot is
   * free: its limit then equals what it holds, so BullMQ fetches nothing more, and a completion can still
   * fetch the next job in the same round trip (a paused consumer cannot, and pausing and resuming under
   * load would cost a round trip per task).
   */
  private applySlots(): void {
    for (const [route, consumer] of this.consumers) {
      const fetching = this.fetching(route);
      if (fetching) consumer.concurrency = this.slots.limitFor(route);
      if (!fetching && !consumer.isPaused()) void consumer.pause(true);
      else if (fetching && consumer.isPaused()) void consumer.resume();
    }
  }
}
