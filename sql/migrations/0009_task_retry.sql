-- 0009_task_retry: retry on demand (POST /v1/tasks/:id/retry, POST /v1/tasks/retry). A retried task's
-- max_attempts grows by the budget it was submitted with, which its first retry keeps in initial_max_attempts
-- (NULL until then: max_attempts is still that budget); and task_events.kind may be `retried`.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 9 is in the ledger, the column guarded by its own catalog check. Needs 0008.
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
  THROW 50004, N'taskfleet: migration 0009 needs 0008 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 8)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0009 needs 0008 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 9)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0009_task_retry: already applied';
  RETURN;
END;

-- RETRY_TASK, RETRY_TASKS: the original budget, kept by the first retry.
IF COL_LENGTH(N'[$(Schema)].[tasks]', N'initial_max_attempts') IS NULL
  ALTER TABLE [$(Schema)].[tasks] ADD initial_max_attempts int NULL;

-- The kinds of 0001 and `retried` (src/domain/task.ts TASK_EVENT_KINDS); a new constraint checks the rows there are.
IF EXISTS (SELECT 1 FROM sys.check_constraints WHERE name = N'CK_task_events_kind'
    AND parent_object_id = OBJECT_ID(N'[$(Schema)].[task_events]'))
  ALTER TABLE [$(Schema)].[task_events] DROP CONSTRAINT [CK_task_events_kind];
ALTER TABLE [$(Schema)].[task_events] ADD CONSTRAINT [CK_task_events_kind] CHECK (kind IN ('submitted',
  'started', 'succeeded', 'failed', 'retry_scheduled', 'dead', 'cancel_requested', 'cancelled', 'expired',
  'lease_expired', 'released', 'lease_reclaimed', 'result_rejected', 'retried'));

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (9, N'0009_task_retry');
COMMIT TRANSACTION;
PRINT N'0009_task_retry: applied';
GO
