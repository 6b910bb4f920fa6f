-- 0001_tasks_and_agents: the schema, the migration ledger (schema_version), routes, tasks, task events,
-- agents and agent events, with an index for every query src/store/mssql/statements/ runs on them.
--
-- sqlcmd variable: Schema, the database schema that holds every taskfleet table (scripts/deploy-schema.sh
-- passes it with -v; `taskfleet db deploy` substitutes it the same way).
--
-- Safe to run again: the whole migration is one transaction that first takes the migration lock
-- (sp_getapplock, so two deployers never apply it twice), then does nothing when version 1 is already in the
-- ledger. Each object is also guarded by its own check against the catalog.
--
-- Conventions: times are datetime2(3) in UTC (the adapter maps epoch milliseconds both ways); JSON is
-- nvarchar(max) with an ISJSON check (ISJSON(x, VALUE) needs SQL Server 2022 or Azure SQL); identifiers and
-- tokens use a binary collation so that they compare and sort byte by byte, case-sensitively, as in SQLite.
:on error exit
SET XACT_ABORT ON;
SET NOCOUNT ON;
-- The settings filtered indexes and indexed computed columns need (tedious and sqlcmd use them already).
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

IF CAST(SERVERPROPERTY('EngineEdition') AS int) NOT IN (5, 8)
  AND CAST(SERVERPROPERTY('ProductMajorVersion') AS int) < 16
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50002, N'taskfleet needs SQL Server 2022 or later, Azure SQL Database or Azure SQL Managed Instance', 1;
END;

IF (SELECT compatibility_level FROM sys.databases WHERE database_id = DB_ID()) < 130
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50003, N'taskfleet needs database compatibility level 130 or later (OPENJSON, JSON_MODIFY)', 1;
END;

IF SCHEMA_ID(N'$(Schema)') IS NULL
  EXEC (N'CREATE SCHEMA [$(Schema)] AUTHORIZATION [dbo];');

IF OBJECT_ID(N'[$(Schema)].[schema_version]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[schema_version] (
    version    int           NOT NULL CONSTRAINT [PK_schema_version] PRIMARY KEY CLUSTERED,
    name       nvarchar(128) NOT NULL,
    applied_at datetime2(3)  NOT NULL CONSTRAINT [DF_schema_version_applied_at] DEFAULT (SYSUTCDATETIME()),
    applied_by nvarchar(128) NOT NULL CONSTRAINT [DF_schema_version_applied_by] DEFAULT (SUSER_SNAME())
  );

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 1)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0001_tasks_and_agents: already applied';
  RETURN;
END;

