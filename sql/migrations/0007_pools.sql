-- 0007_pools: the pools operators declare (taskfleet pools declare, POST /v1/pools), so a pool scaled to zero
-- is still known: its tasks are routable and its backlog is counted. A pool is keyed by its signature,
-- `<type>+<type>~<capability>+<capability>` (src/domain/pool.ts); its lists are JSON arrays, sorted.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 7 is in the ledger, the table guarded by its own catalog check. Needs 0006.
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
  THROW 50004, N'taskfleet: migration 0007 needs 0006 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 6)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0007 needs 0006 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 7)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0007_pools: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[pools]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[pools] (
    -- poolKey(signature): tokens only, so varchar; at most 900 characters (the index key limit)
    pool_key     varchar(900) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT [PK_pools] PRIMARY KEY CLUSTERED,
    capabilities nvarchar(max) NOT NULL,
    types        nvarchar(max) NOT NULL,
    note         nvarchar(500) NULL,
    declared_by  nvarchar(450) NOT NULL,
    declared_at  datetime2(3) NOT NULL,
    CONSTRAINT [CK_pools_capabilities] CHECK (ISJSON(capabilities, ARRAY) = 1),
    CONSTRAINT [CK_pools_types] CHECK (ISJSON(types, ARRAY) = 1)
  );

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (7, N'0007_pools');
COMMIT TRANSACTION;
PRINT N'0007_pools: applied';
GO
