/**
 * The embedded SQLite adapter of the store port (better-sqlite3, one connection per store).
 *
 * Several processes (a supervisor and its workers) may open the same file. Every write goes through the
 * group commit (groupCommit.ts): it runs in a `BEGIN IMMEDIATE` transaction shared with the other writes of
 * the same turn of the event loop. Taking the write lock up front, rather than upgrading a read lock inside
 * a deferred transaction, is what keeps two writers from deadlocking (SQLITE_BUSY that busy_timeout cannot
 * resolve), so reads inside a write see exactly the state it applies to; and waiting for the lock never
 * stops the event loop (a supervisor stays responsive while a stopped worker holds it). Reads run directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AgentState } from '../../domain/agent';
import type { Route } from '../../domain/capabilities';
import { StoreFullError, UnavailableError } from '../../domain/errors';
import type { DeclaredPool } from '../../domain/pool';
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../../domain/security';
import type { TaskError, TaskEvent, TaskEventKind, TaskRecord, TaskStatus } from '../../domain/task';
import type { TaskLogBatch, TaskLogs } from '../../domain/taskLog';
import type { RetryDecision } from '../../domain/transitions';
import type {
  AgentRun,
  AgentRunCounts,
  CancelOutcome,
  ClaimResult,
  DispatchRow,
  ExpiredLease,
  InsertOutcome,
  LeaseRef,
  NewTask,
  RenewResult,
  RouteQueueQuery,
  ClaimableQuery,
  RouteStats,
  Store,
  TaskEventKindRange,
  TaskHead,
  TaskFilter,
  BulkPage,
  BulkTaskQuery,
  RetryActor,
} from '../port';
import { SqliteAgents } from './agents';
import * as background from './background';
import { startCheckpointer, type Checkpointer } from './checkpointer';
import * as fleet from './fleet';
import { GroupCommit } from './groupCommit';
import * as lease from './lease';
import * as logs from './logs';
import * as pools from './pools';
import * as purge from './purge';
import * as retry from './retry';
import { SqliteRouteControls } from './routeControls';
import { SqliteRouteMinutes } from './routeMinutes';
import { SqliteSchedules } from './schedules';
import { sqliteErrorCode, toJson, toLease, toRoute, toTaskEvent, toTaskHead } from './rows';
import { applySchema } from './schema';
import * as security from './security';
import { prepareStatements, type SqliteStatements } from './statements';
import * as tasks from './tasks';
import { SqliteWebhooks } from './webhooks';
import { SqliteWorkflows } from './workflows';

export interface SqliteStoreOptions {
  path: string;
  /**
   * `full` (the default) fsyncs the WAL at every commit, so a committed write survives a power cut or an OS
   * crash; `normal` fsyncs only at checkpoints (a killed process loses nothing, a power cut may lose the last
   * commits). The group commit shares each commit, and so each fsync, among many writes.
   */
  synchronous?: 'full' | 'normal';
  /**
   * Checkpoint the WAL on a background thread (the supervisor's store) rather than in commits. Every other
   * connection checkpoints only past `SAFETY_CHECKPOINT_PAGES`, for a fleet running without a supervisor.
   */
  checkpointInBackground?: boolean;
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  const inMemory = opts.path === ':memory:' || opts.path === '';
  if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(opts.path)), { recursive: true });
  const db = new Database(opts.path);
  let checkpointer: Checkpointer | null = null;
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    // Pages another process changed are read again after each of its commits: mapped reads are cheaper.
    db.pragma(`mmap_size = ${MMAP_BYTES}`);
    // Statement and savepoint journals in memory rather than temporary files written page by page.
    db.pragma('temp_store = MEMORY');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    applySchema(db);
    const background = opts.checkpointInBackground === true && !inMemory;
    db.pragma(`wal_autocheckpoint = ${background ? 0 : SAFETY_CHECKPOINT_PAGES}`);
    if (background) checkpointer = startCheckpointer(path.resolve(opts.path), CHECKPOINT_INTERVAL_MS);
    return new SqliteStore(db, checkpointer, inMemory ? null : path.dirname(path.resolve(opts.path)));
  } catch (err) {
    await checkpointer?.stop();
    db.close();
    throw err;
  }
}