-- One row per route (task type + capability set) ever submitted on. route_key can reach about 2,150 bytes
-- (32 capabilities of 64 characters), over the 1,700-byte index key limit, so the unique key is its SHA-256.
IF OBJECT_ID(N'[$(Schema)].[routes]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[routes] (
    id           int IDENTITY(1, 1) NOT NULL CONSTRAINT [PK_routes] PRIMARY KEY CLUSTERED,
    route_key    varchar(2200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    route_hash   AS CAST(HASHBYTES('SHA2_256', route_key) AS binary(32)) PERSISTED NOT NULL,
    type         varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    capabilities nvarchar(max) NOT NULL CONSTRAINT [CK_routes_capabilities] CHECK (ISJSON(capabilities, ARRAY) = 1),
    created_at   datetime2(3) NOT NULL
  );
-- MERGE_ROUTES (insert if new) and INSERT_TASKS (route id of each task).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[routes]') AND name = N'UX_routes_route_hash')
  CREATE UNIQUE NONCLUSTERED INDEX [UX_routes_route_hash] ON [$(Schema)].[routes] (route_hash);

IF OBJECT_ID(N'[$(Schema)].[tasks]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[tasks] (
    id                    varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    type                  varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    status                varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL,
    attempt               int NOT NULL CONSTRAINT [DF_tasks_attempt] DEFAULT (0),
    max_attempts          int NOT NULL,
    required_capabilities nvarchar(max) NOT NULL,
    route_id              int NOT NULL,
    priority              varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL,
    payload               nvarchar(max) NOT NULL,
    result                nvarchar(max) NULL,
    error                 nvarchar(max) NULL,
    agent_id              nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    lease_expires_at      datetime2(3) NULL,
    cancel_requested      bit NOT NULL CONSTRAINT [DF_tasks_cancel_requested] DEFAULT (0),
    timeout_seconds       float NULL,
    not_before            datetime2(3) NOT NULL,
    deadline              datetime2(3) NULL,
    idempotency_key       nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    request_hash          varchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    submitted_by          nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    -- W3C traceparent of the submit: every run of the task joins its trace.
    trace_parent          varchar(128) COLLATE Latin1_General_100_BIN2 NULL,
    dispatched_at         datetime2(3) NOT NULL,
    created_at            datetime2(3) NOT NULL,
    started_at            datetime2(3) NULL,
    finished_at           datetime2(3) NULL,
    updated_at            datetime2(3) NOT NULL,
    -- Task ids are UUIDv7 (time-ordered): inserts append at the end of the clustered index.
    CONSTRAINT [PK_tasks] PRIMARY KEY CLUSTERED (id) WITH (OPTIMIZE_FOR_SEQUENTIAL_KEY = ON),
    CONSTRAINT [FK_tasks_routes] FOREIGN KEY (route_id) REFERENCES [$(Schema)].[routes] (id),
    CONSTRAINT [CK_tasks_status] CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'cancelled', 'expired')),
    CONSTRAINT [CK_tasks_priority] CHECK (priority IN ('low', 'normal', 'high', 'critical')),
    CONSTRAINT [CK_tasks_attempts] CHECK (attempt >= 0 AND max_attempts >= 1),
    CONSTRAINT [CK_tasks_required_capabilities] CHECK (ISJSON(required_capabilities, ARRAY) = 1),
    CONSTRAINT [CK_tasks_payload] CHECK (ISJSON(payload, VALUE) = 1),
    CONSTRAINT [CK_tasks_result] CHECK (result IS NULL OR ISJSON(result, VALUE) = 1),
    CONSTRAINT [CK_tasks_error] CHECK (error IS NULL OR ISJSON(error, OBJECT) = 1),
    -- A running task always has its holder, its lease and its start.
    CONSTRAINT [CK_tasks_running_lease] CHECK (
      status <> 'running' OR (agent_id IS NOT NULL AND lease_expires_at IS NOT NULL AND started_at IS NOT NULL))
  );

-- INSERT_TASKS: idempotency keys are unique among the tasks that have one (a plain unique index would allow
-- one NULL only).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'UX_tasks_idempotency_key')
  CREATE UNIQUE NONCLUSTERED INDEX [UX_tasks_idempotency_key] ON [$(Schema)].[tasks] (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- LIST_TASKS filtered by status, newest first with keyset paging.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_status_id')
  CREATE NONCLUSTERED INDEX [IX_tasks_status_id] ON [$(Schema)].[tasks] (status, id);
-- LIST_TASKS filtered by type.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_type_id')
  CREATE NONCLUSTERED INDEX [IX_tasks_type_id] ON [$(Schema)].[tasks] (type, id);
-- SELECT_QUEUED_FOR_DISPATCH and SELECT_DUE_FOR_DISPATCH: queued tasks by id, with the two times a due
-- sweep filters on, so that tasks not yet due are skipped without reading their rows.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_queued_dispatch')
  CREATE NONCLUSTERED INDEX [IX_tasks_queued_dispatch] ON [$(Schema)].[tasks] (id)
    INCLUDE (dispatched_at, not_before, attempt) WHERE status = 'queued';
-- SELECT_EXPIRED_LEASES: running tasks by lease expiry.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_running_lease')
  CREATE NONCLUSTERED INDEX [IX_tasks_running_lease] ON [$(Schema)].[tasks] (lease_expires_at)
    INCLUDE (attempt, max_attempts, agent_id) WHERE status = 'running';
-- SELECT_LEASES_OF: the running tasks of one agent, by id.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_running_agent')
  CREATE NONCLUSTERED INDEX [IX_tasks_running_agent] ON [$(Schema)].[tasks] (agent_id, id)
    INCLUDE (attempt, max_attempts) WHERE status = 'running';
-- SELECT_OVERDUE: queued tasks with a deadline, earliest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_queued_deadline')
  CREATE NONCLUSTERED INDEX [IX_tasks_queued_deadline] ON [$(Schema)].[tasks] (deadline)
    INCLUDE (attempt) WHERE status = 'queued' AND deadline IS NOT NULL;
-- ROUTE_STATS: one index range per status (queued, running, dead), in route order, covering not_before.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_status_route')
  CREATE NONCLUSTERED INDEX [IX_tasks_status_route] ON [$(Schema)].[tasks] (status, route_id, not_before);

IF OBJECT_ID(N'[$(Schema)].[task_events]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[task_events] (
    seq      bigint IDENTITY(1, 1) NOT NULL,
    task_id  varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    at       datetime2(3) NOT NULL,
    kind     varchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    attempt  int NOT NULL,
    agent_id nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    data     nvarchar(max) NULL,
    CONSTRAINT [PK_task_events] PRIMARY KEY CLUSTERED (seq) WITH (OPTIMIZE_FOR_SEQUENTIAL_KEY = ON),
    CONSTRAINT [FK_task_events_tasks] FOREIGN KEY (task_id) REFERENCES [$(Schema)].[tasks] (id) ON DELETE CASCADE,
    CONSTRAINT [CK_task_events_kind] CHECK (kind IN ('submitted', 'started', 'succeeded', 'failed', 'retry_scheduled',
      'dead', 'cancel_requested', 'cancelled', 'expired', 'lease_expired', 'released', 'lease_reclaimed',
      'result_rejected')),
    CONSTRAINT [CK_task_events_data] CHECK (data IS NULL OR ISJSON(data, VALUE) = 1)
  );
-- SELECT_TASK_EVENTS: one task's events in order (also the foreign key's index).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[task_events]') AND name = N'IX_task_events_task_seq')
  CREATE NONCLUSTERED INDEX [IX_task_events_task_seq] ON [$(Schema)].[task_events] (task_id, seq);
