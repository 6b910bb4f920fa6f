/**
 * The telemetry facade: what the supervisor and workers report, independent of where it goes. Sinks are
 * Application Insights (when APPLICATIONINSIGHTS_CONNECTION_STRING is set), a JSON-lines file
 * (TASKFLEET_TELEMETRY_FILE, for local debugging and tests), or memory (tests). With none, every call is a
 * no-op. The current trace travels with async calls (AsyncLocalStorage), so everything reported while a task
 * runs carries the task's trace id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AgentState } from '../domain/agent';
import type { TraceContext } from './traceparent';

export const TASK_EVENTS = [
  'TaskSubmitted',
  'TaskStarted',
  'TaskSucceeded',
  'TaskFailed',
  'TaskRetried',
  'TaskDead',
  'TaskCancelled',
  'TaskExpired',
  'TaskLeaseReclaimed',
] as const;
export type TaskEventName = (typeof TASK_EVENTS)[number];

export const METRICS = {
  dispatchLatencyMs: 'taskfleet.dispatch_latency_ms',
  runDurationMs: 'taskfleet.run_duration_ms',
  endToEndMs: 'taskfleet.end_to_end_ms',
  backlog: 'taskfleet.backlog',
  oldestQueuedAgeMs: 'taskfleet.oldest_queued_age_ms',
  /** Per pool (`pool`: its key): each route's due tasks count in its tightest covering pool only. */
  poolBacklog: 'taskfleet.pool_backlog',
  poolFreeSlots: 'taskfleet.pool_free_slots',
  agents: 'taskfleet.agents',
  utilisation: 'taskfleet.utilisation',
  heartbeatAgeMs: 'taskfleet.heartbeat_age_ms',
  leaseReclaims: 'taskfleet.lease_reclaims',
  /** One per stall episode: the supervisor asked an idle agent beside waiting tasks to recycle its connections. */
  agentStalls: 'taskfleet.agent_stalls',
  /** Agents in a stall episode, by phase (`recycle_requested`, `degraded`): what to alert on. */
  stalledAgents: 'taskfleet.stalled_agents',
  /** A Redis connection found dead (silent past its deadline) and replaced. */
  redisDeadConnections: 'taskfleet.redis_dead_connections',
} as const;
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

export type Properties = Record<string, string | number | boolean | null | undefined>;

export interface TelemetryItem {
  kind: 'event' | 'metric' | 'dependency';
  name: string;
  at: number;
  properties: Record<string, string>;
  value?: number;
  durationMs?: number;
  success?: boolean;
  traceId?: string;
}

export interface TelemetrySink {
  emit(item: TelemetryItem): void;
  /** Makes `trace` the active context of the sink's own tracing (Application Insights), around `fn`. */
  wrap?<T>(trace: TraceContext, fn: () => T): T;
  flush(): Promise<void>;
}

/** The task fields every task event carries. */
export interface TaskSubject {
  id: string;
  type: string;
  requiredCapabilities: readonly string[];
  attempt: number;
  agentId?: string | null;
}

function stringify(props: Properties): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

export class Telemetry {
  private readonly trace = new AsyncLocalStorage<TraceContext>();

  constructor(
    private readonly sinks: readonly TelemetrySink[],
    /** Properties on every item: the process role and instance. */
    private readonly common: Properties = {},
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.sinks.length > 0;
  }

  taskEvent(name: TaskEventName, task: TaskSubject, extra: Properties = {}): void {
    this.emit('event', name, {
      taskId: task.id,
      type: task.type,
      capabilitySet: task.requiredCapabilities.join(','),
      attempt: task.attempt,
      agentId: task.agentId ?? undefined,
      ...extra,
    });
  }

  agentStateChanged(agentId: string, from: AgentState | null, to: AgentState, reason: string): void {
    this.emit('event', 'AgentStateChanged', { agentId, from: from ?? undefined, to, reason });
  }

  metric(name: MetricName, value: number, props: Properties = {}): void {
    this.emit('metric', name, props, { value });
  }

  dependency(d: { type: 'SQL' | 'Redis'; name: string; target: string; durationMs: number; success: boolean }): void {
    this.emit(
      'dependency',
      d.name,
      { type: d.type, target: d.target },
      { durationMs: d.durationMs, success: d.success },
    );
  }

  /** Runs `fn` with `trace` as the current trace; without one, runs it as it is. */
  inTrace<T>(trace: TraceContext | null, fn: () => T): T {
    if (!trace) return fn();
    const wrapped = this.sinks.reduce<() => T>(
      (inner, sink) => (sink.wrap ? () => sink.wrap!(trace, inner) : inner),
      fn,
    );
    return this.trace.run(trace, wrapped);
  }

  currentTrace(): TraceContext | null {
    return this.trace.getStore() ?? null;
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush().catch(() => undefined)));
  }

  private emit(kind: TelemetryItem['kind'], name: string, props: Properties, more: Partial<TelemetryItem> = {}): void {
    if (this.sinks.length === 0) return;
    const traceId = this.currentTrace()?.traceId;
    const item: TelemetryItem = {
      kind,
      name,
      at: this.now(),
      properties: stringify({ ...this.common, ...props }),
      ...more,
      ...(traceId ? { traceId } : {}),
    };
    for (const sink of this.sinks) {
      try {
        sink.emit(item);
      } catch {
        // telemetry never breaks the work it reports on
      }
    }
  }
}

export const noTelemetry = new Telemetry([]);

/** Keeps every item in memory (tests). */
export class MemorySink implements TelemetrySink {
  readonly items: TelemetryItem[] = [];
  emit(item: TelemetryItem): void {
    this.items.push(item);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
