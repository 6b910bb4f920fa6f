/**
 * The API's JSON shapes: ISO-8601 times, absent optional fields left out. The return types are inferred, not
 * declared, so the typed client (src/client/types.ts) derives its answer types from exactly what is sent.
 */
import { isLive, type AgentEvent, type AgentRecord } from '../domain/agent';
import type { RouteState } from '../domain/routeControl';
import type { TaskEvent, TaskRecord } from '../domain/task';

// The tasks of one batch share their times to the millisecond, so the last conversion is kept.
let lastMs = NaN;
let lastIso = '';
const iso = (ms: number | null): string | undefined => {
  if (ms === null) return undefined;
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
};

/**
 * `routeState` is the task's route's (src/domain/routeControl.ts): a queued task shows `paused` while its route is
 * paused or its circuit open, and the route's state whenever it is not active.
 */
export function taskView(t: TaskRecord, routable: boolean, routeState: RouteState = 'active') {
  const queued = t.status === 'queued';
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    routable,
    paused: queued ? routeState === 'paused' || routeState === 'circuit_open' : undefined,
    routeState: queued && routeState !== 'active' ? routeState : undefined,
    attempt: t.attempt,
    maxAttempts: t.maxAttempts,
    requiredCapabilities: t.requiredCapabilities,
    priority: t.priority,
    // A sensitive task's payload and result are plain only in a single read; lists show them redacted.
    sensitive: t.sensitive || undefined,
    payload: t.payload,
    result: t.status === 'succeeded' ? t.result : undefined,
    error: t.error ?? undefined,
    agentId: t.agentId ?? undefined,
    cancelRequested: t.cancelRequested || undefined,
    // Always present (null when none), so a client can tell "no progress yet" from an older server.
    progress: t.progress ?? null,
    progressAt: t.progressAt === undefined ? null : iso(t.progressAt),
    timeoutSeconds: t.timeoutSeconds ?? undefined,
    notBefore: iso(t.notBefore),
    deadline: iso(t.deadline),
    leaseExpiresAt: iso(t.leaseExpiresAt),
    createdAt: iso(t.createdAt),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    updatedAt: iso(t.updatedAt),
  };
}

export function taskEventView(e: TaskEvent) {
  return {
    seq: e.seq,
    at: iso(e.at),
    kind: e.kind,
    attempt: e.attempt,
    agentId: e.agentId ?? undefined,
    data: e.data ?? undefined,
  };
}

export function agentView(a: AgentRecord, now: number, staleAfterMs: number) {
  return {
    id: a.id,
    state: a.state,
    stateReason: a.stateReason ?? undefined,
    stateSource: a.stateSource,
    live: isLive(a, now, staleAfterMs),
    capabilities: a.capabilities,
    types: a.types,
    disabledTypes: a.disabledTypes,
    concurrency: a.concurrency,
    desiredConcurrency: a.desiredConcurrency,
    runningTasks: a.runningTasks,
    lastHeartbeatAt: iso(a.lastHeartbeatAt),
    heartbeatAgeMs: now - a.lastHeartbeatAt,
    startedAt: iso(a.startedAt),
    hostname: a.hostname,
    pid: a.pid,
    version: a.version,
    transport: a.transport,
    metadata: a.metadata ?? undefined,
    metrics: a.metrics ?? undefined,
    recycleRequestedAt: iso(a.recycleRequestedAt),
  };
}

export function agentEventView(e: AgentEvent): Record<string, unknown> {
  return { seq: e.seq, at: iso(e.at), from: e.fromState ?? undefined, to: e.toState, reason: e.reason };
}
