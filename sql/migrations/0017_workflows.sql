-- 0017_workflows: workflows (issue 19). workflows: a graph of steps submitted in one call (its spec as JSON), its
-- state and the version every planned change is conditional on, and `dirty` while it needs a pass of the engine;
-- workflow_steps: the state of each step (its round, the task of each round, its result, error and feedback);
-- workflow_events: the workflow's event log (and the webhook outbox's source for workflow events); and
-- tasks.workflow: the context a step's task carries (JSON: src/domain/workflow.ts WorkflowTaskContext). Twin of
-- the SQLite schema's V18_WORKFLOWS (src/store/sqlite/schemaWorkflows.ts).
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 17 is in the ledger, each object guarded by its own catalog check. Needs 0016.
:on error exit
SET XACT_ABORT ON;
SET NOCOUNT ON;
SET ANSI_NULLS ON;
SET ANSI_PADDING ON;
SET ANSI_WARNINGS ON;
SET ARITHABORT ON;
SET CONCAT_NULL_YIELDS_NULL ON;
SET QUOTED_IDENTIFIER ON;
SET NUMERIC_ROUNDABORT OFF;

BEGIN TRANSACTION;

DECLARE @lock int;
EXEC @lock = sys.sp_getapplock @Resource = N'taskfleet.migrations.$(Schema)', @LockMode = N'Exclusive',
  @LockOwner = N'Transaction', @LockTimeout = 120000;
IF @lock < 0
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50001, N'taskfleet: the migration lock was not granted within 120 s (another deployer holds it)', 1;
END;

-- Two checks, not one: the second may only be compiled once the ledger is known to exist.
IF OBJECT_ID(N'[$(Schema)].[schema_version]', N'U') IS NULL
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0017 needs 0016 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 16)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0017 needs 0016 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 17)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0017_workflows: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[workflows]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[workflows] (
    id              varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    name            nvarchar(200) NULL,
    state           varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_workflows_state]
        CHECK (state IN ('running', 'waiting_approval', 'succeeded', 'failed', 'cancelled')),
    version         int NOT NULL CONSTRAINT [DF_workflows_version] DEFAULT (0),
    dirty           bit NOT NULL CONSTRAINT [DF_workflows_dirty] DEFAULT (1),
    submitted_by    nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    idempotency_key nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    request_hash    varchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    spec            nvarchar(max) NOT NULL,
    error           nvarchar(max) NULL,
    created_at      datetime2(3) NOT NULL,
    updated_at      datetime2(3) NOT NULL,
    finished_at     datetime2(3) NULL,
    -- Workflow ids are UUIDv7 (time-ordered): inserts append at the end of the clustered index.
    CONSTRAINT [PK_workflows] PRIMARY KEY CLUSTERED (id) WITH (OPTIMIZE_FOR_SEQUENTIAL_KEY = ON),
    CONSTRAINT [CK_workflows_spec] CHECK (ISJSON(spec, ARRAY) = 1),
    CONSTRAINT [CK_workflows_error] CHECK (error IS NULL OR ISJSON(error, OBJECT) = 1)
  );
-- INSERT_WORKFLOW: idempotency keys are unique among the workflows that have one.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflows]') AND name = N'UX_workflows_idempotency_key')
  CREATE UNIQUE NONCLUSTERED INDEX [UX_workflows_idempotency_key] ON [$(Schema)].[workflows] (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- SELECT_WORKFLOWS by state, newest first; and a submitter's own.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflows]') AND name = N'IX_workflows_state_id')
  CREATE NONCLUSTERED INDEX [IX_workflows_state_id] ON [$(Schema)].[workflows] (state, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflows]') AND name = N'IX_workflows_submitted_by_id')
  CREATE NONCLUSTERED INDEX [IX_workflows_submitted_by_id] ON [$(Schema)].[workflows] (submitted_by, id);
-- SELECT_WORKFLOWS_TO_ADVANCE: the dirty ones (few at any time).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflows]') AND name = N'IX_workflows_dirty')
  CREATE NONCLUSTERED INDEX [IX_workflows_dirty] ON [$(Schema)].[workflows] (id) INCLUDE (state) WHERE dirty = 1;
-- PURGE_WORKFLOWS: the finished ones, oldest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflows]') AND name = N'IX_workflows_finished_at')
  CREATE NONCLUSTERED INDEX [IX_workflows_finished_at] ON [$(Schema)].[workflows] (finished_at)
    WHERE finished_at IS NOT NULL;

