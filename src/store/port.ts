/**
 * The store port: the only way the supervisor, dispatch and workers touch SQL.
 *
 * Adapters perform atomic, conditional reads and writes and nothing else: every decision (retry or dead,
 * backoff, expiry) is made in `src/domain` and passed in. Every write that belongs to a lease is conditional
 * on the lease's fencing token (`attempt`) and status, so a zombie worker can never overwrite a newer attempt.
 * All times are epoch milliseconds supplied by the caller (an injected clock).
 *
 * Both adapters pass `test/contract/store.contract.ts`.
 */
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../domain/security';
import type { Route } from '../domain/capabilities';
import type { DeclaredPool } from '../domain/pool';
import type { Priority, TaskError, TaskEvent, TaskRecord, TaskStatus } from '../domain/task';
import type { TaskLogBatch, TaskLogs } from '../domain/taskLog';
import type { RetryDecision } from '../domain/transitions';
import type { ScheduleStore } from './schedulePort';
import type { RouteControlStore } from './routeControlPort';
import type { RouteMinuteStore } from './routeMinutesPort';
import type { PurgeStore } from './purgePort';
import type { AgentStore } from './agentPort';
import type { WebhookStore } from './webhookPort';
import type { WorkflowStore } from './workflowPort';
import type { WorkflowTaskContext } from '../domain/workflow';

export type {
  AgentPageQuery,
  AgentRecycleChange,
  AgentRegistration,
  AgentRun,
  AgentRunCounts,
  AgentSettingsUpdate,
  AgentStateChange,
  HeartbeatReport,
} from './agentPort';

export interface NewTask {
  id: string;
  type: string;
  requiredCapabilities: string[];
  priority: Priority;
  payload: unknown;
  maxAttempts: number;
  timeoutSeconds: number | null;
  notBefore: number;
  deadline: number | null;
  /** Already scoped to the caller by the service; unique among tasks. */
  idempotencyKey: string | null;
  /** Hash of the submitted body; a reused key with another hash is a conflict. */
  requestHash: string | null;
  /** The submitting API key's id. */
  submittedBy: string | null;
  /** W3C traceparent of the submit: every run of the task belongs to this trace. Optional for old callers. */
  traceParent?: string | null;
  /** Payload and result stored sealed (see TaskRecord.sensitive); false when omitted. */
  sensitive?: boolean;
  /** Where the task's terminal events are posted (a webhook signed with the submitter's secret). */
  callbackUrl?: string | null;
  /** A workflow step's task: its place in the workflow (kept with the task; null or absent otherwise). */
  workflow?: WorkflowTaskContext | null;
  createdAt: number;
}

export interface InsertOutcome {
  task: TaskRecord;
  /** false when an idempotency key matched an existing task with the same request hash. */
  created: boolean;
}

export interface TaskFilter {
  status?: TaskStatus;
  type?: string;
  /** Tasks whose required set contains this capability. */
  capability?: string;
  /** Keyset pagination: only tasks with an id lower than this (ids sort by creation time; newest first). */
  beforeId?: string;
  /** Only the tasks this API key submitted: what a submitter's list is limited to. */
  submittedBy?: string;
  limit: number;
}

/** Identifies one attempt of one task, held by one agent: the fencing token and its owner. */
export interface LeaseRef {
  taskId: string;
  attempt: number;
  agentId: string;
  now: number;
}

/**
 * A claim's answer. Not claimed: the task as it is now, and `routeHeld` when it is still queued for this dispatch
 * but its route's control refused it (paused, circuit open, over its cap or rate): the dispatch is not the
 * worker's to hand on, the route gate rings again when the route allows (src/supervisor/routeGate.ts).
 */
export type ClaimResult =
  { claimed: true; task: TaskRecord } | { claimed: false; current: TaskRecord | null; routeHeld?: boolean };

export interface RenewResult {
  held: boolean;
  cancelRequested: boolean;
}

export type CancelOutcome = 'cancelled' | 'requested' | 'already_terminal' | 'not_found';

/** A queued task as the dispatcher needs it to (re-)enqueue. */
export interface DispatchRow {
  id: string;
  attempt: number;
  type: string;
  requiredCapabilities: string[];
  priority: Priority;
  notBefore: number;
  traceParent?: string | null;
}

