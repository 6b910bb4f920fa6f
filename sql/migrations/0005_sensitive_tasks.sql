-- 0005_sensitive_tasks: tasks.sensitive, set on a task submitted with `sensitive: true`. Such a task's payload and
-- result columns hold sealed values (AES-256-GCM, JSON objects { sealed, kid, iv, data }), never the plain value;
-- the application encrypts and decrypts them, the database only stores the flag beside them.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 5 is in the ledger, the column guarded by its own catalog check. Needs 0004.
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
  THROW 50004, N'taskfleet: migration 0005 needs 0004 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 4)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0005 needs 0004 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 5)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0005_sensitive_tasks: already applied';
  RETURN;
END;

-- A constant default: adding the column is a metadata change, not a rewrite of every task row.
IF COL_LENGTH(N'[$(Schema)].[tasks]', N'sensitive') IS NULL
  ALTER TABLE [$(Schema)].[tasks]
    ADD sensitive bit NOT NULL CONSTRAINT [DF_tasks_sensitive] DEFAULT (0);

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (5, N'0005_sensitive_tasks');
COMMIT TRANSACTION;
PRINT N'0005_sensitive_tasks: applied';
GO
