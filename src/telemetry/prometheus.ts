/**
 * `GET /metrics` in Prometheus text format, for deployments without Azure. Fleet-wide figures from the one
 * place that has them all, the store: gauges from the same indexed queries as `/v1/stats` at each scrape,
 * and counters and histograms from the task event log, tailed by seq from the newest event when this
 * supervisor started (`start()`; every supervisor exposes the fleet's figures: scrape one, or aggregate with
 * max, not sum). A restart starts the counters again at zero, which `rate()` and `increase()` expect; a purge
 * deletes only events already counted. The purge counters are this supervisor's own deletes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { stalledAgentCounts } from '../domain/stall';
import type { TaskEvent } from '../domain/task';
import type { Store } from '../store/port';
import type { PurgeKind } from '../supervisor/purge';
import { fleetStats, type StatsDeps } from '../supervisor/stats';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

interface PoolGaugeFigures {
  key: string;
  backlog: number;
  freeSlots: number;
}

interface QueueFigures {
  route: string;
  type: string;
  queued: number;
  delayed: number;
  running: number;
  dead: number;
  oldestQueuedAgeMs: number | null;
  state: string;
}

export class PrometheusMetrics {
  readonly registry = new Registry();
  private lastSeq: number | null = null;
  private readonly backlog: Gauge;
  private readonly delayed: Gauge;
  private readonly running: Gauge;
  private readonly dead: Gauge;
  private readonly oldest: Gauge;
  private readonly poolBacklog: Gauge;
  private readonly poolFreeSlots: Gauge;
  private readonly agents: Gauge;
  private readonly capacity: Gauge;
  private readonly used: Gauge;
  private readonly utilisation: Gauge;
  private readonly heartbeatAge: Gauge;
  private readonly stalled: Gauge;
  private readonly routeState: Gauge;
  private readonly controlledRoutes: Gauge;
  private readonly events: Counter;
  private readonly purged: Counter;
  private readonly dispatchLatency: Histogram;
  private readonly runDuration: Histogram;
  private readonly endToEnd: Histogram;

  constructor(
    private readonly store: Store,
    private readonly stats: StatsDeps,
  ) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'taskfleet_supervisor_' });
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: r });
    const histogram = (name: string, help: string) =>
      new Histogram({ name, help, buckets: LATENCY_BUCKETS, registers: r });
    this.backlog = gauge('taskfleet_backlog_tasks', 'Queued tasks that are due, per route', ['route', 'type']);
    this.delayed = gauge('taskfleet_delayed_tasks', 'Queued tasks waiting for a delay or backoff', ['route', 'type']);
    this.running = gauge('taskfleet_running_tasks', 'Running tasks, per route', ['route', 'type']);
    this.dead = gauge('taskfleet_dead_tasks', 'Dead tasks, per route', ['route', 'type']);
    this.oldest = gauge('taskfleet_oldest_queued_age_seconds', 'Wait of the oldest due task', ['route', 'type']);
    this.poolBacklog = gauge(
      'taskfleet_pool_backlog',
      'Queued tasks that are due, per pool: each route counts in its tightest covering pool only',
      ['pool'],
    );
    this.poolFreeSlots = gauge('taskfleet_pool_free_slots', 'Free slots of the live agents, per pool', ['pool']);
    this.agents = gauge('taskfleet_agents', 'Agents by state', ['state']);
    this.routeState = gauge('taskfleet_route_state', 'Routes not active: 1 per route in its state', [
      'route',
      'type',
      'state',
    ]);
    this.controlledRoutes = gauge(
      'taskfleet_routes_controlled',
      'Routes paused, open, half-open, rate-limited, capped',
      ['control'],
    );
    this.capacity = gauge('taskfleet_capacity_slots', 'Concurrency of the live agents');
    this.used = gauge('taskfleet_used_slots', 'Tasks running on the live agents');
    this.utilisation = gauge('taskfleet_utilisation_ratio', 'Used over total capacity of the live agents');
    this.heartbeatAge = gauge('taskfleet_heartbeat_age_seconds', 'Time since each agent last heartbeated', ['agent']);
    this.stalled = gauge(
      'taskfleet_stalled_agents',
      'Agents idle beside tasks they cover: asked to recycle their Redis connections, or degraded for it',
      ['phase'],
    );
    this.events = new Counter({
      name: 'taskfleet_task_events_total',
      help: 'Task events since this supervisor started (rate() gives throughput)',
      labelNames: ['kind'],
      registers: r,
    });
    this.purged = new Counter({
      name: 'taskfleet_purged_total',
      help: 'Rows past their retention this supervisor deleted: tasks (with their events, logs, deliveries), agents, audit entries, route events, workflows',
      labelNames: ['kind'],
      registers: r,
    });
    this.dispatchLatency = histogram(
      'taskfleet_dispatch_latency_seconds',
      'From due (submit, delay, backoff) to start',
    );
    this.runDuration = histogram('taskfleet_run_duration_seconds', 'Handler run time of finished attempts');
    this.endToEnd = histogram('taskfleet_end_to_end_seconds', 'From submit to success');
  }

  /**
   * Marks where the counters start: the newest task event now. Called when the supervisor starts, so what happens
   * before the first scrape is counted too.
   */
  async start(): Promise<void> {
    this.lastSeq ??= await this.store.lastTaskEventSeq();
  }

  countPurged(kind: PurgeKind, rows: number): void {
    this.purged.inc({ kind }, rows);
  }

  /** The text exposition, after reading what happened since the last scrape. */
  async render(): Promise<string> {
    await this.tail();
    await this.refreshGauges();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async tail(maxBatches = 50, batch = 1000): Promise<void> {
    if (this.lastSeq === null) {
      // Not started (a test building the metrics alone): count from this first scrape on.
      await this.start();
      return;
    }
    for (let i = 0; i < maxBatches; i++) {
      const events = await this.store.listTaskEventsAfter(this.lastSeq, batch);
      for (const e of events) this.observe(e);
      const last = events[events.length - 1];
      if (last) this.lastSeq = last.seq;
      if (events.length < batch) return;
    }
  }

  private observe(e: TaskEvent): void {
    this.events.inc({ kind: e.kind });
    const data = (e.data ?? {}) as { waitMs?: unknown; runMs?: unknown; totalMs?: unknown };
    const seconds = (v: unknown) => (typeof v === 'number' && v >= 0 ? v / 1000 : null);
    const wait = seconds(data.waitMs);
    const run = seconds(data.runMs);
    const total = seconds(data.totalMs);
    if (e.kind === 'started' && wait !== null) this.dispatchLatency.observe(wait);
    if ((e.kind === 'succeeded' || e.kind === 'failed') && run !== null) this.runDuration.observe(run);
    if (e.kind === 'succeeded' && total !== null) this.endToEnd.observe(total);
  }

  private async refreshGauges(): Promise<void> {
    const s = (await fleetStats(this.stats, 60)) as {
      queues: QueueFigures[];
      pools: PoolGaugeFigures[];
      registry: { byState: Record<string, number>; capacity: number; used: number; utilisation: number | null };
      routes: Record<string, number>;
    };
    const labelled = [this.backlog, this.delayed, this.running, this.dead, this.oldest, this.heartbeatAge];
    // Labels of routes, agents and pools that are gone must not linger.
    for (const g of [...labelled, this.poolBacklog, this.poolFreeSlots, this.routeState]) g.reset();
    for (const q of s.queues) {
      const labels = { route: q.route, type: q.type };
      this.backlog.set(labels, q.queued);
      this.delayed.set(labels, q.delayed);
      this.running.set(labels, q.running);
      this.dead.set(labels, q.dead);
      if (q.oldestQueuedAgeMs !== null) this.oldest.set(labels, q.oldestQueuedAgeMs / 1000);
      if (q.state !== 'active') this.routeState.set({ ...labels, state: q.state }, 1);
    }
    for (const [control, n] of Object.entries(s.routes)) this.controlledRoutes.set({ control }, n);
    for (const p of s.pools) {
      this.poolBacklog.set({ pool: p.key }, p.backlog);
      this.poolFreeSlots.set({ pool: p.key }, p.freeSlots);
    }
    for (const [state, n] of Object.entries(s.registry.byState)) this.agents.set({ state }, n);
    this.capacity.set(s.registry.capacity);
    this.used.set(s.registry.used);
    this.utilisation.set(s.registry.utilisation ?? 0);
    const now = this.stats.clock.now();
    const agents = await this.store.listAgents();
    for (const a of agents) {
      this.heartbeatAge.set({ agent: a.id }, Math.max(0, now - a.lastHeartbeatAt) / 1000);
    }
    for (const [phase, n] of Object.entries(stalledAgentCounts(agents))) this.stalled.set({ phase }, n);
  }
}
