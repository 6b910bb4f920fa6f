-- 0011_http_agents: agents in any language (issue 16). The `agent` role for API keys with its binding to an
-- agent id or id prefix; agents.transport and agents.metadata; the index behind the supervisor's claims for
-- HTTP agents; and the supervisor's right to register agents. Twin of the SQLite schema's V12_HTTP_AGENTS.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 11 is in the ledger, each object guarded by its own catalog check. Needs 0010.
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
  THROW 50004, N'taskfleet: migration 0011 needs 0010 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 10)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0011 needs 0010 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 11)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0011_http_agents: already applied';
  RETURN;
END;

-- The `agent` role, and the binding of an agent key: exactly one of agent_id (one agent) or agent_prefix (the
-- agents whose id starts with it), and neither for the other roles.
IF EXISTS (SELECT 1 FROM sys.check_constraints WHERE name = N'CK_api_keys_role'
    AND parent_object_id = OBJECT_ID(N'[$(Schema)].[api_keys]'))
  ALTER TABLE [$(Schema)].[api_keys] DROP CONSTRAINT [CK_api_keys_role];
ALTER TABLE [$(Schema)].[api_keys] ADD CONSTRAINT [CK_api_keys_role]
  CHECK (role IN ('admin', 'submitter', 'reader', 'agent'));
IF COL_LENGTH(N'[$(Schema)].[api_keys]', N'agent_id') IS NULL
  ALTER TABLE [$(Schema)].[api_keys] ADD agent_id nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL;
IF COL_LENGTH(N'[$(Schema)].[api_keys]', N'agent_prefix') IS NULL
  ALTER TABLE [$(Schema)].[api_keys] ADD agent_prefix nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
    CONSTRAINT [CK_api_keys_agent_binding] CHECK (
      (role = 'agent' AND ((agent_id IS NULL AND agent_prefix IS NOT NULL) OR (agent_id IS NOT NULL AND agent_prefix IS NULL)))
      OR (role <> 'agent' AND agent_id IS NULL AND agent_prefix IS NULL));

-- How an agent reaches the fleet: `redis` (a Node worker consuming its pool's queue) or `http` (the agent
-- protocol: the supervisor claims from SQL for it); and what an HTTP agent says about itself (JSON).
IF COL_LENGTH(N'[$(Schema)].[agents]', N'transport') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD transport varchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL
    CONSTRAINT [DF_agents_transport] DEFAULT ('redis')
    CONSTRAINT [CK_agents_transport] CHECK (transport IN ('redis', 'http'));
IF COL_LENGTH(N'[$(Schema)].[agents]', N'metadata') IS NULL
  ALTER TABLE [$(Schema)].[agents] ADD metadata nvarchar(max) NULL
    CONSTRAINT [CK_agents_metadata] CHECK (metadata IS NULL OR ISJSON(metadata, OBJECT) = 1);

-- SELECT_CLAIMABLE: the due queued tasks of one route and priority, oldest first: one seek per route and
-- priority, so a claim for an HTTP agent never sorts a route's whole backlog.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[tasks]') AND name = N'IX_tasks_queued_claim')
  CREATE NONCLUSTERED INDEX [IX_tasks_queued_claim] ON [$(Schema)].[tasks] (route_id, priority, not_before, id)
    INCLUDE (attempt) WHERE status = 'queued';

-- The supervisor registers HTTP agents (Node workers register themselves).
GRANT INSERT ON [$(Schema)].[agents] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (11, N'0011_http_agents');
COMMIT TRANSACTION;
PRINT N'0011_http_agents: applied';
GO
