-- 0004_agent_recycle: why an agent is in its state (state_reason), and when the supervisor asked it to recycle
-- its Redis connections (recycle_requested_at: it saw the agent's tasks waiting while it had free slots).
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 4 is in the ledger, each column guarded by its own catalog check. Needs 0003.
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
  THROW 50004, N'taskfleet: migration 0004 needs 0003 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 3)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0004 needs 0003 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 4)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0004_agent_recycle: already applied';
  RETURN;
END;

-- The reason of the agent event that set the current state (SET_AGENT_STATE, REGISTER_AGENT).
IF COL_LENGTH(N'[$(Schema)].[agents]', N'state_reason') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD state_reason nvarchar(1000) NULL;
-- SET_AGENT_RECYCLE; read back by HEARTBEAT (the worker's heartbeat answer).
IF COL_LENGTH(N'[$(Schema)].[agents]', N'recycle_requested_at') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD recycle_requested_at datetime2(3) NULL;

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (4, N'0004_agent_recycle');
COMMIT TRANSACTION;
PRINT N'0004_agent_recycle: applied';
GO
