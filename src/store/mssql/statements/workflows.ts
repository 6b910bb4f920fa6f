/**
 * Workflows, the state of their steps and their event log (src/domain/workflow.ts, src/store/workflowPort.ts).
 * Twin of `sqlite/statements/workflows.ts`: what SQLite does with several statements in one transaction, each
 * write here does in one batch. JSON columns are sent as JSON text; lists of rows as a JSON array read with
 * OPENJSON (times in them as 'YYYY-MM-DDTHH:mm:ss.fff', UTC).
 */
import { TERMINAL_STATUSES } from '../../../domain/task';
import { TERMINAL_WORKFLOW_STATES } from '../../../domain/workflow';
import { sqlStringList } from '../../sqlLiteral';
import { BIN2, COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const WORKFLOW_COLUMNS =
  'id, name, state, version, dirty, submitted_by, idempotency_key, request_hash, spec, error, created_at, updated_at, finished_at';
const STEP_COLUMNS = 'workflow_id, step_id, ord, state, round, task_id, task_ids, result, error, feedback, updated_at';
const EVENT_COLUMNS = 'seq, workflow_id, at, kind, step_id, round, data';
const prefixed = (columns: string, prefix: string) =>
  columns
    .split(', ')
    .map((c) => `${prefix}${c}`)
    .join(', ');

const FINISHED = sqlStringList([...TERMINAL_WORKFLOW_STATES]);
const TASK_FINISHED = sqlStringList([...TERMINAL_STATUSES]);

const workflowId = param.varchar(COLUMN_LENGTH.workflowId);

/**
 * INSERT_WORKFLOW: a new workflow (`running`, version 0, dirty), its steps (`pending`, round 0, in @steps order)
 * and its `submitted` event, or the workflow already holding @idempotencyKey.
 *
 * Params: @id, @name, @submittedBy, @idempotencyKey, @requestHash, @spec (JSON array of StepSpec), @steps (JSON
 * array of { ord, id }), @createdAt.
 *
 * Result sets: [0] { id, outcome }: 'created'; 'replay' (the key's workflow, same request hash: nothing written);
 * or 'conflict' (another hash: nothing written, no other set follows). [1] the workflow row; [2] its steps.
 *
 * Locking: the key lookup takes UPDLOCK + HOLDLOCK (a key-range lock on UX_workflows_idempotency_key), so a
 * concurrent insert of the same new key waits for this one and then finds it.
 *
 * Errors: 2627 when the id exists (ids are fresh UUIDv7s: a bug).
 */
export const INSERT_WORKFLOW = statement('INSERT_WORKFLOW', {
  idempotent: false,
  params: {
    id: workflowId,
    name: param.nvarchar(COLUMN_LENGTH.workflowName),
    submittedBy: param.nvarchar(COLUMN_LENGTH.keyId),
    idempotencyKey: param.nvarchar(COLUMN_LENGTH.idempotencyKey),
    requestHash: param.varchar(COLUMN_LENGTH.hash),
    spec: param.json,
    steps: param.json,
    createdAt: param.time,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @found varchar(64), @foundHash varchar(128);
DECLARE @outcome varchar(16) = 'created';
BEGIN TRANSACTION;

IF @idempotencyKey IS NOT NULL
  SELECT @found = id, @foundHash = request_hash
  FROM ${TABLE.workflows} WITH (UPDLOCK, HOLDLOCK, ROWLOCK)
  WHERE idempotency_key = @idempotencyKey;

IF @found IS NOT NULL
BEGIN
  IF NOT (@foundHash = @requestHash OR (@foundHash IS NULL AND @requestHash IS NULL))
  BEGIN
    ROLLBACK TRANSACTION;
    SELECT @found AS id, 'conflict' AS outcome;
    RETURN;
  END;
  SET @outcome = 'replay';
END
ELSE
BEGIN
  SET @found = @id;
  INSERT INTO ${TABLE.workflows} (${WORKFLOW_COLUMNS})
  VALUES (@id, @name, 'running', 0, 1, @submittedBy, @idempotencyKey, @requestHash, @spec, NULL,
    @createdAt, @createdAt, NULL);
  INSERT INTO ${TABLE.workflowSteps} (${STEP_COLUMNS})
  SELECT @id, j.step_id, j.ord, 'pending', 0, NULL, N'[]', NULL, NULL, NULL, @createdAt
  FROM OPENJSON(@steps) WITH (ord int '$.ord', step_id varchar(64) '$.id') AS j;
  INSERT INTO ${TABLE.workflowEvents} (workflow_id, at, kind, step_id, round, data)
  VALUES (@id, @createdAt, 'submitted', NULL, NULL, NULL);
END;

COMMIT TRANSACTION;
SELECT @found AS id, @outcome AS outcome;
SELECT ${WORKFLOW_COLUMNS} FROM ${TABLE.workflows} WHERE id = @found;
SELECT ${STEP_COLUMNS} FROM ${TABLE.workflowSteps} WHERE workflow_id = @found ORDER BY ord;`,
});

/** SELECT_WORKFLOW: one workflow (clustered key) and its steps in submission order. Params: @id. Result sets: [0] the row or none; [1] the steps. */
export const SELECT_WORKFLOW = statement('SELECT_WORKFLOW', {
  idempotent: true,
  params: { id: workflowId },
  text: `
SELECT ${WORKFLOW_COLUMNS} FROM ${TABLE.workflows} WHERE id = @id;
SELECT ${STEP_COLUMNS} FROM ${TABLE.workflowSteps} WHERE workflow_id = @id ORDER BY ord;`,
});

/**
 * SELECT_WORKFLOWS: workflows newest first (ids sort by creation) from the keyset @beforeId (null: from the
 * newest), of @state and of @submittedBy when given (null: any), with the number of their steps. Recompiled per
 * call so that the filters given choose the index (IX_workflows_state_id, IX_workflows_submitted_by_id or the
 * clustered key). Params: @state, @submittedBy, @beforeId, @limit. Result: summary rows (no spec).
 */
export const SELECT_WORKFLOWS = statement('SELECT_WORKFLOWS', {
  idempotent: true,
  params: {
    state: param.varchar(16),
    submittedBy: param.nvarchar(COLUMN_LENGTH.keyId),
    // The API's cursor (up to 100 characters), longer than any id: it still compares as text does in SQLite.
    beforeId: param.varchar(100),
    limit: param.int,
  },
  text: `
SELECT TOP (@limit) ${prefixed(WORKFLOW_COLUMNS.replace('spec, ', ''), 'w.')},
  (SELECT COUNT(*) FROM ${TABLE.workflowSteps} AS s WHERE s.workflow_id = w.id) AS step_count
FROM ${TABLE.workflows} AS w
WHERE (@state IS NULL OR w.state = @state)
  AND (@submittedBy IS NULL OR w.submitted_by = @submittedBy)
  AND (@beforeId IS NULL OR w.id < @beforeId)
ORDER BY w.id DESC
OPTION (RECOMPILE);`,
});

/**
 * APPLY_WORKFLOW_CHANGE: a planned change in one transaction: the workflow's row only at @expectedVersion
 * (bumping the version), then each step of @steps whole, then the events of @events in order. When the version
 * moved on (or the workflow is gone) it rolls back and writes nothing.
 *
 * Params: @id, @expectedVersion, @state, @error (JSON or null), @finishedAt, @dirty, @now; @steps: JSON array of
 * { stepId, state, round, taskId, taskIds, result, error, feedback (JSON text or null), updatedAt }; @events: JSON
 * array of { ord, at, kind, step, round, data (JSON text or null) }.
 *
 * Result: { changed } (1 applied, 0 not). Errors: 50020 when @steps names a step the workflow lacks (nothing
 * written). Race-safety: the version compare-and-set takes the row's update lock,
 * held to the commit, so the steps and events belong to the change that won. Not idempotent: a retry after a
 * lost answer finds the version moved and answers 0 (the engine then reads the workflow again).
 */
export const APPLY_WORKFLOW_CHANGE = statement('APPLY_WORKFLOW_CHANGE', {
  idempotent: false,
  params: {
    id: workflowId,
    expectedVersion: param.int,
    state: param.varchar(16),
    error: param.json,
    finishedAt: param.time,
    dirty: param.bit,
    now: param.time,
    steps: param.json,
    events: param.json,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @updated int;
BEGIN TRANSACTION;
UPDATE ${TABLE.workflows}
SET state = @state, error = @error, finished_at = @finishedAt, version = version + 1, dirty = @dirty, updated_at = @now
WHERE id = @id AND version = @expectedVersion;
IF @@ROWCOUNT = 0
BEGIN
  ROLLBACK TRANSACTION;
  SELECT 0 AS changed;
  RETURN;
END;

UPDATE s
SET state = j.state, round = j.round, task_id = j.task_id, task_ids = j.task_ids, result = j.result, error = j.error,
  feedback = j.feedback, updated_at = j.updated_at
FROM ${TABLE.workflowSteps} AS s
JOIN OPENJSON(@steps) WITH (
  step_id    varchar(64)   '$.stepId',
  state      varchar(16)   '$.state',
  round      int           '$.round',
  task_id    varchar(64)   '$.taskId',
  task_ids   nvarchar(max) '$.taskIds',
  result     nvarchar(max) '$.result',
  error      nvarchar(max) '$.error',
  feedback   nvarchar(max) '$.feedback',
  updated_at datetime2(3)  '$.updatedAt'
) AS j ON s.step_id = j.step_id ${BIN2}
WHERE s.workflow_id = @id;
-- Kept at once: the comparison below runs a query of its own.
SET @updated = @@ROWCOUNT;
-- A plan naming a step the workflow lacks is a bug: THROW (under XACT_ABORT) rolls the whole change back.
IF @updated <> (SELECT COUNT(*) FROM OPENJSON(@steps))
  THROW 50020, N'taskfleet: the workflow change names a step the workflow does not have: the change was not applied', 1;

INSERT INTO ${TABLE.workflowEvents} (workflow_id, at, kind, step_id, round, data)
SELECT @id, j.at, j.kind, j.step_id, j.round, j.data
FROM OPENJSON(@events) WITH (
  ord     int           '$.ord',
  at      datetime2(3)  '$.at',
  kind    varchar(32)   '$.kind',
  step_id varchar(64)   '$.step',
  round   int           '$.round',
  data    nvarchar(max) '$.data'
) AS j
ORDER BY j.ord;

COMMIT TRANSACTION;
SELECT 1 AS changed;`,
});

/**
 * SELECT_WORKFLOWS_TO_ADVANCE: the workflows that need a pass: dirty ones not finished (IX_workflows_dirty), and
 * any with a running step whose current task is finished (IX_workflow_steps_running, then tasks by clustered
 * key), whatever the workflow's state. Params: @limit. Result: { id } rows.
 */
export const SELECT_WORKFLOWS_TO_ADVANCE = statement('SELECT_WORKFLOWS_TO_ADVANCE', {
  idempotent: true,
  params: { limit: param.int },
  text: `
SELECT TOP (@limit) d.id
FROM (
  SELECT w.id FROM ${TABLE.workflows} AS w WHERE w.dirty = 1 AND w.state NOT IN (${FINISHED})
  UNION
  SELECT s.workflow_id FROM ${TABLE.workflowSteps} AS s
  JOIN ${TABLE.tasks} AS t ON t.id = s.task_id
  WHERE s.state = 'running' AND t.status IN (${TASK_FINISHED})
) AS d;`,
});

/** SELECT_WORKFLOW_EVENTS: a workflow's events after @afterSeq, oldest first (IX_workflow_events_workflow_seq). Params: @workflowId, @afterSeq, @limit. */
export const SELECT_WORKFLOW_EVENTS = statement('SELECT_WORKFLOW_EVENTS', {
  idempotent: true,
  params: { workflowId, afterSeq: param.bigint, limit: param.int },
  text: `
SELECT TOP (@limit) ${EVENT_COLUMNS} FROM ${TABLE.workflowEvents}
WHERE workflow_id = @workflowId AND seq > @afterSeq
ORDER BY seq;`,
});

/**
 * SELECT_WORKFLOW_EVENTS_OF_KINDS: every workflow's events of @kinds (JSON array) with @afterSeq < seq <= @upToSeq,
 * oldest first: a range of the clustered key (the webhook outbox). Params: @afterSeq, @upToSeq, @kinds, @limit.
 */
export const SELECT_WORKFLOW_EVENTS_OF_KINDS = statement('SELECT_WORKFLOW_EVENTS_OF_KINDS', {
  idempotent: true,
  params: { afterSeq: param.bigint, upToSeq: param.bigint, kinds: param.json, limit: param.int },
  text: `
SELECT TOP (@limit) ${EVENT_COLUMNS}
FROM ${TABLE.workflowEvents}
WHERE seq > @afterSeq AND seq <= @upToSeq
  AND kind IN (SELECT k.value ${BIN2} FROM OPENJSON(@kinds) WITH (value varchar(32) '$') AS k)
ORDER BY seq;`,
});

/** SELECT_LAST_WORKFLOW_EVENT_SEQ: the newest event's seq, 0 when there is none (the clustered key's last row). */
export const SELECT_LAST_WORKFLOW_EVENT_SEQ = statement('SELECT_LAST_WORKFLOW_EVENT_SEQ', {
  idempotent: true,
  params: {},
  text: `SELECT COALESCE(MAX(seq), 0) AS seq FROM ${TABLE.workflowEvents};`,
});

/**
 * PURGE_WORKFLOWS: up to @limit workflows finished before @before, oldest first (IX_workflows_finished_at,
 * skipping rows another purge holds), with their events and steps (deleted first: the foreign keys have no
 * cascade). Params: @before, @limit. Result: { deleted }. Not idempotent: a repeat deletes the next batch.
 */
export const PURGE_WORKFLOWS = statement('PURGE_WORKFLOWS', {
  idempotent: false,
  params: { before: param.time, limit: param.int },
  text: `
${WRITE_PREAMBLE}
DECLARE @ids TABLE (id varchar(64) ${BIN2} NOT NULL PRIMARY KEY);
DECLARE @deleted int;
BEGIN TRANSACTION;
INSERT INTO @ids (id)
SELECT TOP (@limit) id FROM ${TABLE.workflows} WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
WHERE finished_at IS NOT NULL AND finished_at < @before
ORDER BY finished_at;
DELETE e FROM ${TABLE.workflowEvents} AS e JOIN @ids AS i ON i.id = e.workflow_id;
DELETE s FROM ${TABLE.workflowSteps} AS s JOIN @ids AS i ON i.id = s.workflow_id;
DELETE w FROM ${TABLE.workflows} AS w JOIN @ids AS i ON i.id = w.id;
SET @deleted = @@ROWCOUNT;
COMMIT TRANSACTION;
SELECT @deleted AS deleted;`,
});
