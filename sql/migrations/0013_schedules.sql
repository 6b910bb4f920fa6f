-- 0013_schedules: recurring schedules (issue 17). schedules: a task submission fired once per cron slot, with
-- the next slot to fire (next_at), moved by a conditional update so that one supervisor takes each slot; and
-- schedule_runs: one row per slot fired (its task) or skipped (why). Twin of the SQLite schema's V13_SCHEDULES.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 13 is in the ledger, each object guarded by its own catalog check. Needs 0012.
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
  THROW 50004, N'taskfleet: migration 0013 needs 0012 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 12)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0013 needs 0012 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 13)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0013_schedules: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[schedules]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[schedules] (
    name         varchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [PK_schedules] PRIMARY KEY CLUSTERED,
    cron         varchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
    timezone     varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    task         nvarchar(max) NOT NULL,
    overlap      varchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_schedules_overlap] CHECK (overlap IN ('allow', 'skip')),
    catch_up     varchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_schedules_catch_up] CHECK (catch_up IN ('none', 'one')),
    paused       bit NOT NULL CONSTRAINT [DF_schedules_paused] DEFAULT (0),
    next_at      datetime2(3) NULL,
    last_task_id varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    created_at   datetime2(3) NOT NULL,
    created_by   nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    updated_at   datetime2(3) NOT NULL,
    CONSTRAINT [CK_schedules_task] CHECK (ISJSON(task, OBJECT) = 1)
  );
-- SELECT_DUE_SCHEDULES: the due schedules not paused, earliest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[schedules]') AND name = N'IX_schedules_due')
  CREATE NONCLUSTERED INDEX [IX_schedules_due] ON [$(Schema)].[schedules] (next_at) WHERE paused = 0;

IF OBJECT_ID(N'[$(Schema)].[schedule_runs]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[schedule_runs] (
    name           varchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL,
    slot_at        datetime2(3) NOT NULL,
    task_id        varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    skipped_reason varchar(16) COLLATE Latin1_General_100_BIN2 NULL
      CONSTRAINT [CK_schedule_runs_skipped_reason] CHECK (skipped_reason IN ('missed', 'overlap', 'invalid')),
    at             datetime2(3) NOT NULL,
    CONSTRAINT [PK_schedule_runs] PRIMARY KEY CLUSTERED (name, slot_at),
    CONSTRAINT [FK_schedule_runs_schedules] FOREIGN KEY (name)
      REFERENCES [$(Schema)].[schedules] (name) ON DELETE CASCADE
  );

-- Only the supervisor fires schedules; workers never touch these tables.
GRANT SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[schedules] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[schedule_runs] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (13, N'0013_schedules');
COMMIT TRANSACTION;
PRINT N'0013_schedules: applied';
GO
