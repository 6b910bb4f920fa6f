-- 0010_webhooks: webhooks (issue 15). tasks.callback_url; the API keys' subscriptions (webhook_subscriptions)
-- and callbackUrl secrets (webhook_key_secrets); and the outbox: a one-row cursor over task_events, leased by
-- one supervisor at a time, which turns terminal events into webhook_deliveries in the transaction that moves
-- it, and the attempts of each delivery (webhook_attempts). Secrets are `whsec_` text, or sealed JSON when the
-- supervisor has a data key. Twin of the SQLite schema's V10_WEBHOOKS.
--
-- sqlcmd variable: Schema. Safe to run again: one transaction under the migration lock, a no-op once
-- version 9 is in the ledger, each object guarded by its own catalog check. Needs 0008.
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
  THROW 50004, N'taskfleet: migration 0010 needs 0009 (apply the migrations in order)', 1;
END;
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 9)
BEGIN
  ROLLBACK TRANSACTION;
  THROW 50004, N'taskfleet: migration 0010 needs 0009 (apply the migrations in order)', 1;
END;

IF EXISTS (SELECT 1 FROM [$(Schema)].[schema_version] WHERE version = 10)
BEGIN
  COMMIT TRANSACTION;
  PRINT N'0010_webhooks: already applied';
  RETURN;
END;

IF COL_LENGTH(N'[$(Schema)].[tasks]', N'callback_url') IS NULL
  ALTER TABLE [$(Schema)].[tasks] ADD callback_url nvarchar(2048) NULL;

IF OBJECT_ID(N'[$(Schema)].[webhook_subscriptions]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[webhook_subscriptions] (
    id         varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [PK_webhook_subscriptions] PRIMARY KEY CLUSTERED,
    key_id     nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    url        nvarchar(2048) NOT NULL,
    events     nvarchar(1000) NOT NULL,
    secret     nvarchar(1000) NOT NULL,
    created_at datetime2(3) NOT NULL,
    CONSTRAINT [CK_webhook_subscriptions_events] CHECK (ISJSON(events, ARRAY) = 1)
  );
-- SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[webhook_subscriptions]') AND name = N'IX_webhook_subscriptions_key')
  CREATE NONCLUSTERED INDEX [IX_webhook_subscriptions_key] ON [$(Schema)].[webhook_subscriptions] (key_id, created_at, id);

IF OBJECT_ID(N'[$(Schema)].[webhook_key_secrets]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[webhook_key_secrets] (
    key_id     nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [PK_webhook_key_secrets] PRIMARY KEY CLUSTERED,
    secret     nvarchar(1000) NOT NULL,
    created_at datetime2(3) NOT NULL
  );

IF OBJECT_ID(N'[$(Schema)].[webhook_cursor]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[webhook_cursor] (
    id          int NOT NULL CONSTRAINT [PK_webhook_cursor] PRIMARY KEY CLUSTERED
      CONSTRAINT [CK_webhook_cursor_one_row] CHECK (id = 1),
    last_seq    bigint NOT NULL,
    owner       nvarchar(200) NULL,
    lease_until datetime2(3) NOT NULL
  );
-- Starts after the events that exist at upgrade: terminal events from before webhooks existed are not sent.
IF NOT EXISTS (SELECT 1 FROM [$(Schema)].[webhook_cursor])
  INSERT INTO [$(Schema)].[webhook_cursor] (id, last_seq, owner, lease_until)
  SELECT 1, COALESCE(MAX(seq), 0), NULL, '2000-01-01' FROM [$(Schema)].[task_events];

IF OBJECT_ID(N'[$(Schema)].[webhook_deliveries]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[webhook_deliveries] (
    id               varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [PK_webhook_deliveries] PRIMARY KEY CLUSTERED,
    event_seq        bigint NOT NULL,
    target           varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    subscription_id  varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    key_id           nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
    task_id          varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    event            varchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    url              nvarchar(2048) NOT NULL,
    host             nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
    body             nvarchar(max) NOT NULL,
    status           varchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL
      CONSTRAINT [CK_webhook_deliveries_status] CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int NOT NULL CONSTRAINT [DF_webhook_deliveries_attempts] DEFAULT (0),
    next_attempt_at  datetime2(3) NOT NULL,
    locked_until     datetime2(3) NULL,
    claim_token      varchar(64) COLLATE Latin1_General_100_BIN2 NULL,
    last_status_code int NULL,
    last_error       nvarchar(1000) NULL,
    created_at       datetime2(3) NOT NULL,
    updated_at       datetime2(3) NOT NULL,
    CONSTRAINT [UX_webhook_deliveries_event_target] UNIQUE (event_seq, target),
    CONSTRAINT [CK_webhook_deliveries_body] CHECK (ISJSON(body) = 1)
  );
-- CLAIM_WEBHOOK_DELIVERIES: the due pending deliveries only.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[webhook_deliveries]') AND name = N'IX_webhook_deliveries_due')
  CREATE NONCLUSTERED INDEX [IX_webhook_deliveries_due] ON [$(Schema)].[webhook_deliveries] (next_attempt_at)
    INCLUDE (locked_until, host) WHERE status = 'pending';
-- SELECT_WEBHOOK_DELIVERIES: one subscription's deliveries, newest first.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[$(Schema)].[webhook_deliveries]') AND name = N'IX_webhook_deliveries_subscription')
  CREATE NONCLUSTERED INDEX [IX_webhook_deliveries_subscription] ON [$(Schema)].[webhook_deliveries]
    (subscription_id, created_at);

IF OBJECT_ID(N'[$(Schema)].[webhook_attempts]', N'U') IS NULL
  CREATE TABLE [$(Schema)].[webhook_attempts] (
    delivery_id varchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
    attempt     int NOT NULL,
    at          datetime2(3) NOT NULL,
    status_code int NULL,
    error       nvarchar(1000) NULL,
    duration_ms int NOT NULL,
    CONSTRAINT [PK_webhook_attempts] PRIMARY KEY CLUSTERED (delivery_id, attempt),
    CONSTRAINT [FK_webhook_attempts_deliveries] FOREIGN KEY (delivery_id)
      REFERENCES [$(Schema)].[webhook_deliveries] (id) ON DELETE CASCADE
  );

-- Only the supervisor sends webhooks; workers never touch these tables.
GRANT SELECT, INSERT, DELETE ON [$(Schema)].[webhook_subscriptions] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[webhook_key_secrets] TO [$(Schema)_supervisor];
GRANT SELECT, UPDATE ON [$(Schema)].[webhook_cursor] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT, UPDATE ON [$(Schema)].[webhook_deliveries] TO [$(Schema)_supervisor];
GRANT SELECT, INSERT ON [$(Schema)].[webhook_attempts] TO [$(Schema)_supervisor];

INSERT INTO [$(Schema)].[schema_version] (version, name) VALUES (10, N'0010_webhooks');
COMMIT TRANSACTION;
PRINT N'0010_webhooks: applied';
GO
