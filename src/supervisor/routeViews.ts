/** How the API shows a route's control, its events and the circuit breakers (src/domain/routeControl.ts). */
import { routeState, type CircuitBreaker, type RouteControl, type RouteEvent } from '../domain/routeControl';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A route's state and settings as every route view shows them (GET /v1/routes, /v1/routes/:route, /v1/stats). */
export function controlView(c: RouteControl | undefined, breaker: CircuitBreaker | undefined): Record<string, unknown> {
  return {
    state: routeState(c),
    paused: c?.paused ?? false,
    pausedAt: iso(c?.pausedAt ?? null),
    pausedBy: c?.pausedBy ?? null,
    settings: { rateLimit: c?.rateLimit ?? null, concurrencyCap: c?.concurrencyCap ?? null },
    circuit: breaker
      ? {
          state: c?.circuit ?? 'closed',
          since: iso(c?.circuitAt ?? null),
          probeTaskId: c?.probeTaskId ?? null,
          recent: c?.outcomes ?? '',
          breaker: { failures: breaker.failures, window: breaker.window, cooldownMs: breaker.cooldownMs },
        }
      : null,
  };
}

export function routeEventView(e: RouteEvent): Record<string, unknown> {
  return { seq: e.seq, at: iso(e.at), kind: e.kind, actor: e.actor, data: e.data };
}

export function breakerView(b: CircuitBreaker): Record<string, unknown> {
  return { ...b, updatedAt: iso(b.updatedAt) };
}
