/**
 * Route controls: what an operator (or a circuit breaker) sets on one route (a task type and a capability set)
 * so that every supervisor and worker agrees, because it is kept in SQL and the claim itself obeys it.
 *
 * - **Paused**: the route's queued tasks wait; running ones finish; submissions are accepted.
 * - **Rate limit**: tasks started per second across the whole fleet, a token bucket kept on the route's row
 *   and spent by the claim (a burst of at most one second's worth, and at least one task).
 * - **Concurrency cap**: tasks of the route running at once across the whole fleet, counted by the claim.
 * - **Circuit breaker** (configured per task type, off by default): when at least `failures` of the last
 *   `window` attempts of a route failed, the route opens; after `cooldownMs` it is half-open and one probe task
 *   may start; the probe's outcome closes the route or opens it again.
 *
 * The claim is the truth; the supervisor's route gate (src/supervisor/routeGate.ts) only paces the doorbells,
 * so a doorbell rung for a held route is refused at its claim and harmless.
 */
import { z } from 'zod';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What a route shows: `active` unless paused by an admin or held by its circuit. */
export type RouteState = 'active' | 'paused' | 'circuit_open' | 'half_open';

export interface RouteControl {
  routeKey: string;
  paused: boolean;
  pausedAt: number | null;
  pausedBy: string | null;
  /** Tasks started per second across the fleet; null: no limit. */
  rateLimit: number | null;
  /** Tokens left in the bucket at `tokensAt` (only meaningful with a rate limit). */
  tokens: number;
  tokensAt: number | null;
  /** Tasks running at once across the fleet; null: no cap. */
  concurrencyCap: number | null;
  circuit: CircuitState;
  /** When the circuit entered its state. */
  circuitAt: number | null;
  /** The half-open route's probe task, once one was claimed. */
  probeTaskId: string | null;
  /** The last attempts' outcomes, oldest first: `S` succeeded, `F` failed (at most the breaker's window). */
  outcomes: string;
  /** The task event seq of the last outcome applied (each event is applied once, by whichever supervisor). */
  outcomesSeq: number;
  updatedAt: number;
}

/** A route control with the route's running tasks, as the gate reads them. */
export interface RouteControlLoad extends RouteControl {
  running: number;
}

export type RouteEventKind =
  'paused' | 'resumed' | 'limits_changed' | 'circuit_opened' | 'circuit_half_open' | 'circuit_closed';

export const ROUTE_EVENT_KINDS: readonly RouteEventKind[] = [
  'paused',
  'resumed',
  'limits_changed',
  'circuit_opened',
  'circuit_half_open',
  'circuit_closed',
];

export interface RouteEvent {
  seq: number;
  routeKey: string;
  at: number;
  kind: RouteEventKind;
  /** The API key id of an admin, or null for the circuit breaker. */
  actor: string | null;
  data: Record<string, unknown> | null;
}

export interface CircuitBreaker {
  type: string;
  /** Opens when at least this many of the last `window` attempts failed. */
  failures: number;
  window: number;
  cooldownMs: number;
  updatedAt: number;
  updatedBy: string;
}

export function routeState(c: Pick<RouteControl, 'paused' | 'circuit'> | null | undefined): RouteState {
  if (!c) return 'active';
  if (c.paused) return 'paused';
  if (c.circuit === 'open') return 'circuit_open';
  if (c.circuit === 'half_open') return 'half_open';
  return 'active';
}

/** The bucket's size: one second's worth of tasks, and at least one. */
export function bucketSize(rateLimit: number): number {
  return Math.max(1, rateLimit);
}

/** The tokens in the bucket at `now` (time never runs backwards for it: a claim with an older clock adds none). */
export function tokensAt(c: Pick<RouteControl, 'rateLimit' | 'tokens' | 'tokensAt'>, now: number): number {
  if (c.rateLimit === null) return Infinity;
  const elapsed = c.tokensAt === null ? 0 : Math.max(0, now - c.tokensAt);
  return Math.min(bucketSize(c.rateLimit), c.tokens + (elapsed * c.rateLimit) / 1000);
}

/**
 * How many tasks of a held route the gate rings for now, over the next `horizonMs`: none while paused or open;
 * the probe while half-open; otherwise what the cap and the bucket allow (the claim decides in the end).
 */
