-- 0006_tasks_by_submitter: an index for a submitter key's own task list (GET /v1/tasks with a submitter key lists
-- only the tasks that key submitted, newest first): without it, a key with few tasks among many pages through
-- the whole table.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 6 is in the ledger, the index guarded by its own catalog check. Needs 0005.
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
  THROW 50004, N'taskfleet: migration 0006 needs 0005 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 5)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0006 needs 0005 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 6)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0006_tasks_by_submitter: already applied';
  RETURN;
END;

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_submitted_by_id')
  CREATE NONCLUSTERED INDEX [IX_tasks_submitted_by_id] ON [$(Schema)].[tasks] (submitted_by, id);

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (6, N'0006_tasks_by_submitter');
COMMIT TRANSACTION;
PRINT N'0006_tasks_by_submitter: applied';
GO