IF OBJECT_ID(N'[$(Schema)].[workflow_steps]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[workflow_steps] (
    workflow_id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    step_id     varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    ord         int NOT NULL,
    state       varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_workflow_steps_state]
        CHECK (state IN ('pending', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled')),
    round       int NOT NULL CONSTRAINT [DF_workflow_steps_round] DEFAULT (0),
    task_id     varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    task_ids    nvarchar(max) NOT NULL CONSTRAINT [DF_workflow_steps_task_ids] DEFAULT (N'[]'),
    result      nvarchar(max) NULL,
    error       nvarchar(max) NULL,
    feedback    nvarchar(max) NULL,
    updated_at  datetime2(3) NOT NULL,
    CONSTRAINT [PK_workflow_steps] PRIMARY KEY CLUSTERED (workflow_id, step_id),
    CONSTRAINT [FK_workflow_steps_workflows] FOREIGN KEY (workflow_id) REFERENCES [$(Schema)].[workflows] (id),
    CONSTRAINT [CK_workflow_steps_task_ids] CHECK (ISJSON(task_ids, ARRAY) = 1),
    CONSTRAINT [CK_workflow_steps_result] CHECK (result IS NULL OR ISJSON(result, VALUE) = 1),
    CONSTRAINT [CK_workflow_steps_error] CHECK (error IS NULL OR ISJSON(error, OBJECT) = 1),
    CONSTRAINT [CK_workflow_steps_feedback] CHECK (feedback IS NULL OR ISJSON(feedback, VALUE) = 1)
  );
-- SELECT_WORKFLOWS_TO_ADVANCE: the running steps, with their tasks looked up by id.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflow_steps]') AND name = N'IX_workflow_steps_running')
  CREATE NONCLUSTERED INDEX [IX_workflow_steps_running] ON [$(Schema)].[workflow_steps] (workflow_id, task_id)
    WHERE state = 'running';

IF OBJECT_ID(N'[$(Schema)].[workflow_events]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[workflow_events] (
    seq         bigint IDENTITY(1, 1) NOT NULL CONSTRAINT [PK_workflow_events] PRIMARY KEY CLUSTERED,
    workflow_id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    at          datetime2(3) NOT NULL,
    kind        varchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    step_id     varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    round       int NULL,
    data        nvarchar(max) NULL CONSTRAINT [CK_workflow_events_data] CHECK (data IS NULL OR ISJSON(data, VALUE) = 1),
    CONSTRAINT [FK_workflow_events_workflows] FOREIGN KEY (workflow_id) REFERENCES [$(Schema)].[workflows] (id)
  );
-- SELECT_WORKFLOW_EVENTS: one workflow's events in order.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[workflow_events]') AND name = N'IX_workflow_events_workflow_seq')
  CREATE NONCLUSTERED INDEX [IX_workflow_events_workflow_seq] ON [$(Schema)].[workflow_events] (workflow_id, seq);

IF COL_LENGTH(N'[$(Schema)].[tasks]', N'workflow') IS NULL
  ALTER TABLE [$(Schema)].[tasks] ADD workflow nvarchar(max) NULL
    CONSTRAINT [CK_tasks_workflow] CHECK (workflow IS NULL OR ISJSON(workflow, OBJECT) = 1);

-- The webhook outbox's cursor over the workflow event log (webhook_cursor is the task event log's).
IF OBJECT_ID(N'[$(Schema)].[workflow_webhook_cursor]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[workflow_webhook_cursor] (
    id          int NOT NULL CONSTRAINT [PK_workflow_webhook_cursor] PRIMARY KEY CLUSTERED
      CONSTRAINT [CK_workflow_webhook_cursor_one_row] CHECK (id = 1),
    last_seq    bigint NOT NULL,
    owner       nvarchar(200) NULL,
    lease_until datetime2(3) NOT NULL
  );
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[workflow_webhook_cursor])
  INSERT INTO [$(Schema)].[workflow_webhook_cursor] (id, last_seq, owner, lease_until)
  VALUES (1, 0, NULL, '2000-01-01');

-- Only the supervisor runs workflows (and purges them); workers read a step's context from its task row.
GRANT SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[workflows] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[workflow_steps] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[workflow_events] TO [$(Schema)_supervisor];
GRANT SELECT, UPDATE ON [$(Schema)].[workflow_webhook_cursor] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (17, N'0017_workflows');
COMMIT TRANSACTION;
PRINT N'0017_workflows: applied';
GO
