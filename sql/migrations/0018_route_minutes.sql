-- 0018_route_minutes: each route's tasks finished or failed per minute (issue 18, the console's route charts).
-- route_minutes: one row per route and minute that had any such event, rolled up from task_events by the
-- supervisors once the minute has ended (ROLL_UP_ROUTE_MINUTE); the primary key makes a minute's row unique, so
-- several supervisors rolling up the same minute store it once. Twin of the SQLite schema's V18_ROUTE_MINUTES.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 18 is in the ledger, each object guarded by its own catalog check. Needs 0017.
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
  THROW 50004, N'taskfleet: migration 0018 needs 0017 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 17)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0018 needs 0017 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 18)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0018_route_minutes: already applied';
  RETURN;
END;

IF OBJECT_ID(N'[$(Schema)].[route_minutes]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[route_minutes] (
    route_id  int NOT NULL,
    minute    datetime2(3) NOT NULL,
    succeeded int NOT NULL,
    failed    int NOT NULL,
    dead      int NOT NULL,
    cancelled int NOT NULL,
    expired   int NOT NULL,
    CONSTRAINT [PK_route_minutes] PRIMARY KEY CLUSTERED (route_id, minute),
    CONSTRAINT [FK_route_minutes_routes] FOREIGN KEY (route_id) REFERENCES [$(Schema)].[routes] (id)
  );
-- PURGE_ROUTE_MINUTES: the oldest minutes, by time.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[route_minutes]') AND name = N'IX_route_minutes_minute')
  CREATE NONCLUSTERED INDEX [IX_route_minutes_minute] ON [$(Schema)].[route_minutes] (minute);

-- The supervisors roll the minutes up, read them for GET /v1/routes?series= and purge them (retention).
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[route_minutes] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (18, N'0018_route_minutes');
COMMIT TRANSACTION;
PRINT N'0018_route_minutes: applied';
GO
