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
import type { AgentRecord, AgentState, StateSource } from '../../domain/agent';
import { normaliseCapabilities, routeKey, type Route } from '../../domain/capabilities';
import { UnavailableError } from '../../domain/errors';
import type { ApiKeyRecord, AuditEntry, NewAuditEntry } from '../../domain/security';
import type { TaskError, TaskEventKind, TaskRecord } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type {
  AgentRegistration,
  AgentRun,
  CancelOutcome,
  ClaimResult,
  DispatchRow,
  ExpiredLease,
  HeartbeatReport,
  InsertOutcome,
  LeaseRef,
  NewTask,
  RenewResult,
  RouteStats,
  Store,
  TaskFilter,
} from '../port';
import { heartbeat, registerAgent, removeAgent, setAgentState } from './agentOps';
import { prepareAgentStatements, type AgentStatements } from './agentStatements';
import * as fleet from './fleetOps';
import { prepareFleetStatements, type FleetStatements } from './fleetStatements';
import {
  sqliteErrorCode,
  toAgent,
  toAgentEvent,
  toDispatch,
  toJson,
  toLease,
  toRoute,
  toTask,
  toTaskEvent,
  type TaskRow,
} from './rows';
import { startCheckpointer, type Checkpointer } from './checkpointer';
import { GroupCommit } from './groupCommit';
import { applySchema } from './schema';
import * as security from './securityOps';
import { prepareSecurityStatements, type SecurityStatements } from './securityStatements';
import { appendOutcomeEvent, appendTaskEvent, insertTask, requestCancel, requeueExpiredLease } from './taskOps';
import { listTasksSql, prepareTaskStatements, type TaskListShape, type TaskStatements } from './statements';

export interface SqliteStoreOptions {
  path: string;
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
    db.pragma('synchronous = NORMAL');
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
    return new SqliteStore(db, checkpointer);
  } catch (err) {
    await checkpointer?.stop();
    db.close();
    throw err;
  }
}

const MMAP_BYTES = 256 * 1024 * 1024;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** About 40 MB of WAL: reached only when no supervisor checkpoints in the background. */
const SAFETY_CHECKPOINT_PAGES = 10_000;
const CHECKPOINT_INTERVAL_MS = 1_000;

/** How long a write waits for another process's write lock before it fails as unavailable. */
const BUSY_TIMEOUT_MS = 10_000;

const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|NOTADB|CORRUPT)/;

type LeaseKey = { taskId: string; attempt: number; agentId: string; now: number };

