-- 0014_retention: the purge of rows past their retention (issue 17, src/supervisor/purge.ts). The indexes it
-- deletes by, and its permissions. Twin of the SQLite schema's V13_RETENTION.
--
-- Permissions: the supervisor keeps its DENY DELETE on tasks, task_events and audit_log (0003): it deletes
-- finished tasks and old audit entries only through two procedures, owned like the tables (ownership chaining,
-- so the DENYs do not apply inside them), whose EXECUTE belongs to the role <Schema>_maintenance. The procedures
-- delete only terminal tasks, and only audit entries older than 30 days by the database's own clock, whatever
-- the caller asks: a supervisor cannot rewrite recent history. The migration makes <Schema>_supervisor a member
-- of <Schema>_maintenance; drop that membership (ALTER ROLE … DROP MEMBER) to keep the audit log append-only and
-- finished tasks for ever (the purge then logs the permission error and goes on with the other kinds). Agents
-- and their events the supervisor could already delete (0003).
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 14 is in the ledger, each object guarded by its own catalog check. Needs 0013.
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
  THROW 50004, N'taskfleet: migration 0014 needs 0013 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 13)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0014 needs 0013 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 14)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0014_retention: already applied';
  RETURN;
END;

-- PURGE_TASKS: finished tasks by status and end, a seek per status; queued and running tasks have no entry.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_finished')
  CREATE NONCLUSTERED INDEX [IX_tasks_finished] ON [$(Schema)].[tasks] (status, finished_at) WHERE finished_at IS NOT NULL;
-- PURGE_TASKS: a task's webhook deliveries (they have no foreign key to the task).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[webhook_deliveries]') AND name = N'IX_webhook_deliveries_task')
  CREATE NONCLUSTERED INDEX [IX_webhook_deliveries_task] ON [$(Schema)].[webhook_deliveries] (task_id);
-- PURGE_AGENTS: stopped and failed agents by last heartbeat.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[agents]') AND name = N'IX_agents_state_heartbeat')
  CREATE NONCLUSTERED INDEX [IX_agents_state_heartbeat] ON [$(Schema)].[agents] (state, last_heartbeat_at);
-- PURGE_AUDIT: the oldest entries.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[audit_log]') AND name = N'IX_audit_log_at')
  CREATE NONCLUSTERED INDEX [IX_audit_log_at] ON [$(Schema)].[audit_log] (at);

-- One batch of finished tasks, in its own short transaction: the ids are taken skipping rows another purge holds
-- (READPAST), their webhook deliveries deleted (attempts by cascade), then the tasks (events, logs and log drops
-- by cascade). Answers { deleted }. CREATE PROCEDURE must start a batch: it is sent as dynamic SQL.
EXEC (N'CREATE OR ALTER PROCEDURE [$(Schema)].[purge_tasks]
  @statuses nvarchar(max), @finishedBefore datetime2(3), @limit int
AS
BEGIN
  SET XACT_ABORT ON;
  SET NOCOUNT ON;
  DECLARE @ids TABLE (id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY);
  DECLARE @deleted int;
  BEGIN TRAN;
  INSERT INTO @ids (id)
  SELECT TOP (@limit) t.id
  FROM [$(Schema)].[tasks] AS t WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
  WHERE t.status IN (SELECT s.status COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@statuses) WITH (status varchar(16) ''$'') AS s
      WHERE s.status IN (''succeeded'', ''dead'', ''cancelled'', ''expired''))
    AND t.finished_at IS NOT NULL AND t.finished_at < @finishedBefore;
  DELETE d FROM [$(Schema)].[webhook_deliveries] AS d JOIN @ids AS i ON d.task_id = i.id;
  DELETE t FROM [$(Schema)].[tasks] AS t JOIN @ids AS i ON t.id = i.id;
  SET @deleted = @@ROWCOUNT;
  COMMIT TRAN;
  SELECT @deleted AS deleted;
END');

-- One batch of audit entries older than @before and than 30 days by the server's clock. Answers { deleted }.
EXEC (N'CREATE OR ALTER PROCEDURE [$(Schema)].[purge_audit_log]
  @before datetime2(3), @limit int
AS
BEGIN
  SET XACT_ABORT ON;
  SET NOCOUNT ON;
  DECLARE @floor datetime2(3) = DATEADD(day, -30, SYSUTCDATETIME());
  DELETE TOP (@limit) FROM [$(Schema)].[audit_log] WITH (READPAST, ROWLOCK, READCOMMITTEDLOCK)
  WHERE at < @before AND at < @floor;
  SELECT @@ROWCOUNT AS deleted;
END');

IF DATABASE_PRINCIPAL_ID(N'$(Schema)_maintenance') IS NULL
  CREATE ROLE [$(Schema)_maintenance] AUTHORIZATION [dbo];
GRANT EXECUTE ON [$(Schema)].[purge_tasks] TO [$(Schema)_maintenance];
GRANT EXECUTE ON [$(Schema)].[purge_audit_log] TO [$(Schema)_maintenance];
IF NOT EXISTS (SELECT 1 FROM sys.database_role_members
    WHERE role_principal_id = DATABASE_PRINCIPAL_ID(N'$(Schema)_maintenance')
      AND member_principal_id = DATABASE_PRINCIPAL_ID(N'$(Schema)_supervisor'))
  ALTER ROLE [$(Schema)_maintenance] ADD MEMBER [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (14, N'0014_retention');
COMMIT TRANSACTION;
PRINT N'0014_retention: applied';
GO