export function allowance(c: RouteControlLoad, now: number, horizonMs: number): number {
  if (c.paused || c.circuit === 'open') return 0;
  if (c.circuit === 'half_open') return c.probeTaskId === null ? 1 : 0;
  let n = Infinity;
  if (c.concurrencyCap !== null) n = Math.max(0, c.concurrencyCap - c.running);
  if (c.rateLimit !== null) {
    const ahead = Math.min(bucketSize(c.rateLimit), tokensAt(c, now) + (horizonMs * c.rateLimit) / 1000);
    n = Math.min(n, Math.floor(ahead));
  }
  return n;
}

/** Whether the route needs the gate at all: a route with no control is dispatched as any other. */
export function isGated(c: RouteControl): boolean {
  return c.paused || c.circuit !== 'closed' || c.rateLimit !== null || c.concurrencyCap !== null;
}

/** An attempt's outcome as the breaker counts it. */
export interface AttemptOutcome {
  seq: number;
  taskId: string;
  ok: boolean;
  at: number;
}

/** A change of the circuit, with the event that records it (null when only the window moved). */
export interface CircuitStep {
  next: Pick<RouteControl, 'circuit' | 'circuitAt' | 'probeTaskId' | 'outcomes' | 'outcomesSeq'>;
  event: { kind: RouteEventKind; data: Record<string, unknown> } | null;
}

/**
 * The breaker's rule for one outcome. Closed: the outcome joins the window; enough failures in it open the
 * route. Open: outcomes of tasks that were already running are ignored. Half-open: only the probe's outcome
 * counts, closing the route (a fresh window) or opening it again.
 */
export function applyOutcome(
  c: Pick<RouteControl, 'circuit' | 'circuitAt' | 'probeTaskId' | 'outcomes' | 'outcomesSeq'>,
  o: AttemptOutcome,
  b: Pick<CircuitBreaker, 'failures' | 'window'>,
): CircuitStep {
  const seq = Math.max(c.outcomesSeq, o.seq);
  if (c.circuit === 'closed') {
    const outcomes = (c.outcomes + (o.ok ? 'S' : 'F')).slice(-b.window);
    const failed = [...outcomes].filter((x) => x === 'F').length;
    if (!o.ok && failed >= b.failures) {
      return {
        next: { circuit: 'open', circuitAt: o.at, probeTaskId: null, outcomes, outcomesSeq: seq },
        event: { kind: 'circuit_opened', data: { failed, of: outcomes.length, taskId: o.taskId } },
      };
    }
    return { next: { ...c, outcomes, outcomesSeq: seq }, event: null };
  }
  if (c.circuit === 'half_open' && c.probeTaskId === o.taskId) {
    if (o.ok) {
      return {
        next: { circuit: 'closed', circuitAt: o.at, probeTaskId: null, outcomes: '', outcomesSeq: seq },
        event: { kind: 'circuit_closed', data: { probe: o.taskId } },
      };
    }
    return {
      next: { circuit: 'open', circuitAt: o.at, probeTaskId: null, outcomes: c.outcomes, outcomesSeq: seq },
      event: { kind: 'circuit_opened', data: { probe: o.taskId } },
    };
  }
  return { next: { ...c, outcomesSeq: seq }, event: null };
}

const routeLimit = z.number().positive().max(1_000_000).nullable();

/** `PATCH /v1/routes/:route`: either setting may be left out (unchanged) or null (removed). */
export const routeLimitsBody = z
  .strictObject({
    rateLimit: routeLimit.optional(),
    concurrencyCap: z.number().int().min(1).max(1_000_000).nullable().optional(),
  })
  .refine((b) => b.rateLimit !== undefined || b.concurrencyCap !== undefined, {
    message: 'give rateLimit or concurrencyCap (null removes it)',
  });

/** `PUT /v1/circuit-breakers/:type`. */
export const circuitBreakerBody = z
  .strictObject({
    failures: z.number().int().min(1).max(1000),
    window: z.number().int().min(1).max(100),
    cooldownMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 24 * 3_600_000),
  })
  .refine((b) => b.failures <= b.window, { message: 'failures cannot exceed window', path: ['failures'] });
