/**
 * The store as every process uses it: sensitive tasks' payloads and results sealed on the way in and opened on
 * the way out, so no caller (the API, the dispatcher, a worker) ever handles ciphertext and no adapter ever sees
 * a plain sensitive value. Both adapters are wrapped the same way (`openStore`).
 *
 * What a reader gets: a claim (the worker or agent that runs the task) and `getTask` (a single read through the
 * API, whose route decides who may make it) get the plain values; a list, a cancellation's answer and any
 * other task record this wrapper does not open get `REDACTED` in their place. A sealed value that cannot be
 * opened (its key is no longer configured, or it was altered) is a SealedDataError on a read; on a claim the
 * attempt fails with that reason instead of running the handler on nothing.
 *
 * Idempotent resubmission compares request hashes. A batch with a sensitive task stores keyed hashes (an HMAC
 * under the data key), so the store never holds a plain hash of a sensitive payload to test guesses against;
 * a replay after a key rotation is compared under each configured key in turn.
 */
import { ConflictError, ValidationError } from '../domain/errors';
import type { TaskError, TaskRecord } from '../domain/task';
import { afterLeaseExpiry, type RetryDecision } from '../domain/transitions';
import type { DataKeyRing } from '../security/dataKeys';
import { openValue, REDACTED, SealedDataError, sealValue } from '../security/encryption';
import type { ClaimResult, InsertOutcome, LeaseRef, NewTask, Store } from './port';

const SEALED = Symbol('taskfleet.sealedStore');

/** Why `sensitive: true` is refused when no key is configured (the API's 400). */
export const NO_DATA_KEY_MESSAGE =
  'sensitive tasks are encrypted with TASKFLEET_DATA_KEY, which this supervisor does not have: configure it to submit them';

/** How many claimed tasks a process remembers the sensitivity of (a completion then needs no read). */
const REMEMBERED_CLAIMS = 10_000;

function isTaskRecord(v: unknown): v is TaskRecord {
  return (
    typeof v === 'object' &&
    v !== null &&
    'sensitive' in v &&
    'payload' in v &&
    typeof (v as TaskRecord).id === 'string'
  );
}

/** A sensitive task with its payload and result replaced by REDACTED (a copy; others unchanged). */
export function redactTask(task: TaskRecord): TaskRecord {
  if (!task.sensitive) return task;
  return { ...task, payload: REDACTED, result: task.result === null ? null : REDACTED };
}

/** Task records anywhere in a method's answer (itself, an array of, or a field of), redacted. */
function redactDeep(value: unknown, depth = 0): unknown {
  if (isTaskRecord(value)) return redactTask(value);
  if (depth >= 2 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value))
    return value.some((v) => typeof v === 'object') ? value.map((v) => redactDeep(v, depth + 1)) : value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = redactDeep(v, depth + 1);
    if (out[k] !== v) changed = true;
  }
  return changed ? out : value;
}

class Sealer {
  /** taskId → sensitive, for the tasks this process claimed. */
  private readonly claimed = new Map<string, boolean>();

  constructor(
    private readonly store: Store,
    private readonly ring: DataKeyRing | null,
  ) {}

  /** The task with its payload and result opened; throws SealedDataError when they cannot be. */
  open(task: TaskRecord): TaskRecord {
    if (!task.sensitive) return task;
    return {
      ...task,
      payload: openValue(this.ring, task.id, 'payload', task.payload),
      result: task.result === null ? null : openValue(this.ring, task.id, 'result', task.result),
    };
  }

  async insertTasks(tasks: NewTask[]): Promise<InsertOutcome[]> {
    if (!tasks.some((t) => t.sensitive === true)) return this.openOutcomes(await this.store.insertTasks(tasks));
    const ring = this.ring;
    if (!ring) throw new ValidationError([{ field: 'sensitive', message: NO_DATA_KEY_MESSAGE }]);
    const sealed = tasks.map((t) =>
      t.sensitive === true ? { ...t, payload: sealValue(ring, t.id, 'payload', t.payload) } : t,
    );
    // The writing key's hashes first; a replay stored before a rotation matches under its own key.
    let conflict: unknown;
    for (const kid of ring.keyIds) {
      const keyed = sealed.map((t) =>
        t.requestHash === null ? t : { ...t, requestHash: ring.requestMac(t.requestHash, kid) },
      );
      try {
        return this.openOutcomes(await this.store.insertTasks(keyed));
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        conflict ??= err;
      }
    }
    throw conflict;
  }

