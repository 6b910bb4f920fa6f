-- 0003_roles: least-privilege database roles, one for the supervisor (and `taskfleet keys`), one for workers.
--
--   <Schema>_supervisor  reads and writes tasks, events, routes, agents, API keys; appends to and reads the audit
--                        log (never changes or deletes an entry); deletes agents and their events (removeAgent).
--   <Schema>_worker      claims and reports tasks, registers and heartbeats its agent; cannot read API keys or
--                        the audit log, and cannot delete anything (explicit DENYs, which win over any GRANT).
--
-- Add the identities yourself, e.g. for a managed identity on Azure SQL:
--   CREATE USER [taskfleet-worker-mi] FROM EXTERNAL PROVIDER;
--   ALTER ROLE [taskfleet_worker] ADD MEMBER [taskfleet-worker-mi];
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 3 is in the ledger; roles are created only when missing, and GRANT and DENY are idempotent. Needs 0002.
:on error exit
SET XACT_ABORT ON;
SET NOCOUNT ON;

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
  THROW 50004, N'taskfleet: migration 0003 needs 0002 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 2)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0003 needs 0002 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 3)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0003_roles: already applied';
  RETURN;
END;

IF DATABASE_PRINCIPAL_ID(N'$(Schema)_supervisor') IS NULL
  CREATE ROLE [$(Schema)_supervisor] AUTHORIZATION [dbo];
IF DATABASE_PRINCIPAL_ID(N'$(Schema)_worker') IS NULL
  CREATE ROLE [$(Schema)_worker] AUTHORIZATION [dbo];

-- The supervisor: the API, the background loops, fleet control and `taskfleet keys`.
GRANT SELECT ON [$(Schema)].[schema_version] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT ON [$(Schema)].[routes] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[tasks] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT ON [$(Schema)].[task_events] TO [$(Schema)_supervisor];
GRANT SELECT, UPDATE, DELETE ON [$(Schema)].[agents] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[agent_events] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[api_keys] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT ON [$(Schema)].[audit_log] TO [$(Schema)_supervisor];
DENY UPDATE, DELETE ON [$(Schema)].[audit_log] TO [$(Schema)_supervisor];
DENY DELETE ON [$(Schema)].[tasks] TO [$(Schema)_supervisor];
DENY DELETE ON [$(Schema)].[task_events] TO [$(Schema)_supervisor];

-- Workers: claim, renew, complete, fail, release; register, heartbeat and change their own agent's state.
GRANT SELECT ON [$(Schema)].[schema_version] TO [$(Schema)_worker];
GRANT SELECT ON [$(Schema)].[routes] TO [$(Schema)_worker];
GRANT SELECT, UPDATE ON [$(Schema)].[tasks] TO [$(Schema)_worker];
GRANT INSERT ON [$(Schema)].[task_events] TO [$(Schema)_worker];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[agents] TO [$(Schema)_worker];
GRANT INSERT ON [$(Schema)].[agent_events] TO [$(Schema)_worker];
DENY SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[api_keys] TO [$(Schema)_worker];
DENY SELECT, INSERT, UPDATE, DELETE ON [$(Schema)].[audit_log] TO [$(Schema)_worker];
DENY DELETE ON SCHEMA::[$(Schema)] TO [$(Schema)_worker];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (3, N'0003_roles');
COMMIT TRANSACTION;
PRINT N'0003_roles: applied';
GO
