-- 0012_agent_metrics: each agent's metrics history (issue 17): one sample a minute (running tasks, slots, CPU,
-- memory, heartbeat age) kept for a day, for the console's charts and GET /v1/agents/:id/metrics. Twin of the
-- SQLite schema's V13_AGENT_METRICS.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 12 is in the ledger, each object guarded by its own catalog check. Needs 0011.
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
  THROW 50004, N'taskfleet: migration 0012 needs 0011 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 11)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0012 needs 0011 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 12)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0012_agent_metrics: already applied';
  RETURN;
END;

-- One row per agent and sample time (the minute, floored): several supervisors sampling at once write it once.
IF OBJECT_ID(N'[$(Schema)].[agent_metrics]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[agent_metrics] (
    agent_id         nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    at               datetime2(3) NOT NULL,
    running_tasks    int NOT NULL,
    concurrency      int NOT NULL,
    cpu_percent      float NULL,
    rss_bytes        bigint NULL,
    heartbeat_age_ms bigint NOT NULL,
    CONSTRAINT [PK_agent_metrics] PRIMARY KEY CLUSTERED (agent_id, at),
    CONSTRAINT [FK_agent_metrics_agents] FOREIGN KEY (agent_id)
      REFERENCES [$(Schema)].[agents] (id) ON DELETE CASCADE
  );
-- PURGE_AGENT_SAMPLES: the oldest samples first, by time, across agents.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[agent_metrics]') AND name = N'IX_agent_metrics_at')
  CREATE NONCLUSTERED INDEX [IX_agent_metrics_at] ON [$(Schema)].[agent_metrics] (at);

GRANT SELECT, INSERT, DELETE ON [$(Schema)].[agent_metrics] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (12, N'0012_agent_metrics');
COMMIT TRANSACTION;
PRINT N'0012_agent_metrics: applied';
GO
