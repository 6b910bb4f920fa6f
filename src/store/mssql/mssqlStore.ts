/**
 * The Azure SQL / SQL Server adapter of the store port (mssql over tedious, one connection pool per store).
 *
 * Each port method is one statement of `statements/` (one round trip); every multi-statement write is one
 * transaction with XACT_ABORT ON inside that statement, so it is applied whole or not at all. Decisions come
 * from the caller (src/domain): the adapter only performs the conditional reads and writes.
 *
 * Opened by open.ts, which checks the schema version first.
 */
import type { DeclaredPool } from '../../domain/pool';
import type { TaskError, TaskEvent, TaskEventKind, TaskRecord } from '../../domain/task';
import type { TaskLogBatch, TaskLogLevel, TaskLogs } from '../../domain/taskLog';
import type { RetryDecision } from '../../domain/transitions';
import type {
  AgentRun,
  AgentRunCounts,
  ClaimResult,
  ExpiredLease,
  InsertOutcome,
  LeaseRef,
  NewTask,
  RenewResult,
  RouteStats,
  Store,
  TaskEventKindRange,
  TaskHead,
  TaskFilter,
} from '../port';
import { countsByKind, leaseKey, TaskListStatements, type LeaseKey } from '../shared';
import { appliedIn, changedIn, type SqlClient } from './client';
import { decisionParams, runMsHead } from './lease';
import * as mapping from './rows';
import * as fleetStatements from './statements/fleet';
import * as leaseStatements from './statements/lease';
import * as logStatements from './statements/logs';
import * as poolStatements from './statements/pools';
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
import { MssqlBackground } from './background';

export class MssqlStore implements Store {
  readonly kind = 'mssql' as const;
  private readonly lists = new TaskListStatements(taskStatements.listTasksStatement);

  private readonly webhooks: MssqlWebhooks;
  private readonly background: MssqlBackground;
  private readonly purge: MssqlPurge;

  private readonly schedules: MssqlSchedules;
  private readonly workflows: MssqlWorkflows;
  private readonly agents: MssqlAgents;
  private readonly routeControls: MssqlRouteControls;
  private readonly routeMinutes: MssqlRouteMinutes;
  private readonly security: MssqlSecurity;

  constructor(private readonly db: SqlClient) {
    this.webhooks = new MssqlWebhooks(db);
    this.background = new MssqlBackground(db);
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
    return appliedIn(
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
    return appliedIn(sets);
  }

  async finishCancelled(ref: LeaseRef): Promise<boolean> {
    return changedIn(await this.db.run(leaseStatements.FINISH_CANCELLED, leaseKey(ref)));
  }

  async releaseTask(ref: LeaseRef): Promise<boolean> {
    return changedIn(await this.db.run(leaseStatements.RELEASE_TASK, leaseKey(ref)));
  }

  // ---- tasks: what a running attempt reports

  async setTaskProgress(write: { taskId: string; attempt: number; progress: unknown; now: number }): Promise<boolean> {
    return appliedIn(
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
    return appliedIn(
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

  // ---- tasks: supervisor actions and background loops (background.ts)
  readonly requestCancel: Store['requestCancel'] = (...a) => this.background.requestCancel(...a);
  readonly retryTask: Store['retryTask'] = (...a) => this.background.retryTask(...a);
  readonly retryTasks: Store['retryTasks'] = (...a) => this.background.retryTasks(...a);
  readonly cancelTasks: Store['cancelTasks'] = (...a) => this.background.cancelTasks(...a);
  readonly listExpiredLeases: Store['listExpiredLeases'] = (...a) => this.background.listExpiredLeases(...a);
  readonly requeueExpiredLease: Store['requeueExpiredLease'] = (...a) => this.background.requeueExpiredLease(...a);
  readonly listOverdue: Store['listOverdue'] = (...a) => this.background.listOverdue(...a);
  readonly expireUnroutable: Store['expireUnroutable'] = (...a) => this.background.expireUnroutable(...a);
  readonly expireTask: Store['expireTask'] = (...a) => this.background.expireTask(...a);
  readonly listQueuedForDispatch: Store['listQueuedForDispatch'] = (...a) =>
    this.background.listQueuedForDispatch(...a);
  readonly listQueuedOnRoute: Store['listQueuedOnRoute'] = (...a) => this.background.listQueuedOnRoute(...a);
  readonly listClaimable: Store['listClaimable'] = (...a) => this.background.listClaimable(...a);
  readonly markDispatched: Store['markDispatched'] = (...a) => this.background.markDispatched(...a);
  readonly listRoutes: Store['listRoutes'] = (...a) => this.background.listRoutes(...a);

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
    return appliedIn(
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

  readonly purgeTasks: Store['purgeTasks'] = (...a) => this.purge.purgeTasks(...a);
  readonly purgeAgents: Store['purgeAgents'] = (...a) => this.purge.purgeAgents(...a);
  readonly purgeAudit: Store['purgeAudit'] = (...a) => this.purge.purgeAudit(...a);
  // ---- webhooks (webhooks.ts)

  readonly insertWebhookSubscription: Store['insertWebhookSubscription'] = (...a) =>
    this.webhooks.insertWebhookSubscription(...a);
  readonly getWebhookSubscription: Store['getWebhookSubscription'] = (...a) =>
    this.webhooks.getWebhookSubscription(...a);
  readonly listWebhookSubscriptions: Store['listWebhookSubscriptions'] = (...a) =>
    this.webhooks.listWebhookSubscriptions(...a);
  readonly deleteWebhookSubscription: Store['deleteWebhookSubscription'] = (...a) =>
    this.webhooks.deleteWebhookSubscription(...a);
  readonly setWebhookKeySecret: Store['setWebhookKeySecret'] = (...a) => this.webhooks.setWebhookKeySecret(...a);
  readonly getWebhookKeySecret: Store['getWebhookKeySecret'] = (...a) => this.webhooks.getWebhookKeySecret(...a);
  readonly leaseWebhookCursor: Store['leaseWebhookCursor'] = (...a) => this.webhooks.leaseWebhookCursor(...a);
  readonly advanceWebhookCursor: Store['advanceWebhookCursor'] = (...a) => this.webhooks.advanceWebhookCursor(...a);
  readonly claimWebhookDeliveries: Store['claimWebhookDeliveries'] = (...a) =>
    this.webhooks.claimWebhookDeliveries(...a);
  readonly recordWebhookAttempt: Store['recordWebhookAttempt'] = (...a) => this.webhooks.recordWebhookAttempt(...a);
  readonly listWebhookDeliveries: Store['listWebhookDeliveries'] = (...a) => this.webhooks.listWebhookDeliveries(...a);
  async ping(): Promise<void> {
    await this.db.run(PING, {});
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
