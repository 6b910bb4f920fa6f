-- 0002_api_keys_and_audit: API keys (stored by hash, never the key) and the append-only audit log.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 2 is in the ledger, each object guarded by its own catalog check. Needs 0001.
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
  THROW 50004, N'taskfleet: migration 0002 needs 0001 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 1)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0002 needs 0001 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 2)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0002_api_keys_and_audit: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[api_keys]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[api_keys] (
    id         nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT [PK_api_keys] PRIMARY KEY CLUSTERED,
    name       nvarchar(200) NOT NULL,
    role       varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_api_keys_role] CHECK (role IN ('admin', 'submitter', 'reader')),
    -- hex SHA-256 of the whole key
    hash       varchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL,
    prefix     nvarchar(64) NOT NULL,
    created_at datetime2(3) NOT NULL,
    created_by nvarchar(450) NOT NULL,
    revoked_at datetime2(3) NULL
  );
-- SELECT_API_KEY_BY_HASH (every authenticated request), and INSERT_API_KEY's duplicate check.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[api_keys]') AND name = N'UX_api_keys_hash')
  CREATE UNIQUE NONCLUSTERED INDEX [UX_api_keys_hash] ON [$(Schema)].[api_keys] (hash);
-- SELECT_API_KEYS: oldest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[api_keys]') AND name = N'IX_api_keys_created')
  CREATE NONCLUSTERED INDEX [IX_api_keys_created] ON [$(Schema)].[api_keys] (created_at, id);

IF OBJECT_ID(N'[$(Schema)].[audit_log]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[audit_log] (
    seq        bigint IDENTITY(1, 1) NOT NULL,
    at         datetime2(3) NOT NULL,
    actor      nvarchar(450) NOT NULL,
    actor_name nvarchar(450) NOT NULL,
    action     varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    target     nvarchar(1000) NOT NULL,
    ip         nvarchar(100) NULL,
    detail     nvarchar(max) NULL,
    CONSTRAINT [PK_audit_log] PRIMARY KEY CLUSTERED (seq) WITH (OPTIMIZE_FOR_SEQUENTIAL_KEY = ON),
    CONSTRAINT [CK_audit_log_detail] CHECK (detail IS NULL OR ISJSON(detail, VALUE) = 1)
  );
-- SELECT_AUDIT_BY_ACTION: newest first within one action.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[audit_log]') AND name = N'IX_audit_log_action_seq')
  CREATE NONCLUSTERED INDEX [IX_audit_log_action_seq] ON [$(Schema)].[audit_log] (action, seq);

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (2, N'0002_api_keys_and_audit');
COMMIT TRANSACTION;
PRINT N'0002_api_keys_and_audit: applied';
GO
