/**
 * Workflows, the state of their steps and their event log (src/domain/workflow.ts, src/store/workflowPort.ts).
 * Twin of `mssql/statements/workflows.ts`. Parameters are named (`@name`); times are epoch milliseconds; JSON
 * columns hold text. Each statement reads by an index of V18_WORKFLOWS (schemaWorkflows.ts).
 */
import type { Database } from 'better-sqlite3';
import { TERMINAL_STATUSES } from '../../../domain/task';
import { TERMINAL_WORKFLOW_STATES } from '../../../domain/workflow';
import { sqlStringList } from '../../sqlLiteral';
import type { WorkflowEventRowOf, WorkflowRowOf, WorkflowStepRowOf, WorkflowSummaryRowOf } from '../../workflowRows';

type WorkflowRow = WorkflowRowOf<number, number>;
type SummaryRow = WorkflowSummaryRowOf<number, number>;
type StepRow = WorkflowStepRowOf<number>;
type EventRow = WorkflowEventRowOf<number, number>;

const FINISHED = sqlStringList([...TERMINAL_WORKFLOW_STATES]);
const TASK_FINISHED = sqlStringList([...TERMINAL_STATUSES]);

/**
 * INSERT_WORKFLOW: a new workflow, `running`, version 0, dirty (its first steps are not released yet).
 * Params: @id, @name, @submittedBy, @idempotencyKey, @requestHash, @spec, @createdAt.
 * Errors: SQLITE_CONSTRAINT_PRIMARYKEY or _UNIQUE when the id or the idempotency key exists.
 */
export const INSERT_WORKFLOW = `
INSERT INTO workflows (id, name, state, version, dirty, submitted_by, idempotency_key, request_hash, spec, error,
  created_at, updated_at, finished_at)
VALUES (@id, @name, 'running', 0, 1, @submittedBy, @idempotencyKey, @requestHash, @spec, NULL,
  @createdAt, @createdAt, NULL)`;

/** SELECT_WORKFLOW_BY_KEY: the workflow holding an idempotency key (its unique index). Params: @key. */
export const SELECT_WORKFLOW_BY_KEY = `SELECT * FROM workflows WHERE idempotency_key = @key`;

/** INSERT_WORKFLOW_STEP: a new step, `pending` at round 0 with no task. Params: @workflowId, @stepId, @ord, @now. */
export const INSERT_WORKFLOW_STEP = `
INSERT INTO workflow_steps (workflow_id, step_id, ord, state, round, task_id, task_ids, result, error, feedback,
  updated_at)
VALUES (@workflowId, @stepId, @ord, 'pending', 0, NULL, '[]', NULL, NULL, NULL, @now)`;

/** SELECT_WORKFLOW: one workflow (primary key). Params: @id. Result: the row or none. */
export const SELECT_WORKFLOW = `SELECT * FROM workflows WHERE id = @id`;

/** SELECT_WORKFLOW_STEPS: a workflow's steps in submission order (primary key). Params: @workflowId. */
export const SELECT_WORKFLOW_STEPS = `SELECT * FROM workflow_steps WHERE workflow_id = @workflowId ORDER BY ord`;

const SUMMARY_COLUMNS = `w.id, w.name, w.state, w.version, w.dirty, w.submitted_by, w.idempotency_key,
  w.request_hash, w.error, w.created_at, w.updated_at, w.finished_at,
  (SELECT count(*) FROM workflow_steps s WHERE s.workflow_id = w.id) AS step_count`;

/**
 * SELECT_WORKFLOWS: workflows newest first (ids sort by creation), from the keyset @beforeId (null: from the
 * newest), of one state and one submitter when given. Three shapes, so each reads the index of its filter:
 * SELECT_WORKFLOWS (the primary key), SELECT_WORKFLOWS_BY_STATE (workflows_state_id) and
 * SELECT_WORKFLOWS_BY_SUBMITTER (workflows_submitted_by_id, the state checked on its rows).
 * Params: @state, @submittedBy, @beforeId (each may be null), @limit. Result: summary rows.
 */
export const SELECT_WORKFLOWS = `
SELECT ${SUMMARY_COLUMNS} FROM workflows w
WHERE (@beforeId IS NULL OR w.id < @beforeId)
ORDER BY w.id DESC LIMIT @limit`;