/** Which events `listTaskEventsOfKinds` answers. */
export interface TaskEventKindRange {
  afterSeq: number;
  upToSeq: number;
  kinds: readonly string[];
  limit: number;
}

/** What `listTaskHeads` answers per task. */
export interface TaskHead {
  id: string;
  type: string;
  /** routeKey(type, required capabilities): the route whose circuit breaker counts the task's outcomes. */
  routeKey: string;
  submittedBy: string | null;
  callbackUrl: string | null;
}

/** Which queued tasks of one route listQueuedOnRoute returns (see there). */
export interface RouteQueueQuery {
  /** Capabilities normalised and sorted, as every Route the store hands out. */
  route: Route;
  dueBefore: number;
  sentBefore: number;
  /** The last row of the previous page: its notBefore and id. */
  after?: { notBefore: number; id: string };
  limit: number;
}

/** Which queued tasks listClaimable returns: those of each route due at or before that route's `dueBefore`. */
export interface ClaimableQuery {
  routes: ReadonlyArray<{ route: Route; dueBefore: number }>;
  limit: number;
}

export interface ExpiredLease {
  id: string;
  attempt: number;
  maxAttempts: number;
  agentId: string | null;
}

/** Task counts of one route (a type and a capability set) in the non-terminal states and `dead`. */
export interface RouteStats {
  type: string;
  capabilities: string[];
  /** queued and due now (not_before <= now) */
  queued: number;
  /** queued with not_before > now (delayed or backing off) */
  delayed: number;
  running: number;
  dead: number;
  /** Earliest `notBefore` among the due queued tasks (it is the creation time unless delayed): the oldest wait. */
  oldestQueuedAt: number | null;
}

/**
 * One page of a bulk retry or cancel: the tasks in one `status`, by id ascending after `afterId` (the keyset of
 * the (status, id) index), narrowed by the optional filters.
 */
export interface BulkTaskQuery {
  status: TaskStatus;
  type?: string;
  /** Tasks whose required set contains this capability. */
  capability?: string;
  /** Only tasks created before this time (epoch ms). */
  createdBefore?: number;
  /** Only the tasks this API key submitted (the ownership rule, should a non-operator role ever be let in). */
  submittedBy?: string;
  /** Keyset: only ids greater than this ('' or omitted for the start). */
  afterId?: string;
  limit: number;
  now: number;
}

/** Who retries: recorded in the `retried` event's data as `{ by }`. */
export interface RetryActor {
  by: string;
}

/** What one page of a bulk action did; `lastId` is the keyset for the next page (null: the page was empty). */
export interface BulkPage {
  matched: number;
  lastId: string | null;
}

