/**
 * The Azure SQL / SQL Server adapter of the store port (mssql over tedious, one connection pool per store).
 *
 * Each port method is one statement of `statements/` (one round trip); every multi-statement write is one
 * transaction with XACT_ABORT ON inside that statement, so it is applied whole or not at all. Decisions come
 * from the caller (src/domain): the adapter only performs the conditional reads and writes.
 *
 * Opened by open.ts, which checks the schema version first.
 */
import { routeKey, type Route } from '../../domain/capabilities';
import type { DeclaredPool } from '../../domain/pool';
import type { TaskError, TaskEvent, TaskEventKind, TaskRecord } from '../../domain/task';
import type { TaskLogBatch, TaskLogLevel, TaskLogs } from '../../domain/taskLog';
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
import { bulkPageFilter, countsByKind, leaseKey, routeQueueAfter, TaskListStatements, type LeaseKey } from '../shared';
import type { Recordsets, SqlClient } from './client';
import { decisionParams, runMsHead } from './lease';
import * as mapping from './rows';
import { COLUMN_LENGTH } from './statement';
import * as backgroundStatements from './statements/background';
import * as fleetStatements from './statements/fleet';
import * as leaseStatements from './statements/lease';
import * as logStatements from './statements/logs';
import * as poolStatements from './statements/pools';
import * as retryStatements from './statements/retry';
import { PING } from './statements/schema';
import * as taskStatements from './statements/tasks';
import { prepareInsert } from './tasks';
import { MssqlAgents } from './agents';
import { MssqlRouteControls } from './routeControls';
import { MssqlRouteMinutes } from './routeMinutes';
import { MssqlSecurity } from './security';
import { MssqlSchedules } from './schedules';
import { MssqlWorkflows } from './workflows';
import { MssqlPurge } from './purge';
import { MssqlWebhooks } from './webhooks';

const applied = (sets: Recordsets) => Boolean((sets[0]?.[0] as { applied?: boolean } | undefined)?.applied);
const changed = (sets: Recordsets) => Number((sets[0]?.[0] as { changed?: number } | undefined)?.changed ?? 0) === 1;

export class MssqlStore implements Store {
  readonly kind = 'mssql' as const;
  private readonly lists = new TaskListStatements(taskStatements.listTasksStatement);

  private readonly webhooks: MssqlWebhooks;
  private readonly purge: MssqlPurge;

  private readonly schedules: MssqlSchedules;
  private readonly workflows: MssqlWorkflows;
  private readonly agents: MssqlAgents;
  private readonly routeControls: MssqlRouteControls;
  private readonly routeMinutes: MssqlRouteMinutes;
  private readonly security: MssqlSecurity;

  constructor(private readonly db: SqlClient) {
    this.webhooks = new MssqlWebhooks(db);
    this.schedules = new MssqlSchedules(db);
    this.workflows = new MssqlWorkflows(db);
    this.agents = new MssqlAgents(db);
    this.purge = new MssqlPurge(db);
    this.routeControls = new MssqlRouteControls(db);
    this.routeMinutes = new MssqlRouteMinutes(db);
    this.security = new MssqlSecurity(db);
  }

  // ---- schedules (schedules.ts)
  readonly createSchedule: Store['createSchedule'] = (s) => this.schedules.createSchedule(s);
  readonly getSchedule: Store['getSchedule'] = (name) => this.schedules.getSchedule(name);
  readonly listSchedules: Store['listSchedules'] = (o) => this.schedules.listSchedules(o);
  readonly setSchedulePaused: Store['setSchedulePaused'] = (o) => this.schedules.setSchedulePaused(o);
  readonly deleteSchedule: Store['deleteSchedule'] = (name) => this.schedules.deleteSchedule(name);
  readonly listScheduleRuns: Store['listScheduleRuns'] = (o) => this.schedules.listScheduleRuns(o);
  readonly listDueSchedules: Store['listDueSchedules'] = (now, n) => this.schedules.listDueSchedules(now, n);
  readonly advanceSchedule: Store['advanceSchedule'] = (o) => this.schedules.advanceSchedule(o);

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

  // ---- route minutes (routeMinutes.ts)
  readonly rollUpRouteMinute: Store['rollUpRouteMinute'] = (m) => this.routeMinutes.rollUpRouteMinute(m);
  readonly listRouteMinutes: Store['listRouteMinutes'] = (o) => this.routeMinutes.listRouteMinutes(o);
  readonly purgeRouteMinutes: Store['purgeRouteMinutes'] = (o) => this.routeMinutes.purgeRouteMinutes(o);