export const SELECT_WORKFLOWS_BY_STATE = `
SELECT ${SUMMARY_COLUMNS} FROM workflows w
WHERE w.state = @state AND (@beforeId IS NULL OR w.id < @beforeId)
  AND (@submittedBy IS NULL OR w.submitted_by = @submittedBy)
ORDER BY w.id DESC LIMIT @limit`;

export const SELECT_WORKFLOWS_BY_SUBMITTER = `
SELECT ${SUMMARY_COLUMNS} FROM workflows w
WHERE w.submitted_by = @submittedBy AND (@beforeId IS NULL OR w.id < @beforeId)
  AND (@state IS NULL OR w.state = @state)
ORDER BY w.id DESC LIMIT @limit`;

/**
 * APPLY_WORKFLOW_CHANGE: the compare-and-set of a planned change: applies only at @expectedVersion, bumping
 * the version (the steps and events are written in the same transaction only when it changed a row).
 * Params: @id, @expectedVersion, @state, @error, @finishedAt, @dirty, @now. Changes: 0|1.
 */
export const APPLY_WORKFLOW_CHANGE = `
UPDATE workflows SET state = @state, error = @error, finished_at = @finishedAt, version = version + 1,
  dirty = @dirty, updated_at = @now
WHERE id = @id AND version = @expectedVersion`;

/**
 * UPDATE_WORKFLOW_STEP: a step's state, whole, as the change planned it. Params: @workflowId, @stepId, @state,
 * @round, @taskId, @taskIds, @result, @error, @feedback, @updatedAt. Changes: 0|1.
 */
export const UPDATE_WORKFLOW_STEP = `
UPDATE workflow_steps SET state = @state, round = @round, task_id = @taskId, task_ids = @taskIds,
  result = @result, error = @error, feedback = @feedback, updated_at = @updatedAt
WHERE workflow_id = @workflowId AND step_id = @stepId`;

/** INSERT_WORKFLOW_EVENT: appends an event. Params: @workflowId, @at, @kind, @stepId, @round, @data. */
export const INSERT_WORKFLOW_EVENT = `
INSERT INTO workflow_events (workflow_id, at, kind, step_id, round, data)
VALUES (@workflowId, @at, @kind, @stepId, @round, @data)`;

/**
 * SELECT_WORKFLOWS_TO_ADVANCE: the workflows that need a pass: dirty ones not finished (workflows_dirty), and
 * any with a running step whose current task is finished (workflow_steps_running, then tasks by primary key),
 * whatever the workflow's state: a task that ends after its workflow was cancelled still has its step closed.
 * CROSS JOIN fixes the loop order in SQLite: without statistics the planner otherwise drives the join from
 * tasks_status_id over every finished task, where the running steps are few.
 * Params: @limit. Result: { id } rows.
 */
export const SELECT_WORKFLOWS_TO_ADVANCE = `
SELECT id FROM workflows WHERE dirty = 1 AND state NOT IN (${FINISHED})
UNION
SELECT s.workflow_id FROM workflow_steps s CROSS JOIN tasks t ON t.id = s.task_id
WHERE s.state = 'running' AND t.status IN (${TASK_FINISHED})
LIMIT @limit`;

/** SELECT_WORKFLOW_EVENTS: a workflow's events after @afterSeq, oldest first. Params: @workflowId, @afterSeq, @limit. */
export const SELECT_WORKFLOW_EVENTS = `
SELECT * FROM workflow_events WHERE workflow_id = @workflowId AND seq > @afterSeq ORDER BY seq LIMIT @limit`;

/**
 * SELECT_WORKFLOW_EVENTS_OF_KINDS: every workflow's events of @kinds (a JSON array) in the range
 * (@afterSeq, @upToSeq], oldest first (the primary key range). Params: @afterSeq, @upToSeq, @kinds, @limit.
 */
export const SELECT_WORKFLOW_EVENTS_OF_KINDS = `
SELECT * FROM workflow_events
WHERE seq > @afterSeq AND seq <= @upToSeq AND kind IN (SELECT value FROM json_each(@kinds))
ORDER BY seq LIMIT @limit`;

