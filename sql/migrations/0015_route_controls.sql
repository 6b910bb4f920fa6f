-- 0015_route_controls: route controls (issue 17). route_controls: per route, a pause, a rate limit with its token
-- bucket, a concurrency cap across the fleet, and the circuit state (closed, open, half-open with its probe and the
-- window of the last outcomes), read and spent by every claim (CLAIM_TASK); route_events: each change, by an admin
-- or the circuit breaker; circuit_breakers: the breaker's settings per task type. Twin of the SQLite schema's
-- V16_ROUTE_CONTROLS.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 15 is in the ledger, each object guarded by its own catalog check. Needs 0014.
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
  THROW 50004, N'taskfleet: migration 0015 needs 0014 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 14)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0015 needs 0014 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 15)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0015_route_controls: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[route_controls]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[route_controls] (
    route_id        int NOT NULL CONSTRAINT [PK_route_controls] PRIMARY KEY CLUSTERED,
    paused          bit NOT NULL CONSTRAINT [DF_route_controls_paused] DEFAULT (0),
    paused_at       datetime2(3) NULL,
    paused_by       nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    rate_limit      float NULL CONSTRAINT [CK_route_controls_rate_limit] CHECK (rate_limit IS NULL OR rate_limit > 0),
    tokens          float NOT NULL CONSTRAINT [DF_route_controls_tokens] DEFAULT (0),
    tokens_at       datetime2(3) NULL,
    concurrency_cap int NULL
      CONSTRAINT [CK_route_controls_concurrency_cap] CHECK (concurrency_cap IS NULL OR concurrency_cap >= 1),
    circuit         varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [DF_route_controls_circuit] DEFAULT ('closed')
      CONSTRAINT [CK_route_controls_circuit] CHECK (circuit IN ('closed', 'open', 'half_open')),
    circuit_at      datetime2(3) NULL,
    probe_task_id   varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    outcomes        varchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [DF_route_controls_outcomes] DEFAULT (''),
    outcomes_seq    bigint NOT NULL CONSTRAINT [DF_route_controls_outcomes_seq] DEFAULT (0),
    updated_at      datetime2(3) NOT NULL,
    CONSTRAINT [FK_route_controls_routes] FOREIGN KEY (route_id) REFERENCES [$(Schema)].[routes] (id)
  );

IF OBJECT_ID(N'[$(Schema)].[route_events]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[route_events] (
    seq      bigint IDENTITY(1, 1) NOT NULL CONSTRAINT [PK_route_events] PRIMARY KEY CLUSTERED,
    route_id int NOT NULL,
    at       datetime2(3) NOT NULL,
    kind     varchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_route_events_kind] CHECK (kind IN ('paused', 'resumed', 'limits_changed', 'circuit_opened',
        'circuit_half_open', 'circuit_closed')),
    actor    nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    data     nvarchar(max) NULL CONSTRAINT [CK_route_events_data] CHECK (data IS NULL OR ISJSON(data, OBJECT) = 1),
    CONSTRAINT [FK_route_events_routes] FOREIGN KEY (route_id) REFERENCES [$(Schema)].[routes] (id)
  );
-- SELECT_ROUTE_EVENTS: one route's events, newest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[route_events]') AND name = N'IX_route_events_route')
  CREATE NONCLUSTERED INDEX [IX_route_events_route] ON [$(Schema)].[route_events] (route_id, seq);
-- PURGE_ROUTE_EVENTS: the oldest events, by time.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[route_events]') AND name = N'IX_route_events_at')
  CREATE NONCLUSTERED INDEX [IX_route_events_at] ON [$(Schema)].[route_events] (at);

IF OBJECT_ID(N'[$(Schema)].[circuit_breakers]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[circuit_breakers] (
    type        varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [PK_circuit_breakers] PRIMARY KEY CLUSTERED,
    failures    int NOT NULL CONSTRAINT [CK_circuit_breakers_failures] CHECK (failures >= 1),
    window_size int NOT NULL,
    cooldown_ms int NOT NULL CONSTRAINT [CK_circuit_breakers_cooldown] CHECK (cooldown_ms >= 0),
    updated_at  datetime2(3) NOT NULL,
    updated_by  nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    CONSTRAINT [CK_circuit_breakers_window] CHECK (window_size >= failures)
  );

-- Every claim reads its route's control, and the claim of a controlled route spends its token or takes its probe.
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[route_controls] TO [$(Schema)_supervisor];
GRANT SELECT, UPDATE ON [$(Schema)].[route_controls] TO [$(Schema)_worker];
-- Route events are not the audit log: the supervisor purges them itself (TASKFLEET_RETENTION_AUDIT).
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[route_events] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[circuit_breakers] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (15, N'0015_route_controls');
COMMIT TRANSACTION;
PRINT N'0015_route_controls: applied';
GO