  // ---- tasks: submission and reads

  async insertTasks(tasks: NewTask[]): Promise<InsertOutcome[]> {
    if (tasks.length === 0) return [];
    const prepared = prepareInsert(tasks);
    const sets = await this.db.run(taskStatements.INSERT_TASKS, {
      tasks: prepared.json,
      createdAt: prepared.createdAt,
    });
    return prepared.outcomes(sets);
  }

  async getTask(id: string): Promise<TaskRecord | null> {
    const row = await this.db.one<'id', mapping.TaskRow>(taskStatements.SELECT_TASK, { id });
    return row ? mapping.toTask(row) : null;
  }

  async listTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    const statement = this.lists.forFilter(filter);
    const values: Record<string, unknown> = { limit: filter.limit };
    for (const name of ['status', 'type', 'capability', 'beforeId', 'submittedBy'] as const) {
      if (filter[name] !== undefined) values[name] = filter[name];
    }
    return (await this.db.all<string, mapping.TaskRow>(statement, values)).map(mapping.toTask);
  }

  async listTaskEvents(taskId: string): Promise<TaskEvent[]> {
    return (await this.db.all<'taskId', mapping.TaskEventRow>(taskStatements.SELECT_TASK_EVENTS, { taskId })).map(
      mapping.toTaskEvent,
    );
  }

  async listTaskEventsOfKinds(opts: TaskEventKindRange): Promise<TaskEvent[]> {
    const { afterSeq, upToSeq, limit } = opts;
    const rows = await this.db.all<string, mapping.TaskEventRow>(taskStatements.SELECT_TASK_EVENTS_OF_KINDS, {
      afterSeq,
      upToSeq,
      kinds: JSON.stringify(opts.kinds),
      limit,
    });
    return rows.map(mapping.toTaskEvent);
  }

  async listTaskEventsAfter(afterSeq: number, limit: number): Promise<TaskEvent[]> {
    const rows = await this.db.all<string, mapping.TaskEventRow>(taskStatements.SELECT_TASK_EVENTS_AFTER, {
      afterSeq,
      limit,
    });
    return rows.map(mapping.toTaskEvent);
  }

  async lastTaskEventSeq(): Promise<number> {
    const row = await this.db.one<never, { seq: string | number }>(taskStatements.SELECT_LAST_TASK_EVENT_SEQ, {});
    return row ? mapping.fromBigint(row.seq) : 0;
  }

  async listTaskHeads(ids: string[]): Promise<TaskHead[]> {
    // An id longer than the column cannot be a task's.
    const known = [...new Set(ids)].filter((id) => id.length <= 64);
    if (known.length === 0) return [];
    const rows = await this.db.all<never, mapping.TaskHeadRow>(taskStatements.SELECT_TASK_HEADS, {
      ids: JSON.stringify(known),
    });
    return rows.map(mapping.toTaskHead);
  }

  // ---- tasks: the lease-bound life of an attempt

  async claimTask(ref: LeaseRef & { leaseMs: number }): Promise<ClaimResult> {
    const [claimed = [], current = []] = await this.db.run(leaseStatements.CLAIM_TASK, {
      ...leaseKey(ref),
      leaseUntil: ref.now + ref.leaseMs,
    });
    const won = claimed[0] as mapping.TaskRow | undefined;
    if (won) return { claimed: true, task: mapping.toTask(won) };
    const row = current[0] as (mapping.TaskRow & { route_held?: boolean }) | undefined;
    if (!row) return { claimed: false, current: null };
    const task = mapping.toTask(row);
    return row.route_held === true && task.status === 'queued'
      ? { claimed: false, current: task, routeHeld: true }
      : { claimed: false, current: task };
  }

  async renewLease(ref: LeaseRef & { leaseMs: number }): Promise<RenewResult> {
    const row = await this.db.one<keyof LeaseKey | 'leaseUntil', { cancel_requested: boolean }>(
      leaseStatements.RENEW_LEASE,
      {
        ...leaseKey(ref),
        leaseUntil: ref.now + ref.leaseMs,
      },
    );
    return row ? { held: true, cancelRequested: row.cancel_requested } : { held: false, cancelRequested: false };
  }

  async completeTask(ref: LeaseRef & { result: unknown }): Promise<boolean> {
    return applied(
      await this.db.run(leaseStatements.COMPLETE_TASK, { ...leaseKey(ref), result: mapping.toJson(ref.result) }),
    );
  }

  async failTask(ref: LeaseRef & { error: TaskError; decision: RetryDecision }): Promise<boolean> {
    const sets = await this.db.run(leaseStatements.FAIL_TASK, {
      ...leaseKey(ref),
      ...decisionParams(ref.decision),
      error: mapping.toJson(ref.error),
      failedHead: runMsHead(ref.error),
    });
    return applied(sets);
  }

  async finishCancelled(ref: LeaseRef): Promise<boolean> {
    return changed(await this.db.run(leaseStatements.FINISH_CANCELLED, leaseKey(ref)));
  }

  async releaseTask(ref: LeaseRef): Promise<boolean> {
    return changed(await this.db.run(leaseStatements.RELEASE_TASK, leaseKey(ref)));
  }

  // ---- tasks: what a running attempt reports

  async setTaskProgress(write: { taskId: string; attempt: number; progress: unknown; now: number }): Promise<boolean> {
    return applied(
      await this.db.run(logStatements.SET_TASK_PROGRESS, {
        taskId: write.taskId,
        attempt: write.attempt,
        progress: mapping.toJson(write.progress),
        now: write.now,
      }),
    );
  }

  async appendTaskLogs(batch: TaskLogBatch): Promise<boolean> {
    const lines = batch.lines.map((l) => ({
      seq: l.seq,
      at: mapping.toIsoMs(l.at),
      level: l.level,
      message: l.message,
      fields: l.fields ?? null,
    }));
    return applied(
      await this.db.run(logStatements.APPEND_TASK_LOGS, {
        taskId: batch.taskId,
        attempt: batch.attempt,
        lines: JSON.stringify(lines),
        droppedLines: batch.dropped.lines,
        droppedBytes: batch.dropped.bytes,
      }),
    );
  }

  async listTaskLogs(taskId: string, attempt: number): Promise<TaskLogs> {
    type Row = { seq: number; at: Date; level: string; message: string; fields: string | null };
    const [rows = [], drops = []] = await this.db.run(logStatements.SELECT_TASK_LOGS, { taskId, attempt });
    const dropped = drops[0] as { lines: number; bytes: string | number } | undefined;
    return {
      lines: (rows as Row[]).map((r) => ({
        seq: r.seq,
        at: mapping.fromDate(r.at),
        level: r.level as TaskLogLevel,
        message: r.message,
        fields: mapping.fromJson<unknown>(r.fields),
      })),
      dropped: { lines: dropped?.lines ?? 0, bytes: dropped ? mapping.fromBigint(dropped.bytes) : 0 },
    };
  }

  // ---- tasks: supervisor actions and background loops

  async requestCancel(taskId: string, now: number): Promise<{ outcome: CancelOutcome; task: TaskRecord | null }> {
    const [outcomeRows = [], taskRows = []] = await this.db.run(backgroundStatements.REQUEST_CANCEL, { taskId, now });
    const outcome = (outcomeRows[0] as { outcome: CancelOutcome } | undefined)?.outcome ?? 'not_found';
    const row = taskRows[0] as mapping.TaskRow | undefined;
    return { outcome, task: row ? mapping.toTask(row) : null };
  }

  async retryTask(ref: { taskId: string; attempt: number; now: number } & RetryActor): Promise<TaskRecord | null> {
    const { taskId, attempt, now } = ref;
    const row = await this.db.one<string, mapping.TaskRow>(retryStatements.RETRY_TASK, {
      taskId,
      attempt,
      now,
      by: JSON.stringify(ref.by),
    });
    return row ? mapping.toTask(row) : null;
  }

  async retryTasks(query: BulkTaskQuery & RetryActor): Promise<BulkPage & { retried: DispatchRow[] }> {
    const [pageRows = [], rows = []] = await this.db.run(retryStatements.RETRY_TASKS, {
      ...bulkParams(query),
      by: JSON.stringify(query.by),
    });
    return { ...bulkPage(pageRows), retried: (rows as unknown as mapping.DispatchDbRow[]).map(mapping.toDispatch) };
  }

  async cancelTasks(query: BulkTaskQuery): Promise<BulkPage & { cancelled: string[]; cancelRequested: string[] }> {
    const [pageRows = [], rows = []] = await this.db.run(retryStatements.CANCEL_TASKS, bulkParams(query));
    const changed = rows as unknown as Array<{ id: string; outcome: 'cancelled' | 'requested' }>;
    return {
      ...bulkPage(pageRows),
      cancelled: changed.filter((r) => r.outcome === 'cancelled').map((r) => r.id),
      cancelRequested: changed.filter((r) => r.outcome === 'requested').map((r) => r.id),
    };
  }

  async listExpiredLeases(now: number, limit: number): Promise<ExpiredLease[]> {
    return (
      await this.db.all<'now' | 'limit', mapping.LeaseDbRow>(backgroundStatements.SELECT_EXPIRED_LEASES, { now, limit })
    ).map(mapping.toLease);
  }

  async requeueExpiredLease(ref: { taskId: string; attempt: number; now: number; decision: RetryDecision }) {
    const { taskId, attempt, now } = ref;
    return applied(
      await this.db.run(backgroundStatements.REQUEUE_EXPIRED_LEASE, {
        taskId,
        attempt,
        now,
        ...decisionParams(ref.decision),
      }),
    );
  }

  async listOverdue(now: number, limit: number): Promise<Array<{ id: string; attempt: number }>> {
    return this.db.all<'now' | 'limit', { id: string; attempt: number }>(backgroundStatements.SELECT_OVERDUE, {
      now,
      limit,
    });
  }

  async expireUnroutable(ref: { taskId: string; attempt: number; dueBefore: number; now: number }): Promise<boolean> {
    return changed(await this.db.run(backgroundStatements.EXPIRE_UNROUTABLE, { ...ref }));
  }

  async expireTask(ref: { taskId: string; attempt: number; now: number }): Promise<boolean> {
    return changed(
      await this.db.run(backgroundStatements.EXPIRE_TASK, { taskId: ref.taskId, attempt: ref.attempt, now: ref.now }),
    );
  }

  async listQueuedForDispatch(opts: { afterId?: string; dueBefore?: number; limit: number }): Promise<DispatchRow[]> {
    const afterId = opts.afterId ?? '';
    const rows =
      opts.dueBefore === undefined
        ? await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_QUEUED_FOR_DISPATCH, {
            afterId,
            limit: opts.limit,
          })
        : await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_DUE_FOR_DISPATCH, {
            afterId,
            dueBefore: opts.dueBefore,
            limit: opts.limit,
          });
    return rows.map(mapping.toDispatch);
  }

  async listQueuedOnRoute(query: RouteQueueQuery): Promise<DispatchRow[]> {
    const key = routeKey(query.route.type, query.route.capabilities);
    // A key longer than the column cannot be a route's.
    if (key.length > COLUMN_LENGTH.routeKey) return [];
    const rows = await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_QUEUED_ON_ROUTE, {
      routeKey: key,
      dueBefore: query.dueBefore,
      sentBefore: query.sentBefore,
      ...routeQueueAfter(query),
      limit: query.limit,
    });
    return rows.map(mapping.toDispatch);
  }

  async listClaimable(query: ClaimableQuery): Promise<DispatchRow[]> {
    // A key longer than the column cannot be a route's.
    const routes = query.routes
      .map(({ route, dueBefore }) => ({ key: routeKey(route.type, route.capabilities), dueBefore }))
      .filter((r) => r.key.length <= COLUMN_LENGTH.routeKey);
    if (routes.length === 0 || query.limit < 1) return [];
    const rows = await this.db.all<string, mapping.DispatchDbRow>(backgroundStatements.SELECT_CLAIMABLE, {
      routes: JSON.stringify(routes),
      limit: query.limit,
    });
    return rows.map(mapping.toDispatch);
  }

  async markDispatched(taskIds: string[], now: number): Promise<void> {
    // An id longer than the column cannot be a task's.
    const ids = taskIds.filter((id) => id.length <= 64);
    if (ids.length > 0) await this.db.run(backgroundStatements.MARK_DISPATCHED, { ids: JSON.stringify(ids), now });
  }

  async listRoutes(): Promise<Route[]> {
    return (await this.db.all<never, { type: string; capabilities: string }>(taskStatements.SELECT_ROUTES, {})).map(
      mapping.toRoute,
    );
  }

  // ---- the agent registry (agents.ts)
  readonly registerAgent: Store['registerAgent'] = (...args) => this.agents.registerAgent(...args);
  readonly heartbeat: Store['heartbeat'] = (...args) => this.agents.heartbeat(...args);
  readonly setAgentState: Store['setAgentState'] = (...args) => this.agents.setAgentState(...args);
  readonly setAgentRecycle: Store['setAgentRecycle'] = (...args) => this.agents.setAgentRecycle(...args);
  readonly updateAgentSettings: Store['updateAgentSettings'] = (...args) => this.agents.updateAgentSettings(...args);
  readonly getAgent: Store['getAgent'] = (...args) => this.agents.getAgent(...args);
  readonly listAgents: Store['listAgents'] = (...args) => this.agents.listAgents(...args);
  readonly recordAgentSamples: Store['recordAgentSamples'] = (...args) => this.agents.recordAgentSamples(...args);
  readonly listAgentSamples: Store['listAgentSamples'] = (...args) => this.agents.listAgentSamples(...args);
  readonly purgeAgentSamples: Store['purgeAgentSamples'] = (...args) => this.agents.purgeAgentSamples(...args);
  readonly listAgentsPage: Store['listAgentsPage'] = (...args) => this.agents.listAgentsPage(...args);
  readonly listAgentEvents: Store['listAgentEvents'] = (...args) => this.agents.listAgentEvents(...args);
  readonly removeAgent: Store['removeAgent'] = (...args) => this.agents.removeAgent(...args);

  async listLeasesOf(agentId: string, limit: number): Promise<ExpiredLease[]> {
    return (await this.db.all<string, mapping.LeaseDbRow>(fleetStatements.SELECT_LEASES_OF, { agentId, limit })).map(
      mapping.toLease,
    );
  }

  async reclaimLease(ref: LeaseRef & { decision: RetryDecision }): Promise<boolean> {
    return applied(
      await this.db.run(fleetStatements.RECLAIM_LEASE, { ...leaseKey(ref), ...decisionParams(ref.decision) }),
    );
  }

  async listAgentRuns(agentId: string, since: number): Promise<AgentRun[]> {
    const params = { agentId, since };
    return (await this.db.all<string, mapping.AgentRunRow>(fleetStatements.SELECT_AGENT_RUNS, params)).map(
      mapping.toAgentRun,
    );
  }

  async countAgentRuns(opts: { agentIds: readonly string[]; since: number }): Promise<AgentRunCounts[]> {
    if (opts.agentIds.length === 0) return [];
    const rows = await this.db.all<string, { agent_id: string; succeeded: number; failed: number }>(
      fleetStatements.COUNT_AGENT_RUNS,
      { agentIds: JSON.stringify(opts.agentIds), since: opts.since },
    );
    return rows.map((r) => ({ agentId: r.agent_id, succeeded: Number(r.succeeded), failed: Number(r.failed) }));
  }

  // ---- stats

  async routeStats(now: number): Promise<RouteStats[]> {
    return (await this.db.all<'now', mapping.RouteStatsRow>(fleetStatements.ROUTE_STATS, { now })).map(
      mapping.toRouteStats,
    );
  }

  async countTaskEvents(
    kinds: readonly TaskEventKind[],
    since: number,
  ): Promise<Partial<Record<TaskEventKind, number>>> {
    if (kinds.length === 0) return {};
    const distinct = [...new Set(kinds)];
    const rows = await this.db.all<string, { kind: TaskEventKind; n: number }>(fleetStatements.COUNT_TASK_EVENTS, {
      kinds: JSON.stringify(distinct),
      since,
    });
    return countsByKind(distinct, rows);
  }

  // ---- declared pools

  async declarePool(pool: DeclaredPool): Promise<{ pool: DeclaredPool; created: boolean }> {
    const row = await this.db.one<string, mapping.PoolRow & { created: boolean }>(
      poolStatements.DECLARE_POOL,
      mapping.poolParams(pool),
    );
    if (!row) throw new Error(`mssql: DECLARE_POOL returned no row for pool ${pool.key}`);
    return { pool: mapping.toPool(row), created: row.created };
  }

  async listDeclaredPools(): Promise<DeclaredPool[]> {
    return (await this.db.all<never, mapping.PoolRow>(poolStatements.SELECT_POOLS, {})).map(mapping.toPool);
  }

  async removeDeclaredPool(key: string): Promise<boolean> {
    return (await this.db.all(poolStatements.DELETE_POOL, { key })).length === 1;
  }

  // ---- API keys and the audit log (security.ts)
  readonly insertApiKey: Store['insertApiKey'] = (key) => this.security.insertApiKey(key);
  readonly findApiKeyByHash: Store['findApiKeyByHash'] = (hash) => this.security.findApiKeyByHash(hash);
  readonly listApiKeys: Store['listApiKeys'] = () => this.security.listApiKeys();
  readonly revokeApiKey: Store['revokeApiKey'] = (id, now) => this.security.revokeApiKey(id, now);
  readonly appendAudit: Store['appendAudit'] = (entry) => this.security.appendAudit(entry);
  readonly listAudit: Store['listAudit'] = (opts) => this.security.listAudit(opts);

  // ---- retention (purge.ts)

  purgeTasks(...args: Parameters<Store['purgeTasks']>): ReturnType<Store['purgeTasks']> {
    return this.purge.purgeTasks(...args);
  }

  purgeAgents(...args: Parameters<Store['purgeAgents']>): ReturnType<Store['purgeAgents']> {
    return this.purge.purgeAgents(...args);
  }

  purgeAudit(...args: Parameters<Store['purgeAudit']>): ReturnType<Store['purgeAudit']> {
    return this.purge.purgeAudit(...args);
  }

  // ---- webhooks (webhooks.ts)

  insertWebhookSubscription(
    ...args: Parameters<Store['insertWebhookSubscription']>
  ): ReturnType<Store['insertWebhookSubscription']> {
    return this.webhooks.insertWebhookSubscription(...args);
  }

  getWebhookSubscription(
    ...args: Parameters<Store['getWebhookSubscription']>
  ): ReturnType<Store['getWebhookSubscription']> {
    return this.webhooks.getWebhookSubscription(...args);
  }

  listWebhookSubscriptions(
    ...args: Parameters<Store['listWebhookSubscriptions']>
  ): ReturnType<Store['listWebhookSubscriptions']> {
    return this.webhooks.listWebhookSubscriptions(...args);
  }

  deleteWebhookSubscription(
    ...args: Parameters<Store['deleteWebhookSubscription']>
  ): ReturnType<Store['deleteWebhookSubscription']> {
    return this.webhooks.deleteWebhookSubscription(...args);
  }

  setWebhookKeySecret(...args: Parameters<Store['setWebhookKeySecret']>): ReturnType<Store['setWebhookKeySecret']> {
    return this.webhooks.setWebhookKeySecret(...args);
  }

  getWebhookKeySecret(...args: Parameters<Store['getWebhookKeySecret']>): ReturnType<Store['getWebhookKeySecret']> {
    return this.webhooks.getWebhookKeySecret(...args);
  }

  leaseWebhookCursor(...args: Parameters<Store['leaseWebhookCursor']>): ReturnType<Store['leaseWebhookCursor']> {
    return this.webhooks.leaseWebhookCursor(...args);
  }

  advanceWebhookCursor(...args: Parameters<Store['advanceWebhookCursor']>): ReturnType<Store['advanceWebhookCursor']> {
    return this.webhooks.advanceWebhookCursor(...args);
  }

  claimWebhookDeliveries(
    ...args: Parameters<Store['claimWebhookDeliveries']>
  ): ReturnType<Store['claimWebhookDeliveries']> {
    return this.webhooks.claimWebhookDeliveries(...args);
  }

  recordWebhookAttempt(...args: Parameters<Store['recordWebhookAttempt']>): ReturnType<Store['recordWebhookAttempt']> {
    return this.webhooks.recordWebhookAttempt(...args);
  }

  listWebhookDeliveries(
    ...args: Parameters<Store['listWebhookDeliveries']>
  ): ReturnType<Store['listWebhookDeliveries']> {
    return this.webhooks.listWebhookDeliveries(...args);
  }

  async ping(): Promise<void> {
    await this.db.run(PING, {});
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** A bulk page's parameters: the filter (shared with SQLite) and the time of the writes. */
function bulkParams(query: BulkTaskQuery) {
  return { ...bulkPageFilter(query), now: query.now };
}

function bulkPage(rows: readonly unknown[]): BulkPage {
  const head = rows[0] as { matched: number; last_id: string | null } | undefined;
  return { matched: head?.matched ?? 0, lastId: head?.last_id ?? null };
}