/** A pragma's value on an embedded store's own connection (null for any other store): for tests and diagnostics. */
export function sqlitePragma(store: Store, name: string): unknown {
  return store instanceof SqliteStore ? store.pragma(name) : null;
}

const MMAP_BYTES = 256 * 1024 * 1024;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** About 40 MB of WAL: reached only when no supervisor checkpoints in the background. */
const SAFETY_CHECKPOINT_PAGES = 10_000;
const CHECKPOINT_INTERVAL_MS = 1_000;

/** How long a write waits for another process's write lock before it fails as unavailable. */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Free space the store's file system must have again before a store that ran out of space says it is ready:
 * room for a few thousand pages of WAL, so that readiness does not flap while writes still fail.
 */
const SPACE_MARGIN_BYTES = 4 * 1024 * 1024;

const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|NOTADB|CORRUPT)/;

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly statements: SqliteStatements;
  private readonly lists: ReturnType<typeof tasks.taskListStatements>;

  /** Lease-bound writes and submissions: many callers' writes per transaction (see groupCommit.ts). */
  private readonly group: GroupCommit;

  private readonly schedules: SqliteSchedules;
  private readonly agents: SqliteAgents;
  private readonly webhooks: SqliteWebhooks;
  private readonly routeControls: SqliteRouteControls;
  private readonly workflows: SqliteWorkflows;
  private readonly routeMinutes: SqliteRouteMinutes;

  /** Set when a write failed for lack of space; cleared by ping() once the file system has room again. */
  private outOfSpace: StoreFullError | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly checkpointer: Checkpointer | null = null,
    /** The directory of the database file (null in memory): where ping() looks for free space. */
    private readonly dir: string | null = null,
  ) {
    this.group = new GroupCommit(db, (err) => this.storeError(err), { busyTimeoutMs: BUSY_TIMEOUT_MS });
    this.statements = prepareStatements(db);
    this.lists = tasks.taskListStatements(db);
    const runners = { read: <T>(fn: () => T) => this.run(fn), write: <T>(fn: () => T) => this.group.write(fn) };
    this.schedules = new SqliteSchedules(this.statements, runners);
    this.agents = new SqliteAgents(this.statements, runners);
    this.webhooks = new SqliteWebhooks(this.statements, runners);
    this.routeControls = new SqliteRouteControls(this.statements, runners);
    this.workflows = new SqliteWorkflows(this.statements, runners);
    this.routeMinutes = new SqliteRouteMinutes(this.statements, runners);
  }

  // ---- tasks: submission and reads

  async insertTasks(batch: NewTask[]): Promise<InsertOutcome[]> {
    const insert = tasks.prepareInsert(batch);
    return this.group.write(() => insert(this.statements));
  }

  getTask(id: string): Promise<TaskRecord | null> {
    return this.run(() => tasks.findTask(this.statements, id));
  }

  listTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    return this.run(() => tasks.listTasks(this.statements, this.lists, filter));
  }

  listTaskEvents(taskId: string): Promise<TaskEvent[]> {
    return this.run(() => tasks.listTaskEvents(this.statements, taskId));
  }

  listTaskEventsAfter(afterSeq: number, limit: number): Promise<TaskEvent[]> {
    return this.run(() => this.statements.tasks.selectTaskEventsAfter.all({ afterSeq, limit }).map(toTaskEvent));
  }

  listTaskEventsOfKinds(opts: TaskEventKindRange): Promise<TaskEvent[]> {
    const { afterSeq, upToSeq, limit } = opts;
    return this.run(() =>
      this.statements.tasks.selectTaskEventsOfKinds
        .all({ afterSeq, upToSeq, limit, kinds: JSON.stringify(opts.kinds) })
        .map(toTaskEvent),
    );
  }

  lastTaskEventSeq(): Promise<number> {
    return this.run(() => this.statements.tasks.selectLastTaskEventSeq.get()?.seq ?? 0);
  }

  listTaskHeads(ids: string[]): Promise<TaskHead[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.run(() =>
      this.statements.tasks.selectTaskHeads.all({ ids: JSON.stringify([...new Set(ids)]) }).map(toTaskHead),
    );
  }

  listRoutes(): Promise<Route[]> {
    return this.run(() => this.statements.tasks.selectRoutes.all().map(toRoute));
  }

  // ---- tasks: the lease-bound life of an attempt

  claimTask(ref: LeaseRef & { leaseMs: number }): Promise<ClaimResult> {
    return this.group.write(() => lease.claimTask(this.statements, ref));
  }

  renewLease(ref: LeaseRef & { leaseMs: number }): Promise<RenewResult> {
    return this.group.write(() => lease.renewLease(this.statements, ref));
  }

  completeTask(ref: LeaseRef & { result: unknown }): Promise<boolean> {
    return this.group.write(() => lease.completeTask(this.statements, ref));
  }

  failTask(ref: LeaseRef & { error: TaskError; decision: RetryDecision }): Promise<boolean> {
    return this.group.write(() => lease.failTask(this.statements, ref));
  }

  finishCancelled(ref: LeaseRef): Promise<boolean> {
    return this.group.write(() => lease.finishCancelled(this.statements, ref));
  }

  releaseTask(ref: LeaseRef): Promise<boolean> {
    return this.group.write(() => lease.releaseTask(this.statements, ref));
  }

  // ---- tasks: what a running attempt reports

  setTaskProgress(write: { taskId: string; attempt: number; progress: unknown; now: number }): Promise<boolean> {
    const params = { taskId: write.taskId, attempt: write.attempt, progress: toJson(write.progress), now: write.now };
    return this.group.write(() => this.statements.logs.setTaskProgress.run(params).changes === 1);
  }

  appendTaskLogs(batch: TaskLogBatch): Promise<boolean> {
    return this.group.write(() => logs.appendTaskLogs(this.statements, batch));
  }

  listTaskLogs(taskId: string, attempt: number): Promise<TaskLogs> {
    return this.run(() => logs.listTaskLogs(this.statements, taskId, attempt));
  }

  // ---- tasks: supervisor actions and background loops

  requestCancel(taskId: string, now: number): Promise<{ outcome: CancelOutcome; task: TaskRecord | null }> {
    return this.group.write(() => background.requestCancel(this.statements, taskId, now));
  }

  listExpiredLeases(now: number, limit: number): Promise<ExpiredLease[]> {
    return this.run(() => this.statements.background.selectExpiredLeases.all({ now, limit }).map(toLease));
  }

  requeueExpiredLease(ref: { taskId: string; attempt: number; now: number; decision: RetryDecision }) {
    return this.group.write(() => background.requeueExpiredLease(this.statements, ref));
  }

  listOverdue(now: number, limit: number): Promise<Array<{ id: string; attempt: number }>> {
    return this.run(() => this.statements.background.selectOverdue.all({ now, limit }));
  }

  expireUnroutable(ref: { taskId: string; attempt: number; dueBefore: number; now: number }): Promise<boolean> {
    return this.group.write(() => background.expireUnroutable(this.statements, ref));
  }

  expireTask(ref: { taskId: string; attempt: number; now: number }): Promise<boolean> {
    return this.group.write(() => background.expireTask(this.statements, ref));
  }

  listQueuedForDispatch(opts: { afterId?: string; dueBefore?: number; limit: number }): Promise<DispatchRow[]> {
    return this.run(() => background.listQueuedForDispatch(this.statements, opts));
  }

  listQueuedOnRoute(query: RouteQueueQuery): Promise<DispatchRow[]> {
    return this.run(() => background.listQueuedOnRoute(this.statements, query));
  }

  listClaimable(query: ClaimableQuery): Promise<DispatchRow[]> {
    return this.run(() => background.listClaimable(this.statements, query));
  }

  markDispatched(taskIds: string[], now: number): Promise<void> {
    if (taskIds.length === 0) return Promise.resolve();
    return this.group.write(() => {
      this.statements.background.markDispatched.run({ ids: JSON.stringify(taskIds), now });
    });
  }

  retryTask(ref: { taskId: string; attempt: number; now: number } & RetryActor): Promise<TaskRecord | null> {
    return this.group.write(() => retry.retryTask(this.statements, ref));
  }

  retryTasks(query: BulkTaskQuery & RetryActor): Promise<BulkPage & { retried: DispatchRow[] }> {
    return this.group.write(() => retry.retryTasks(this.statements, query));
  }

  cancelTasks(query: BulkTaskQuery): Promise<BulkPage & { cancelled: string[]; cancelRequested: string[] }> {
    return this.group.write(() => retry.cancelTasks(this.statements, query));
  }

  // ---- agents (agents.ts)
  readonly registerAgent: Store['registerAgent'] = (...a) => this.agents.registerAgent(...a);
  readonly heartbeat: Store['heartbeat'] = (...a) => this.agents.heartbeat(...a);
  readonly setAgentState: Store['setAgentState'] = (...a) => this.agents.setAgentState(...a);
  readonly setAgentRecycle: Store['setAgentRecycle'] = (...a) => this.agents.setAgentRecycle(...a);
  readonly updateAgentSettings: Store['updateAgentSettings'] = (...a) => this.agents.updateAgentSettings(...a);
  readonly getAgent: Store['getAgent'] = (...a) => this.agents.getAgent(...a);
  readonly listAgents: Store['listAgents'] = (...a) => this.agents.listAgents(...a);
  readonly recordAgentSamples: Store['recordAgentSamples'] = (...a) => this.agents.recordAgentSamples(...a);
  readonly listAgentSamples: Store['listAgentSamples'] = (...a) => this.agents.listAgentSamples(...a);
  readonly purgeAgentSamples: Store['purgeAgentSamples'] = (...a) => this.agents.purgeAgentSamples(...a);
  readonly listAgentsPage: Store['listAgentsPage'] = (...a) => this.agents.listAgentsPage(...a);
  readonly listAgentEvents: Store['listAgentEvents'] = (...a) => this.agents.listAgentEvents(...a);
  readonly removeAgent: Store['removeAgent'] = (...a) => this.agents.removeAgent(...a);

  // ---- fleet control

  listLeasesOf(agentId: string, limit: number): Promise<ExpiredLease[]> {
    return this.run(() => fleet.listLeasesOf(this.statements, agentId, limit));
  }

  reclaimLease(ref: LeaseRef & { decision: RetryDecision }): Promise<boolean> {
    return this.group.write(() => fleet.reclaimLease(this.statements, ref));
  }

  listAgentRuns(agentId: string, since: number): Promise<AgentRun[]> {
    return this.run(() => fleet.listAgentRuns(this.statements, agentId, since));
  }

  countAgentRuns(opts: { agentIds: readonly string[]; since: number }): Promise<AgentRunCounts[]> {
    return this.run(() => fleet.countAgentRuns(this.statements, opts.agentIds, opts.since));
  }

  // ---- stats

  routeStats(now: number): Promise<RouteStats[]> {
    return this.run(() => fleet.routeStats(this.statements, now));
  }

  countTaskEvents(kinds: readonly TaskEventKind[], since: number): Promise<Partial<Record<TaskEventKind, number>>> {
    return this.run(() => fleet.countTaskEvents(this.statements, kinds, since));
  }

  // ---- declared pools

  declarePool(pool: DeclaredPool): Promise<{ pool: DeclaredPool; created: boolean }> {
    return this.group.write(() => pools.declarePool(this.statements, pool));
  }

  listDeclaredPools(): Promise<DeclaredPool[]> {
    return this.run(() => pools.listDeclaredPools(this.statements));
  }

  removeDeclaredPool(key: string): Promise<boolean> {
    return this.group.write(() => pools.removeDeclaredPool(this.statements, key));
  }

  // ---- API keys and the audit log

  insertApiKey(key: ApiKeyRecord): Promise<void> {
    return this.group.write(() => security.insertApiKey(this.statements, key));
  }

  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.run(() => security.findApiKeyByHash(this.statements, hash));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.run(() => security.listApiKeys(this.statements));
  }

  revokeApiKey(id: string, now: number): Promise<boolean> {
    return this.group.write(() => security.revokeApiKey(this.statements, id, now));
  }

  appendAudit(entry: NewAuditEntry): Promise<void> {
    return this.group.write(() => security.appendAudit(this.statements, entry));
  }

  listAudit(opts: { limit: number; beforeSeq?: number; action?: string }): Promise<AuditEntry[]> {
    return this.run(() => security.listAudit(this.statements, opts));
  }

  // ---- webhooks (webhooks.ts)
  readonly insertWebhookSubscription: Store['insertWebhookSubscription'] = (s) =>
    this.webhooks.insertWebhookSubscription(s);
  readonly getWebhookSubscription: Store['getWebhookSubscription'] = (id) => this.webhooks.getWebhookSubscription(id);
  readonly listWebhookSubscriptions: Store['listWebhookSubscriptions'] = (o) =>
    this.webhooks.listWebhookSubscriptions(o);
  readonly deleteWebhookSubscription: Store['deleteWebhookSubscription'] = (id) =>
    this.webhooks.deleteWebhookSubscription(id);
  readonly setWebhookKeySecret: Store['setWebhookKeySecret'] = (keyId, secret, now) =>
    this.webhooks.setWebhookKeySecret(keyId, secret, now);
  readonly getWebhookKeySecret: Store['getWebhookKeySecret'] = (keyId) => this.webhooks.getWebhookKeySecret(keyId);
  readonly leaseWebhookCursor: Store['leaseWebhookCursor'] = (o) => this.webhooks.leaseWebhookCursor(o);
  readonly advanceWebhookCursor: Store['advanceWebhookCursor'] = (o) => this.webhooks.advanceWebhookCursor(o);
  readonly claimWebhookDeliveries: Store['claimWebhookDeliveries'] = (o) => this.webhooks.claimWebhookDeliveries(o);
  readonly recordWebhookAttempt: Store['recordWebhookAttempt'] = (o) => this.webhooks.recordWebhookAttempt(o);
  readonly listWebhookDeliveries: Store['listWebhookDeliveries'] = (o) => this.webhooks.listWebhookDeliveries(o);

  // ---- schedules (schedules.ts)
  readonly createSchedule: Store['createSchedule'] = (s) => this.schedules.createSchedule(s);
  readonly getSchedule: Store['getSchedule'] = (name) => this.schedules.getSchedule(name);
  readonly listSchedules: Store['listSchedules'] = (o) => this.schedules.listSchedules(o);
  readonly setSchedulePaused: Store['setSchedulePaused'] = (o) => this.schedules.setSchedulePaused(o);
  readonly deleteSchedule: Store['deleteSchedule'] = (name) => this.schedules.deleteSchedule(name);
  readonly listScheduleRuns: Store['listScheduleRuns'] = (o) => this.schedules.listScheduleRuns(o);
  readonly listDueSchedules: Store['listDueSchedules'] = (now, n) => this.schedules.listDueSchedules(now, n);
  readonly advanceSchedule: Store['advanceSchedule'] = (o) => this.schedules.advanceSchedule(o);

  // ---- route controls (routeControls.ts)
  readonly getRouteControl: Store['getRouteControl'] = (key) => this.routeControls.getRouteControl(key);
  readonly listRouteControls: Store['listRouteControls'] = () => this.routeControls.listRouteControls();
  readonly setRoutePaused: Store['setRoutePaused'] = (o) => this.routeControls.setRoutePaused(o);
  readonly setRouteLimits: Store['setRouteLimits'] = (o) => this.routeControls.setRouteLimits(o);
  readonly updateRouteCircuit: Store['updateRouteCircuit'] = (u) => this.routeControls.updateRouteCircuit(u);
  readonly listRouteEvents: Store['listRouteEvents'] = (o) => this.routeControls.listRouteEvents(o);
  readonly purgeRouteEvents: Store['purgeRouteEvents'] = (o) => this.routeControls.purgeRouteEvents(o);
  readonly putCircuitBreaker: Store['putCircuitBreaker'] = (b) => this.routeControls.putCircuitBreaker(b);
  readonly removeCircuitBreaker: Store['removeCircuitBreaker'] = (t) => this.routeControls.removeCircuitBreaker(t);
  readonly listCircuitBreakers: Store['listCircuitBreakers'] = () => this.routeControls.listCircuitBreakers();

  // ---- workflows (workflows.ts)
  readonly insertWorkflow: Store['insertWorkflow'] = (w) => this.workflows.insertWorkflow(w);
  readonly getWorkflow: Store['getWorkflow'] = (id) => this.workflows.getWorkflow(id);
  readonly listWorkflows: Store['listWorkflows'] = (f) => this.workflows.listWorkflows(f);
  readonly listWorkflowEvents: Store['listWorkflowEvents'] = (o) => this.workflows.listWorkflowEvents(o);
  readonly listWorkflowEventsOfKinds: Store['listWorkflowEventsOfKinds'] = (o) =>
    this.workflows.listWorkflowEventsOfKinds(o);
  readonly lastWorkflowEventSeq: Store['lastWorkflowEventSeq'] = () => this.workflows.lastWorkflowEventSeq();
  readonly applyWorkflowChange: Store['applyWorkflowChange'] = (c) => this.workflows.applyWorkflowChange(c);
  readonly listWorkflowsToAdvance: Store['listWorkflowsToAdvance'] = (n) => this.workflows.listWorkflowsToAdvance(n);
  readonly purgeWorkflows: Store['purgeWorkflows'] = (before, n) => this.workflows.purgeWorkflows(before, n);
  // ---- route minutes (routeMinutes.ts)
  readonly rollUpRouteMinute: Store['rollUpRouteMinute'] = (m) => this.routeMinutes.rollUpRouteMinute(m);
  readonly listRouteMinutes: Store['listRouteMinutes'] = (o) => this.routeMinutes.listRouteMinutes(o);
  readonly purgeRouteMinutes: Store['purgeRouteMinutes'] = (o) => this.routeMinutes.purgeRouteMinutes(o);

  // ---- retention (purge.ts): each batch is one write of the group commit, so it never waits on the busy handler

  purgeTasks(opts: { statuses: TaskStatus[]; finishedBefore: number; limit: number }): Promise<number> {
    return this.group.write(() => purge.purgeTasks(this.statements, opts));
  }

  purgeAgents(opts: { states: AgentState[]; before: number; limit: number }): Promise<number> {
    return this.group.write(() => purge.purgeAgents(this.statements, opts));
  }

  purgeAudit(opts: { before: number; limit: number }): Promise<number> {
    return this.group.write(() => purge.purgeAudit(this.statements, opts));
  }

  /**
   * Rejects when the store cannot be read, and, after a write failed for lack of space, with that
   * StoreFullError until the file system has `SPACE_MARGIN_BYTES` free again (readiness, `/readyz`). Writes
   * themselves are always tried: one that fits still succeeds.
   */
  async ping(): Promise<void> {
    await this.run(() => {
      this.statements.schema.ping.get();
    });
    if (!this.outOfSpace || !this.dir) return;
    const fsStats = await fs.promises.statfs(this.dir);
    if (fsStats.bavail * fsStats.bsize < SPACE_MARGIN_BYTES) throw this.outOfSpace;
    this.outOfSpace = null;
  }

  pragma(name: string): unknown {
    return this.db.pragma(name, { simple: true });
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  // ---- internals

  /** Runs synchronous driver work as a promise, turning lock timeouts and I/O failures into UnavailableError. */
  private async run<T>(fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (err) {
      throw this.storeError(err);
    }
  }

  private storeError(err: unknown): unknown {
    if (!this.db.open) return new UnavailableError('sqlite: the store is closed', { cause: err });
    if (sqliteErrorCode(err) === 'SQLITE_FULL') {
      return (this.outOfSpace = new StoreFullError(`sqlite: ${(err as Error).message}`, { cause: err }));
    }
    if (UNAVAILABLE_CODES.test(sqliteErrorCode(err) ?? '')) {
      return new UnavailableError(`sqlite: ${(err as Error).message}`, { cause: err });
    }
    return err;
  }
}
