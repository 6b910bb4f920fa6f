-- 0008_progress_and_logs: what a handler reports while it runs. tasks.progress holds the latest `ctx.progress`
-- value (JSON) and tasks.progress_at when it was written; task_logs the lines of `ctx.log`, per attempt in order;
-- task_log_drops, per attempt, how many lines and bytes the caps dropped (src/domain/taskLog.ts). Workers write
-- them fenced by the attempt (running, the attempt they hold) and never for a sensitive task.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 8 is in the ledger, each column and table guarded by its own catalog check. Needs 0007.
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
  THROW 50004, N'taskfleet: migration 0008 needs 0007 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 7)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0008 needs 0007 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 8)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0008_progress_and_logs: already applied';
  RETURN;
END;

-- Nullable columns without a default: adding them is a metadata change, not a rewrite of every task row.
IF COL_LENGTH(N'[$(Schema)].[tasks]', N'progress') IS NULL
  ALTER TABLE [$(Schema)].[tasks]
    ADD progress nvarchar(max) NULL CONSTRAINT [CK_tasks_progress] CHECK (ISJSON(progress, VALUE) = 1);
IF COL_LENGTH(N'[$(Schema)].[tasks]', N'progress_at') IS NULL
  ALTER TABLE [$(Schema)].[tasks]
    ADD progress_at datetime2(3) NULL;

IF OBJECT_ID(N'[$(Schema)].[task_logs]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[task_logs] (
    task_id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    attempt int NOT NULL,
    seq     int NOT NULL,
    at      datetime2(3) NOT NULL,
    level   varchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
    message nvarchar(4000) NOT NULL,
    fields  nvarchar(max) NULL,
    CONSTRAINT [PK_task_logs] PRIMARY KEY CLUSTERED (task_id, attempt, seq),
    CONSTRAINT [FK_task_logs_tasks] FOREIGN KEY (task_id) REFERENCES [$(Schema)].[tasks] (id) ON DELETE CASCADE,
    CONSTRAINT [CK_task_logs_level] CHECK (level IN ('debug', 'info', 'warn', 'error')),
    CONSTRAINT [CK_task_logs_fields] CHECK (fields IS NULL OR ISJSON(fields, OBJECT) = 1)
  );

IF OBJECT_ID(N'[$(Schema)].[task_log_drops]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[task_log_drops] (
    task_id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    attempt int NOT NULL,
    lines   int NOT NULL,
    bytes   bigint NOT NULL,
    CONSTRAINT [PK_task_log_drops] PRIMARY KEY CLUSTERED (task_id, attempt),
    CONSTRAINT [FK_task_log_drops_tasks] FOREIGN KEY (task_id) REFERENCES [$(Schema)].[tasks] (id) ON DELETE CASCADE
  );

-- The roles of 0003: the supervisor reads what workers write.
GRANT SELECT ON [$(Schema)].[task_logs] TO [$(Schema)_supervisor];
GRANT SELECT ON [$(Schema)].[task_log_drops] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT ON [$(Schema)].[task_logs] TO [$(Schema)_worker];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[task_log_drops] TO [$(Schema)_worker];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (8, N'0008_progress_and_logs');
COMMIT TRANSACTION;
PRINT N'0008_progress_and_logs: applied';
GO