-- SELECT_AGENT_RUNS: one agent's events from a time on.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[task_events]') AND name = N'IX_task_events_agent_at')
  CREATE NONCLUSTERED INDEX [IX_task_events_agent_at] ON [$(Schema)].[task_events] (agent_id, at) INCLUDE (kind)
    WHERE agent_id IS NOT NULL;
-- COUNT_TASK_EVENTS: an index-only range per kind.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[task_events]') AND name = N'IX_task_events_kind_at')
  CREATE NONCLUSTERED INDEX [IX_task_events_kind_at] ON [$(Schema)].[task_events] (kind, at);

IF OBJECT_ID(N'[$(Schema)].[agents]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[agents] (
    id                nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    capabilities      nvarchar(max) NOT NULL,
    types             nvarchar(max) NOT NULL,
    concurrency       int NOT NULL,
    state             varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL,
    state_source      varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [DF_agents_state_source] DEFAULT ('agent'),
    hostname          nvarchar(255) NOT NULL,
    pid               int NOT NULL,
    version           nvarchar(64) NOT NULL,
    started_at        datetime2(3) NOT NULL,
    last_heartbeat_at datetime2(3) NOT NULL,
    running_tasks     int NOT NULL CONSTRAINT [DF_agents_running_tasks] DEFAULT (0),
    metrics           nvarchar(max) NULL,
    CONSTRAINT [PK_agents] PRIMARY KEY CLUSTERED (id),
    CONSTRAINT [CK_agents_state] CHECK (state IN ('registered', 'running', 'degraded', 'draining', 'stopped', 'failed',
      'warning', 'suspended', 'frozen')),
    CONSTRAINT [CK_agents_state_source] CHECK (state_source IN ('agent', 'enforcer', 'admin')),
    CONSTRAINT [CK_agents_capabilities] CHECK (ISJSON(capabilities, ARRAY) = 1),
    CONSTRAINT [CK_agents_types] CHECK (ISJSON(types, ARRAY) = 1),
    CONSTRAINT [CK_agents_metrics] CHECK (metrics IS NULL OR ISJSON(metrics, OBJECT) = 1)
  );

IF OBJECT_ID(N'[$(Schema)].[agent_events]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[agent_events] (
    seq        bigint IDENTITY(1, 1) NOT NULL CONSTRAINT [PK_agent_events] PRIMARY KEY CLUSTERED,
    agent_id   nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    at         datetime2(3) NOT NULL,
    from_state varchar(16) COLLATE Latin1_General_100_BIN2 NULL,
    to_state   varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL,
    reason     nvarchar(max) NOT NULL,
    CONSTRAINT [FK_agent_events_agents] FOREIGN KEY (agent_id) REFERENCES [$(Schema)].[agents] (id) ON DELETE CASCADE
  );
-- SELECT_AGENT_EVENTS: one agent's events in order (also the foreign key's index, for the cascade).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[agent_events]') AND name = N'IX_agent_events_agent_seq')
  CREATE NONCLUSTERED INDEX [IX_agent_events_agent_seq] ON [$(Schema)].[agent_events] (agent_id, seq);

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (1, N'0001_tasks_and_agents');
COMMIT TRANSACTION;
PRINT N'0001_tasks_and_agents: applied';
GO
