/** Route-control rows of both adapters and their mapping to src/domain/routeControl.ts (see rowMapping.ts). */
import type {
  CircuitBreaker,
  CircuitState,
  RouteControl,
  RouteControlLoad,
  RouteEvent,
  RouteEventKind,
} from '../domain/routeControl';
import type { ColumnTypes } from './rowMapping';

export interface RouteControlRowOf<Time, Flag> {
  route_key: string;
  paused: Flag;
  paused_at: Time | null;
  paused_by: string | null;
  rate_limit: number | null;
  tokens: number;
  tokens_at: Time | null;
  concurrency_cap: number | null;
  circuit: string;
  circuit_at: Time | null;
  probe_task_id: string | null;
  outcomes: string;
  outcomes_seq: number | string;
  updated_at: Time;
  running?: number;
}

export interface RouteEventRowOf<Time, Seq> {
  seq: Seq;
  route_key: string;
  at: Time;
  kind: string;
  actor: string | null;
  data: string | null;
}

export interface CircuitBreakerRowOf<Time> {
  type: string;
  failures: number;
  window_size: number;
  cooldown_ms: number;
  updated_at: Time;
  updated_by: string;
}

export function routeControlMappers<Time, Flag, Seq>(c: ColumnTypes<Time, Flag, Seq>) {
  const time = (v: Time | null) => (v === null ? null : c.time(v));
  const toControl = (row: RouteControlRowOf<Time, Flag>): RouteControl => ({
    routeKey: row.route_key,
    paused: c.flag(row.paused),
    pausedAt: time(row.paused_at),
    pausedBy: row.paused_by,
    rateLimit: row.rate_limit,
    tokens: row.tokens,
    tokensAt: time(row.tokens_at),
    concurrencyCap: row.concurrency_cap,
    circuit: row.circuit as CircuitState,
    circuitAt: time(row.circuit_at),
    probeTaskId: row.probe_task_id,
    outcomes: row.outcomes,
    outcomesSeq: Number(row.outcomes_seq),
    updatedAt: c.time(row.updated_at),
  });
  return {
    toControl,
    toLoad: (row: RouteControlRowOf<Time, Flag>): RouteControlLoad => ({
      ...toControl(row),
      running: Number(row.running ?? 0),
    }),
    toEvent: (row: RouteEventRowOf<Time, Seq>): RouteEvent => ({
      seq: c.seq(row.seq),
      routeKey: row.route_key,
      at: c.time(row.at),
      kind: row.kind as RouteEventKind,
      actor: row.actor,
      data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    }),
    toBreaker: (row: CircuitBreakerRowOf<Time>): CircuitBreaker => ({
      type: row.type,
      failures: row.failures,
      window: row.window_size,
      cooldownMs: row.cooldown_ms,
      updatedAt: c.time(row.updated_at),
      updatedBy: row.updated_by,
    }),
  };
}

/** A route's control before anything was set on it. */
export function defaultControl(routeKey: string, now: number): RouteControl {
  return {
    routeKey,
    paused: false,
    pausedAt: null,
    pausedBy: null,
    rateLimit: null,
    tokens: 0,
    tokensAt: null,
    concurrencyCap: null,
    circuit: 'closed',
    circuitAt: null,
    probeTaskId: null,
    outcomes: '',
    outcomesSeq: 0,
    updatedAt: now,
  };
}