function leaseKey(ref: LeaseRef): LeaseKey {
  return { taskId: ref.taskId, attempt: ref.attempt, agentId: ref.agentId, now: ref.now };
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly tasks: TaskStatements;
  private readonly agents: AgentStatements;
  private readonly fleet: FleetStatements;
  private readonly security: SecurityStatements;
  private readonly listStatements = new Map<string, Database.Statement<Record<string, unknown>, TaskRow>>();

  /** Lease-bound writes and submissions: many callers' writes per transaction (see groupCommit.ts). */
  private readonly group: GroupCommit;

  constructor(
    private readonly db: Database.Database,
    private readonly checkpointer: Checkpointer | null = null,
  ) {
    this.group = new GroupCommit(db, (err) => this.storeError(err), { busyTimeoutMs: BUSY_TIMEOUT_MS });
    this.tasks = prepareTaskStatements(db);
    this.agents = prepareAgentStatements(db);
    this.fleet = prepareFleetStatements(db);
    this.security = prepareSecurityStatements(db);
  }

  // ---- tasks: submission and reads

  async insertTasks(tasks: NewTask[]): Promise<InsertOutcome[]> {
    const capabilitySets = tasks.map((t, i) =>
      normaliseCapabilities(t.requiredCapabilities, `tasks[${i}].requiredCapabilities`),
    );
    const routes = capabilitySets.map((caps, i) => routeKey(tasks[i]!.type, caps));
    return this.group.write(() => {
      const outcomes = tasks.map((t, i) => insertTask(this.tasks, t, capabilitySets[i] ?? [], routes[i]!));
      const recorded = new Set<string>();
      outcomes.forEach(({ task, created }, i) => {
        const route = routes[i]!;
        if (!created || recorded.has(route)) return;
        recorded.add(route);
        const capabilities = JSON.stringify(task.requiredCapabilities);
        this.tasks.insertRoute.run({ key: route, type: task.type, capabilities, now: task.createdAt });
      });
      return outcomes;
    });
  }

  getTask(id: string): Promise<TaskRecord | null> {
    return this.run(() => this.findTask(id));
  }

  listTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    return this.run(() => {
      if (
        filter.capability !== undefined &&
        !this.tasks.selectRouteWithCapability.get({ capability: filter.capability })
      ) {
        return [];
      }
      const shape: TaskListShape = {
        status: filter.status !== undefined,
        type: filter.type !== undefined,
        capability: filter.capability !== undefined,
        beforeId: filter.beforeId !== undefined,
      };
      return this.listStatement(shape)
        .all({ ...filter })
        .map(toTask);
    });
  }

  listTaskEvents(taskId: string) {
    return this.run(() => this.tasks.selectTaskEvents.all({ taskId }).map(toTaskEvent));
  }

  listTaskEventsAfter(afterSeq: number, limit: number) {
    return this.run(() => this.tasks.selectTaskEventsAfter.all({ afterSeq, limit }).map(toTaskEvent));
  }

  lastTaskEventSeq(): Promise<number> {
    return this.run(() => this.tasks.selectLastTaskEventSeq.get()?.seq ?? 0);
  }

  // ---- tasks: the lease-bound life of an attempt

  claimTask(ref: LeaseRef & { leaseMs: number }): Promise<ClaimResult> {
    return this.group.write((): ClaimResult => {
      const [row] = this.tasks.claimTask.all({ ...leaseKey(ref), leaseUntil: ref.now + ref.leaseMs });
      if (!row) return { claimed: false, current: this.findTask(ref.taskId) };
      // waitMs: how long the task waited to start since it became due (submit, delay or backoff).
      this.event(row.id, ref.now, 'started', row.attempt, ref.agentId, { waitMs: ref.now - row.not_before });
      return { claimed: true, task: toTask(row) };
    });
  }

  renewLease(ref: LeaseRef & { leaseMs: number }): Promise<RenewResult> {
    return this.group.write((): RenewResult => {
      const [row] = this.tasks.renewLease.all({ ...leaseKey(ref), leaseUntil: ref.now + ref.leaseMs });
      return row
        ? { held: true, cancelRequested: row.cancel_requested === 1 }
        : { held: false, cancelRequested: false };
    });
  }

  completeTask(ref: LeaseRef & { result: unknown }): Promise<boolean> {
    return this.group.write(() =>
      this.resultWrite(ref, 'succeeded', () => {
        const [held] = this.tasks.completeTask.all({ ...leaseKey(ref), result: toJson(ref.result) });
        if (!held) return false;
        this.event(ref.taskId, ref.now, 'succeeded', ref.attempt, ref.agentId, {
          runMs: held.run_ms,
          totalMs: held.total_ms,
        });
        return true;
      }),
    );
  }

  failTask(ref: LeaseRef & { error: TaskError; decision: RetryDecision }): Promise<boolean> {
    const { decision } = ref;
    const params = { ...leaseKey(ref), error: toJson(ref.error) };
    return this.group.write(() =>
      this.resultWrite(ref, 'failed', () => {
        const [held] =
          decision.status === 'queued'
            ? this.tasks.failTaskRequeue.all({ ...params, notBefore: decision.notBefore })
            : this.tasks.failTaskDead.all(params);
        if (!held) return false;
        const event = { taskId: ref.taskId, at: ref.now, attempt: ref.attempt, agentId: ref.agentId };
        appendTaskEvent(this.tasks, { ...event, kind: 'failed', data: { ...ref.error, runMs: held.run_ms } });
        appendOutcomeEvent(this.tasks, event, decision);
        return true;
      }),
    );
  }

  finishCancelled(ref: LeaseRef): Promise<boolean> {
    return this.group.write(() => {
      if (this.tasks.finishCancelled.run(leaseKey(ref)).changes === 0) return false;
      this.event(ref.taskId, ref.now, 'cancelled', ref.attempt, ref.agentId);
      return true;
    });
  }

  releaseTask(ref: LeaseRef): Promise<boolean> {
    return this.group.write(() => {
      if (this.tasks.releaseTask.run(leaseKey(ref)).changes === 0) return false;
      this.event(ref.taskId, ref.now, 'released', ref.attempt, ref.agentId);
      return true;
    });
  }

  // ---- tasks: supervisor actions and background loops

  requestCancel(taskId: string, now: number): Promise<{ outcome: CancelOutcome; task: TaskRecord | null }> {
    return this.group.write(() => requestCancel(this.tasks, taskId, now));
  }

  listExpiredLeases(now: number, limit: number): Promise<ExpiredLease[]> {
    return this.run(() => this.tasks.selectExpiredLeases.all({ now, limit }).map(toLease));
  }

  requeueExpiredLease(ref: {
    taskId: string;
    attempt: number;
    now: number;
    decision: RetryDecision;
  }): Promise<boolean> {
    return this.group.write(() => requeueExpiredLease(this.tasks, ref));
  }

  listOverdue(now: number, limit: number): Promise<Array<{ id: string; attempt: number }>> {
    return this.run(() => this.tasks.selectOverdue.all({ now, limit }));
  }

  expireTask(ref: { taskId: string; attempt: number; now: number }): Promise<boolean> {
    const key = { taskId: ref.taskId, attempt: ref.attempt, now: ref.now };
    return this.group.write(() => {
      if (this.tasks.expireTask.run(key).changes === 0) return false;
      this.event(ref.taskId, ref.now, 'expired', ref.attempt, null);
      return true;
    });
  }

  listQueuedForDispatch(opts: { afterId?: string; dueBefore?: number; limit: number }): Promise<DispatchRow[]> {
    const afterId = opts.afterId ?? '';
    return this.run(() => {
      const rows =
        opts.dueBefore === undefined
          ? this.tasks.selectQueued.all({ afterId, limit: opts.limit })
          : this.tasks.selectDue.all({ afterId, dueBefore: opts.dueBefore, limit: opts.limit });
      return rows.map(toDispatch);
    });
  }

  markDispatched(taskIds: string[], now: number): Promise<void> {
    if (taskIds.length === 0) return Promise.resolve();
    return this.group.write(() => {
      this.tasks.markDispatched.run({ ids: JSON.stringify(taskIds), now });
    });
  }

  listRoutes(): Promise<Route[]> {
    return this.run(() => this.tasks.selectRoutes.all().map(toRoute));
  }

  // ---- agents

  registerAgent(reg: AgentRegistration, now: number): Promise<AgentRecord> {
    return this.group.write(() => registerAgent(this.agents, reg, now));
  }

  heartbeat(report: HeartbeatReport): Promise<AgentRecord | null> {
    return this.group.write(() => heartbeat(this.agents, report));
  }

  setAgentState(opts: {
    agentId: string;
    to: AgentState;
    from?: AgentState[];
    reason: string;
    now: number;
    source?: StateSource;
  }) {
    return this.group.write(() => setAgentState(this.agents, opts));
  }

  getAgent(id: string) {
    return this.run(() => {
      const row = this.agents.selectAgent.get({ id });
      return row ? toAgent(row) : null;
    });
  }

  listAgents() {
    return this.run(() => this.agents.selectAgents.all().map(toAgent));
  }

  listAgentEvents(agentId: string) {
    return this.run(() => this.agents.selectAgentEvents.all({ agentId }).map(toAgentEvent));
  }

  removeAgent(agentId: string, states: AgentState[]): Promise<boolean> {
    return this.group.write(() => removeAgent(this.fleet, agentId, states));
  }

  listLeasesOf(agentId: string, limit: number): Promise<ExpiredLease[]> {
    return this.run(() => fleet.listLeasesOf(this.fleet, agentId, limit));
  }

  reclaimLease(ref: LeaseRef & { decision: RetryDecision }): Promise<boolean> {
    return this.group.write(() => fleet.reclaimLease(this.tasks, this.fleet, ref));
  }

  listAgentRuns(agentId: string, since: number): Promise<AgentRun[]> {
    return this.run(() => fleet.listAgentRuns(this.fleet, agentId, since));
  }

  // ---- stats

  routeStats(now: number): Promise<RouteStats[]> {
    return this.run(() => fleet.routeStats(this.fleet, now));
  }

  countTaskEvents(kinds: readonly TaskEventKind[], since: number): Promise<Partial<Record<TaskEventKind, number>>> {
    return this.run(() => fleet.countTaskEvents(this.fleet, kinds, since));
  }

  // ---- API keys and the audit log

  insertApiKey(key: ApiKeyRecord): Promise<void> {
    return this.group.write(() => security.insertApiKey(this.security, key));
  }

  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.run(() => security.findApiKeyByHash(this.security, hash));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.run(() => security.listApiKeys(this.security));
  }

  revokeApiKey(id: string, now: number): Promise<boolean> {
    return this.group.write(() => security.revokeApiKey(this.security, id, now));
  }

  appendAudit(entry: NewAuditEntry): Promise<void> {
    return this.group.write(() => security.appendAudit(this.security, entry));
  }

  listAudit(opts: { limit: number; beforeSeq?: number; action?: string }): Promise<AuditEntry[]> {
    return this.run(() => security.listAudit(this.security, opts));
  }

  ping(): Promise<void> {
    return this.run(() => {
      this.agents.ping.get();
    });
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  // ---- internals

  /**
   * A completion or failure that did not apply (stale attempt, not running, not the holder) is recorded as
   * `result_rejected` on the task, in the same transaction, unless the task does not exist at all.
   */
  private resultWrite(ref: LeaseRef, outcome: 'succeeded' | 'failed', apply: () => boolean): boolean {
    if (apply()) return true;
    if (this.tasks.selectTask.get({ id: ref.taskId })) {
      this.event(ref.taskId, ref.now, 'result_rejected', ref.attempt, ref.agentId, { outcome });
    }
    return false;
  }

  private event(
    taskId: string,
    at: number,
    kind: TaskEventKind,
    attempt: number,
    agentId: string | null,
    data?: unknown,
  ) {
    appendTaskEvent(this.tasks, { taskId, at, kind, attempt, agentId, data });
  }

  private findTask(id: string): TaskRecord | null {
    const row = this.tasks.selectTask.get({ id });
    return row ? toTask(row) : null;
  }

  private listStatement(shape: TaskListShape) {
    const cacheKey = JSON.stringify(shape);
    let statement = this.listStatements.get(cacheKey);
    if (!statement) {
      statement = this.db.prepare<Record<string, unknown>, TaskRow>(listTasksSql(shape));
      this.listStatements.set(cacheKey, statement);
    }
    return statement;
  }

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
    if (UNAVAILABLE_CODES.test(sqliteErrorCode(err) ?? '')) {
      return new UnavailableError(`sqlite: ${(err as Error).message}`, { cause: err });
    }
    return err;
  }
}