  private openOutcomes(outcomes: InsertOutcome[]): InsertOutcome[] {
    return outcomes.map((o) => (o.task.sensitive ? { ...o, task: this.open(o.task) } : o));
  }

  async getTask(id: string): Promise<TaskRecord | null> {
    const task = await this.store.getTask(id);
    return task ? this.open(task) : null;
  }

  async claimTask(ref: LeaseRef & { leaseMs: number }): Promise<ClaimResult> {
    const result = await this.store.claimTask(ref);
    if (!result.claimed) return { ...result, current: result.current && redactTask(result.current) };
    this.remember(result.task.id, result.task.sensitive);
    try {
      return { claimed: true, task: this.open(result.task) };
    } catch (err) {
      if (!(err instanceof SealedDataError)) throw err;
      return this.refuseUnreadable(result.task, ref, err);
    }
  }

  /**
   * A claimed task whose payload cannot be opened fails its attempt: retried (another worker may hold the key)
   * when the key is missing and attempts remain, dead at once when the value was altered.
   */
  private async refuseUnreadable(task: TaskRecord, ref: LeaseRef, err: SealedDataError): Promise<ClaimResult> {
    const error: TaskError = { kind: err.code, message: err.message };
    const decision: RetryDecision = err.reason === 'key_missing' ? afterLeaseExpiry(task, ref.now) : { status: 'dead' };
    await this.store.failTask({
      taskId: task.id,
      attempt: task.attempt,
      agentId: ref.agentId,
      now: ref.now,
      error,
      decision,
    });
    this.claimed.delete(task.id);
    const current = await this.store.getTask(task.id);
    return { claimed: false, current: current && redactTask(current) };
  }

  async completeTask(ref: LeaseRef & { result: unknown }): Promise<boolean> {
    const sensitive = await this.isSensitive(ref.taskId);
    let written: boolean;
    if (!sensitive) {
      written = await this.store.completeTask(ref);
    } else {
      // Never stored in the clear: without a key (a supervisor an HTTP agent reports to), the report fails.
      const ring = this.ring;
      if (!ring)
        throw new SealedDataError(ref.taskId, 'key_missing', `sensitive task ${ref.taskId}: no data key is configured`);
      written = await this.store.completeTask({ ...ref, result: sealValue(ring, ref.taskId, 'result', ref.result) });
    }
    // Forgotten once written (or refused): a write that threw is sent again, and still knows what to seal.
    this.claimed.delete(ref.taskId);
    return written;
  }

  /** Whether a task is sensitive: known from this process's claim, otherwise read (an HTTP agent's report). */
  private async isSensitive(taskId: string): Promise<boolean> {
    const known = this.claimed.get(taskId);
    if (known !== undefined) return known;
    return (await this.store.getTask(taskId))?.sensitive === true;
  }

  private remember(taskId: string, sensitive: boolean): void {
    if (this.claimed.size >= REMEMBERED_CLAIMS) {
      // Leases that expired leave entries behind: drop the oldest half (a miss costs one read, not correctness).
      let drop = REMEMBERED_CLAIMS / 2;
      for (const key of this.claimed.keys()) {
        if (drop-- <= 0) break;
        this.claimed.delete(key);
      }
    }
    this.claimed.set(taskId, sensitive);
  }

  /** The attempt ended without a result to seal: forget the claim. */
  forget(taskId: unknown): void {
    if (typeof taskId === 'string') this.claimed.delete(taskId);
  }
}

const FORGETTING = new Set(['failTask', 'finishCancelled', 'releaseTask', 'reclaimLease', 'requeueExpiredLease']);

/**
 * Port methods whose answers hold no task record: called as they are, with nothing added to the hot paths
 * (renewals, heartbeats, dispatch). Any other method, including one added to the port later, has its answer
 * searched for task records to redact.
 */
