-- 0016_agent_settings: agents changed at run time (issue 17, PATCH /v1/agents/:id). An admin's settings on the
-- agent row, applied by the agent at its next heartbeat: desired_concurrency (NULL: as the agent registered) and
-- disabled_types (a JSON array of task types the agent no longer serves; empty: none). Twin of the SQLite
-- schema's V17_AGENT_SETTINGS. The supervisor already has UPDATE on agents (0003).
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 16 is in the ledger, each column guarded by its own catalog check. Needs 0015.
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
  THROW 50004, N'taskfleet: migration 0016 needs 0015 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 15)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0016 needs 0015 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 16)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0016_agent_settings: already applied';
  RETURN;
END;

IF COL_LENGTH(N'[$(Schema)].[agents]', N'desired_concurrency') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD desired_concurrency int NULL
    CONSTRAINT [CK_agents_desired_concurrency] CHECK (desired_concurrency BETWEEN 1 AND 1000);
IF COL_LENGTH(N'[$(Schema)].[agents]', N'disabled_types') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD disabled_types nvarchar(max) NOT NULL
    CONSTRAINT [DF_agents_disabled_types] DEFAULT (N'[]')
    CONSTRAINT [CK_agents_disabled_types] CHECK (ISJSON(disabled_types, ARRAY) = 1);

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (16, N'0016_agent_settings');
COMMIT TRANSACTION;
PRINT N'0016_agent_settings: applied';
GO