/** SELECT_LAST_WORKFLOW_EVENT_SEQ: the newest event's seq (none when the log is empty). */
export const SELECT_LAST_WORKFLOW_EVENT_SEQ = `SELECT max(seq) AS seq FROM workflow_events`;

/**
 * PURGE_SELECT_WORKFLOWS: up to @limit workflows finished before @before, oldest first (workflows_finished_at).
 * Params: @before, @limit. Result: { id } rows.
 */
export const PURGE_SELECT_WORKFLOWS = `
SELECT id FROM workflows WHERE finished_at IS NOT NULL AND finished_at < @before ORDER BY finished_at LIMIT @limit`;

/** PURGE_WORKFLOW_EVENTS: the events of these workflows (@ids, a JSON array). Changes: the events deleted. */
export const PURGE_WORKFLOW_EVENTS = `
DELETE FROM workflow_events WHERE workflow_id IN (SELECT value FROM json_each(@ids))`;

/** PURGE_WORKFLOW_STEPS: the steps of these workflows (@ids, a JSON array). Changes: the steps deleted. */
export const PURGE_WORKFLOW_STEPS = `
DELETE FROM workflow_steps WHERE workflow_id IN (SELECT value FROM json_each(@ids))`;

/**
 * PURGE_WORKFLOWS: these workflows (@ids), still finished before @before (the select's condition, in the same
 * transaction), once their steps and events are gone (foreign keys). Changes: the workflows deleted.
 */
export const PURGE_WORKFLOWS = `
DELETE FROM workflows
WHERE id IN (SELECT value FROM json_each(@ids)) AND finished_at IS NOT NULL AND finished_at < @before`;

interface ListParams {
  state: string | null;
  submittedBy: string | null;
  beforeId: string | null;
  limit: number;
}

export function prepareWorkflowStatements(db: Database) {
  return {
    insertWorkflow: db.prepare<Record<string, unknown>>(INSERT_WORKFLOW),
    selectByKey: db.prepare<{ key: string }, WorkflowRow>(SELECT_WORKFLOW_BY_KEY),
    insertStep: db.prepare<{ workflowId: string; stepId: string; ord: number; now: number }>(INSERT_WORKFLOW_STEP),
    selectWorkflow: db.prepare<{ id: string }, WorkflowRow>(SELECT_WORKFLOW),
    selectSteps: db.prepare<{ workflowId: string }, StepRow>(SELECT_WORKFLOW_STEPS),
    selectWorkflows: db.prepare<ListParams, SummaryRow>(SELECT_WORKFLOWS),
    selectWorkflowsByState: db.prepare<ListParams, SummaryRow>(SELECT_WORKFLOWS_BY_STATE),
    selectWorkflowsBySubmitter: db.prepare<ListParams, SummaryRow>(SELECT_WORKFLOWS_BY_SUBMITTER),
    applyChange: db.prepare<Record<string, unknown>>(APPLY_WORKFLOW_CHANGE),
    updateStep: db.prepare<Record<string, unknown>>(UPDATE_WORKFLOW_STEP),
    insertEvent: db.prepare<Record<string, unknown>>(INSERT_WORKFLOW_EVENT),
    selectToAdvance: db.prepare<{ limit: number }, { id: string }>(SELECT_WORKFLOWS_TO_ADVANCE),
    selectEvents: db.prepare<{ workflowId: string; afterSeq: number; limit: number }, EventRow>(SELECT_WORKFLOW_EVENTS),
    selectEventsOfKinds: db.prepare<{ afterSeq: number; upToSeq: number; kinds: string; limit: number }, EventRow>(
      SELECT_WORKFLOW_EVENTS_OF_KINDS,
    ),
    selectLastEventSeq: db.prepare<[], { seq: number | null }>(SELECT_LAST_WORKFLOW_EVENT_SEQ),
    purgeSelect: db.prepare<{ before: number; limit: number }, { id: string }>(PURGE_SELECT_WORKFLOWS),
    purgeEvents: db.prepare<{ ids: string }>(PURGE_WORKFLOW_EVENTS),
    purgeSteps: db.prepare<{ ids: string }>(PURGE_WORKFLOW_STEPS),
    purgeWorkflows: db.prepare<{ ids: string; before: number }>(PURGE_WORKFLOWS),
  };
}