const NO_TASK_RECORDS: ReadonlySet<string> = new Set([
  // Schedules hold a submission, never a task record (a sensitive submission cannot be scheduled).
  'createSchedule',
  'getSchedule',
  'listSchedules',
  'setSchedulePaused',
  'deleteSchedule',
  'listScheduleRuns',
  'listDueSchedules',
  'advanceSchedule',
  'listTaskEvents',
  // Route controls and circuit breakers: routes, settings and their events.
  'getRouteControl',
  'listRouteControls',
  'setRoutePaused',
  'setRouteLimits',
  'updateRouteCircuit',
  'listRouteEvents',
  'purgeRouteEvents',
  'putCircuitBreaker',
  'removeCircuitBreaker',
  'listCircuitBreakers',
  // Workflows, their steps and events: no task record (a step's task is read with getTask, its context plain).
  'insertWorkflow',
  'getWorkflow',
  'listWorkflows',
  'listWorkflowEvents',
  'listWorkflowEventsOfKinds',
  'lastWorkflowEventSeq',
  'applyWorkflowChange',
  'listWorkflowsToAdvance',
  'purgeWorkflows',
  // Route minutes: counts per route and minute.
  'rollUpRouteMinute',
  'listRouteMinutes',
  'purgeRouteMinutes',
  // Counts only.
  'purgeTasks',
  'purgeAgents',
  'purgeAudit',
  'listTaskEventsAfter',
  'lastTaskEventSeq',
  'listTaskEventsOfKinds',
  'listTaskHeads',
  'renewLease',
  'listExpiredLeases',
  'listOverdue',
  'expireTask',
  'expireUnroutable',
  'listQueuedForDispatch',
  'listQueuedOnRoute',
  'listClaimable',
  'markDispatched',
  'listRoutes',
  // Dispatch rows and task ids: a bulk retry or cancel page.
  'retryTasks',
  'cancelTasks',
  'registerAgent',
  'heartbeat',
  'setAgentState',
  'updateAgentSettings',
  'getAgent',
  'listAgents',
  'listAgentsPage',
  'recordAgentSamples',
  'listAgentSamples',
  'purgeAgentSamples',
  'listAgentEvents',
  'removeAgent',
  'listLeasesOf',
  'listAgentRuns',
  'countAgentRuns',
  'routeStats',
  'countTaskEvents',
  'insertApiKey',
  'findApiKeyByHash',
  'listApiKeys',
  'revokeApiKey',
  'declarePool',
  'listDeclaredPools',
  'removeDeclaredPool',
  // A sensitive task's progress and lines are never stored (the adapters refuse them), so none need sealing.
  'setTaskProgress',
  'appendTaskLogs',
  'listTaskLogs',
  'appendAudit',
  'listAudit',
  'ping',
  'close',
  // Not on the port: the SQLite adapter's own synchronous PRAGMA read (sqlitePragma), which must stay synchronous.
  'pragma',
]);

/**
 * Wraps `store` so sensitive tasks are sealed at rest with `ring` (null: no key configured; sensitive tasks are
 * then refused, and stored ones read as SealedDataError). Wrapping a sealed store returns it unchanged.
 */
export function sealStore(store: Store, ring: DataKeyRing | null): Store {
  if ((store as unknown as Record<symbol, unknown>)[SEALED]) return store;
  const sealer = new Sealer(store, ring);
  const own: Partial<Record<keyof Store, unknown>> = {
    insertTasks: sealer.insertTasks.bind(sealer),
    getTask: sealer.getTask.bind(sealer),
    claimTask: sealer.claimTask.bind(sealer),
    completeTask: sealer.completeTask.bind(sealer),
  };
  // Methods are called on the adapter itself (never on the proxy), each bound once (again if it is replaced).
  const bound = new Map<string, { value: unknown; fn: unknown }>();
  return new Proxy(store, {
    get(obj, prop) {
      if (prop === SEALED) return true;
      if (typeof prop === 'string' && prop in own) return own[prop as keyof Store];
      const value: unknown = Reflect.get(obj, prop);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const known = bound.get(prop);
      if (known?.value === value) return known.fn;
      const method = value as (...a: unknown[]) => Promise<unknown>;
      const fn: unknown = NO_TASK_RECORDS.has(prop) ? method.bind(obj) : redacting(obj, prop, method);
      bound.set(prop, { value, fn });
      return fn;
    },
  });

  // Everything else passes through; any task record it answers with is redacted, never opened.
  function redacting(obj: Store, prop: string, value: (...a: unknown[]) => Promise<unknown>) {
    return async (...args: unknown[]) => {
      if (FORGETTING.has(prop)) sealer.forget((args[0] as { taskId?: unknown } | undefined)?.taskId);
      const result: unknown = await value.apply(obj, args);
      return redactDeep(result);
    };
  }
}