export interface Store
  extends AgentStore, WebhookStore, ScheduleStore, PurgeStore, RouteControlStore, RouteMinuteStore, WorkflowStore {
  readonly kind: 'sqlite' | 'mssql';

  // ---- tasks: submission and reads
  /**
   * Inserts tasks, their `submitted` events and their routes in one transaction (all or nothing).
   * A task whose idempotency key exists returns the stored task (`created: false`) when the request hash
   * matches, and throws ConflictError (rolling back the whole batch) when it does not.
   */
  insertTasks(tasks: NewTask[]): Promise<InsertOutcome[]>;
  getTask(id: string): Promise<TaskRecord | null>;
  listTasks(filter: TaskFilter): Promise<TaskRecord[]>;
  listTaskEvents(taskId: string): Promise<TaskEvent[]>;
  /** Every task's events with seq > afterSeq, oldest first: how the supervisor tails the log for metrics. */
  listTaskEventsAfter(afterSeq: number, limit: number): Promise<TaskEvent[]>;
  /**
   * The events of these kinds with afterSeq < seq <= upToSeq, oldest first, at most `limit`: what the webhook
   * outbox turns into deliveries, without reading every other event of the range.
   */
  listTaskEventsOfKinds(opts: TaskEventKindRange): Promise<TaskEvent[]>;
  /** The seq of the newest task event, 0 when there is none. */
  lastTaskEventSeq(): Promise<number>;
  /**
   * A few columns of each of these tasks (unknown ids left out), in one query: the type the fleet event stream
   * shows with each event, and who submitted it and its callback URL, which tell the webhook outbox whether a
   * terminal event of it can have a delivery at all.
   */
  listTaskHeads(ids: string[]): Promise<TaskHead[]>;

  // ---- tasks: the lease-bound life of an attempt
  /**
   * Claims a queued task for `agentId`: only when it is `queued`, its attempt equals `attempt` (the job's
   * dispatch attempt), its deadline has not passed, and the agent is not held by the registry (suspended,
   * frozen, draining, stopped or failed; an agent the registry does not know may claim). Sets `running`, attempt + 1, the lease, `startedAt`,
   * and appends `started`. Otherwise returns the current row (or null) for the caller to decide.
   */
  claimTask(ref: LeaseRef & { leaseMs: number }): Promise<ClaimResult>;
  /** Extends the lease of a running attempt; tells the holder whether a cancel was requested. */
  renewLease(ref: LeaseRef & { leaseMs: number }): Promise<RenewResult>;
  /** running → succeeded for the current attempt; a stale attempt appends `result_rejected` and returns false. */
  completeTask(ref: LeaseRef & { result: unknown }): Promise<boolean>;
  /** running → queued (not_before) or dead, as decided; a stale attempt appends `result_rejected`. */
  failTask(ref: LeaseRef & { error: TaskError; decision: RetryDecision }): Promise<boolean>;
  /** running with cancel requested → cancelled, after the worker aborted the handler. */
  finishCancelled(ref: LeaseRef): Promise<boolean>;
  /** running → queued without a failure (a draining worker hands the task back). */
  releaseTask(ref: LeaseRef): Promise<boolean>;

  // ---- tasks: what a running attempt reports (progress and log lines)
  /**
   * Sets the task's latest progress (JSON) and its time, only while attempt `attempt` is running and the task is
   * not sensitive (a sensitive task's progress is never kept). False when refused.
   */
  setTaskProgress(write: { taskId: string; attempt: number; progress: unknown; now: number }): Promise<boolean>;
  /**
   * Appends log lines of one attempt and records its dropped totals, under the same condition as
   * setTaskProgress (a zombie attempt's lines, and any line of a sensitive task, are refused). False when refused.
   */
  appendTaskLogs(batch: TaskLogBatch): Promise<boolean>;
  /** The kept lines of one attempt in order, and what the caps dropped (zeros when nothing was). */
  listTaskLogs(taskId: string, attempt: number): Promise<TaskLogs>;

  // ---- tasks: supervisor actions and background loops
  /** queued → cancelled at once; running → cancel requested (cooperative); terminal → unchanged. */
  requestCancel(taskId: string, now: number): Promise<{ outcome: CancelOutcome; task: TaskRecord | null }>;
  /** Running tasks whose lease expired before `now`. */
  listExpiredLeases(now: number, limit: number): Promise<ExpiredLease[]>;
  /** running (attempt, lease expired) → queued or dead as decided; appends `lease_expired` and the outcome. */
  requeueExpiredLease(ref: { taskId: string; attempt: number; now: number; decision: RetryDecision }): Promise<boolean>;
  /** Queued tasks whose deadline is at or before `now`. */
  listOverdue(now: number, limit: number): Promise<Array<{ id: string; attempt: number }>>;
  /**
   * queued (attempt) and due since `dueBefore` or earlier → expired, with `expired` { reason: 'unroutable' }: the
   * fleet policy for tasks nothing could run for too long. False, writing nothing, otherwise.
   */
  expireUnroutable(ref: { taskId: string; attempt: number; dueBefore: number; now: number }): Promise<boolean>;
  /** queued (attempt) with deadline passed → expired. */
  expireTask(ref: { taskId: string; attempt: number; now: number }): Promise<boolean>;
  /**
   * Queued tasks to (re-)send to Redis, by id ascending after `afterId`. With `dueBefore`, only tasks whose
   * last dispatch (submission, requeue or a previous re-send) and `notBefore` are both at or before it.
   */
  listQueuedForDispatch(opts: { afterId?: string; dueBefore?: number; limit: number }): Promise<DispatchRow[]>;
  /**
   * Queued tasks of one route whose notBefore is at or before `dueBefore` and whose last dispatch is at or
   * before `sentBefore`, oldest notBefore first (ties by id), after the keyset `after` when given; at most `limit`.
   */
  listQueuedOnRoute(opts: RouteQueueQuery): Promise<DispatchRow[]>;
  /**
   * What may be claimed for an HTTP agent (the supervisor claims each row with claimTask): queued tasks of the
   * query's routes, due by their route's time, critical first, then oldest notBefore, then id; at most `limit`.
   * Rows another claimer holds locked at that moment may be skipped (mssql READPAST).
   */
  listClaimable(query: ClaimableQuery): Promise<DispatchRow[]>;
  /** Records that these queued tasks were just (re-)sent. */
  markDispatched(taskIds: string[], now: number): Promise<void>;
  /** Every route any task was ever submitted on. */
  listRoutes(): Promise<Route[]>;
  /**
   * dead, cancelled or expired (at `attempt`) → queued at `now`, with `maxAttempts` raised by the task's original
   * budget (the first retry records it as `initial_max_attempts`), the result, error, lease and finish cleared, a
   * deadline already passed dropped, and a `retried` event { by, from, maxAttempts } in the same transaction.
   * Null, writing nothing, when the task is not in one of those states at that attempt (a concurrent retry won).
   */
  retryTask(ref: { taskId: string; attempt: number; now: number } & RetryActor): Promise<TaskRecord | null>;
  /** retryTask for one page of BulkTaskQuery (status dead, cancelled or expired), in one transaction. */
  retryTasks(query: BulkTaskQuery & RetryActor): Promise<BulkPage & { retried: DispatchRow[] }>;
  /**
   * requestCancel for one page of BulkTaskQuery (status queued or running), in one transaction: the queued
   * tasks cancelled at once, the running ones flagged (only those not flagged already are counted).
   */
  cancelTasks(query: BulkTaskQuery): Promise<BulkPage & { cancelled: string[]; cancelRequested: string[] }>;

  // ---- agents: the registry is AgentStore (agentPort.ts); the leases an agent holds are here
  /** Running tasks whose lease `agentId` holds. */
  listLeasesOf(agentId: string, limit: number): Promise<ExpiredLease[]>;
  /**
   * running (attempt, held by agentId, lease not necessarily expired) → queued or dead as decided: the
   * supervisor takes the lease back from a suspended agent. Appends `lease_reclaimed` and the outcome.
   */
  reclaimLease(ref: LeaseRef & { decision: RetryDecision }): Promise<boolean>;

  // ---- stats (indexed queries: they must stay fast with a million tasks)
  /** Per-route counts; routes with nothing queued, running or dead are left out. */
  routeStats(now: number): Promise<RouteStats[]>;
  /**
   * How many task events of each kind happened at or after `since`. `started` is not counted (it is the most
   * frequent event and nothing needs its count, so the index behind this leaves it out).
   */
  countTaskEvents(
    kinds: readonly CountedEventKind[],
    since: number,
  ): Promise<Partial<Record<CountedEventKind, number>>>;

  // ---- declared pools
  /**
   * Stores a declared pool unless one with its key exists (idempotent): answers the pool as stored and whether
   * this call created it (an existing declaration keeps its note, declarer and time).
   */
  declarePool(pool: DeclaredPool): Promise<{ pool: DeclaredPool; created: boolean }>;
  /** Every declared pool, by key. */
  listDeclaredPools(): Promise<DeclaredPool[]>;
  /** Deletes a declaration; false when no pool has this key. */
  removeDeclaredPool(key: string): Promise<boolean>;

  // ---- API keys and the audit log
  insertApiKey(key: ApiKeyRecord): Promise<void>;
  /** The key with this hash, revoked or not (the caller checks revokedAt). */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; false when unknown or already revoked. */
  revokeApiKey(id: string, now: number): Promise<boolean>;
  appendAudit(entry: NewAuditEntry): Promise<void>;
  /** Newest first; keyset paging with `beforeSeq`. */
  listAudit(opts: { limit: number; beforeSeq?: number; action?: string }): Promise<AuditEntry[]>;

  /** Throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The task event kinds `countTaskEvents` counts: every kind but `started`. */
export type CountedEventKind = Exclude<TaskEvent['kind'], 'started'>;
