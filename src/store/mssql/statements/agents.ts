/** The agent registry: register, heartbeat, state changes, reads, removal. */
import { agentColumns, COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const registration = {
  id: param.nvarchar(COLUMN_LENGTH.agentId),
  capabilities: param.json,
  types: param.json,
  concurrency: param.int,
  hostname: param.nvarchar(COLUMN_LENGTH.hostname),
  pid: param.int,
  version: param.nvarchar(COLUMN_LENGTH.version),
  transport: param.varchar(8),
  metadata: param.json,
  now: param.time,
};

/**
 * REGISTER_AGENT: creates or revives agent @id as `running` (set by the agent), its start and heartbeat at @now,
 * no running tasks or metrics yet, and appends `registered` from its previous state (null when new). A frozen
 * agent, and one an admin suspended or set draining, keep their state, source and reason: only the registration
 * fields change (and the recycle request is cleared), and the event goes from and to that state,
 * `registered while <state>`.
 *
 * Race-safety: the previous row is read WITH (UPDLOCK, HOLDLOCK), so a concurrent registration of the same id
 * waits; the upsert is a MERGE WITH (HOLDLOCK) on the primary key.
 * Params: @id, @capabilities (JSON), @types (JSON), @concurrency, @hostname, @pid, @version, @transport, @metadata
 * (JSON or null), @now.
 * Result: the agent row as stored.
 */
export const REGISTER_AGENT = statement('REGISTER_AGENT', {
  idempotent: false,
  params: registration,
  text: `
${WRITE_PREAMBLE}
DECLARE @previous varchar(16), @source varchar(16);
BEGIN TRANSACTION;
SELECT @previous = state, @source = state_source
FROM ${TABLE.agents} WITH (UPDLOCK, HOLDLOCK, ROWLOCK)
WHERE id = @id;
IF @previous = 'frozen' OR (@source = 'admin' AND @previous IN ('suspended', 'draining'))
BEGIN
  UPDATE ${TABLE.agents}
  SET capabilities = @capabilities, types = @types, concurrency = @concurrency, hostname = @hostname, pid = @pid,
    version = @version, started_at = @now, last_heartbeat_at = @now, running_tasks = 0, metrics = NULL,
    recycle_requested_at = NULL, transport = @transport, metadata = @metadata
  OUTPUT ${agentColumns('inserted.')}
  WHERE id = @id AND state = @previous;
  INSERT INTO ${TABLE.agentEvents} (agent_id, at, from_state, to_state, reason)
  VALUES (@id, @now, @previous, @previous, CONCAT(N'registered while ', @previous));
END
ELSE
BEGIN
  MERGE ${TABLE.agents} WITH (HOLDLOCK) AS a
  USING (SELECT @id AS id) AS s
  ON a.id = s.id
  WHEN MATCHED THEN
    UPDATE SET capabilities = @capabilities, types = @types, concurrency = @concurrency, state = 'running',
      state_source = 'agent', hostname = @hostname, pid = @pid, version = @version, started_at = @now,
      last_heartbeat_at = @now, running_tasks = 0, metrics = NULL, state_reason = N'registered',
      recycle_requested_at = NULL, transport = @transport, metadata = @metadata
  WHEN NOT MATCHED BY TARGET THEN
    INSERT (id, capabilities, types, concurrency, state, state_source, hostname, pid, version, started_at,
      last_heartbeat_at, running_tasks, metrics, state_reason, recycle_requested_at, transport, metadata)
    VALUES (@id, @capabilities, @types, @concurrency, 'running', 'agent', @hostname, @pid, @version, @now, @now, 0,
      NULL, N'registered', NULL, @transport, @metadata)
  OUTPUT ${agentColumns('inserted.')};
  INSERT INTO ${TABLE.agentEvents} (agent_id, at, from_state, to_state, reason)
  VALUES (@id, @now, @previous, 'running', N'registered');
END;
COMMIT TRANSACTION;`,
});

/**
 * HEARTBEAT: records a heartbeat, and the concurrency the agent applies when it reports one. Idempotent.
 * Params: @id, @now, @runningTasks, @metrics (JSON or null), @concurrency (or null: unchanged).
 * Result: the agent row, or none when unknown.
 */
export const HEARTBEAT = statement('HEARTBEAT', {
  idempotent: true,
  params: {
    id: param.nvarchar(COLUMN_LENGTH.agentId),
    now: param.time,
    runningTasks: param.int,
    metrics: param.json,
    concurrency: param.int,
  },
  text: `
UPDATE ${TABLE.agents}
SET last_heartbeat_at = @now, running_tasks = @runningTasks, metrics = @metrics,
  concurrency = COALESCE(@concurrency, concurrency)
OUTPUT ${agentColumns('inserted.')}
WHERE id = @id;`,
});

/**
 * UPDATE_AGENT_SETTINGS: stores an admin's settings for agent @id and appends an agent event from and to its
 * current state with @reason, in one transaction (the row is locked by the update, so the state the event names
 * is the one the row has). Not idempotent: a repeat appends a second event.
 * Params: @id, @desiredConcurrency (or null), @disabledTypes (JSON array), @reason, @now.
 * Result: the agent row as stored, or none when unknown.
 */
export const UPDATE_AGENT_SETTINGS = statement('UPDATE_AGENT_SETTINGS', {
  idempotent: false,
  params: {
    id: param.nvarchar(COLUMN_LENGTH.agentId),
    desiredConcurrency: param.int,
    disabledTypes: param.json,
    reason: param.text,
    now: param.time,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @state varchar(16);
BEGIN TRANSACTION;
UPDATE ${TABLE.agents}
SET desired_concurrency = @desiredConcurrency, disabled_types = @disabledTypes, @state = state
WHERE id = @id;
IF @state IS NOT NULL
BEGIN
  INSERT INTO ${TABLE.agentEvents} (agent_id, at, from_state, to_state, reason)
  VALUES (@id, @now, @state, @state, @reason);
END;
COMMIT TRANSACTION;
SELECT ${agentColumns()} FROM ${TABLE.agents} WHERE id = @id AND @state IS NOT NULL;`,
});

/**
 * SET_AGENT_STATE: moves agent @agentId to @to, recording @source and @reason (its first 1,000 characters, the
 * column's length), when its state is one of @fromStates (any, when null) and not already @to; appends an agent
 * event with @reason.
 * Params: @agentId, @to, @fromStates (JSON array or null), @source, @reason, @now. Result: { changed } (0 or 1).
 */
export const SET_AGENT_STATE = statement('SET_AGENT_STATE', {
  idempotent: false,
  params: {
    agentId: param.nvarchar(COLUMN_LENGTH.agentId),
    to: param.varchar(COLUMN_LENGTH.status),
    fromStates: param.json,
    source: param.varchar(COLUMN_LENGTH.status),
    reason: param.text,
    now: param.time,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @current varchar(16), @changed int = 0;
BEGIN TRANSACTION;
SELECT @current = state FROM ${TABLE.agents} WITH (UPDLOCK, ROWLOCK) WHERE id = @agentId;
IF @current IS NOT NULL AND @current <> @to
  AND (@fromStates IS NULL OR @current IN (SELECT value FROM OPENJSON(@fromStates)))
BEGIN
  UPDATE ${TABLE.agents}
  SET state = @to, state_source = @source, state_reason = LEFT(@reason, 1000)
  WHERE id = @agentId AND state = @current;
  SET @changed = @@ROWCOUNT;
  IF @changed = 1
  BEGIN
    INSERT INTO ${TABLE.agentEvents} (agent_id, at, from_state, to_state, reason)
    VALUES (@agentId, @now, @current, @to, @reason);
  END;
END;
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});

/**
 * SET_AGENT_RECYCLE: sets agent @id's recycle request to @to (or NULL) when it is @expected (NULL included): a
 * compare-and-set, so of several supervisors seeing one stall only one asks. Idempotent: applying it again
 * leaves the same row. Params: @id, @expected, @to. Result: { id } of the changed agent, or none.
 */
export const SET_AGENT_RECYCLE = statement('SET_AGENT_RECYCLE', {
  idempotent: true,
  params: { id: param.nvarchar(COLUMN_LENGTH.agentId), expected: param.time, to: param.time },
  text: `
UPDATE ${TABLE.agents}
SET recycle_requested_at = @to
OUTPUT inserted.id
WHERE id = @id
  AND ((@expected IS NULL AND recycle_requested_at IS NULL) OR recycle_requested_at = @expected);`,
});

/** SELECT_AGENT: one agent. Params: @id. Result: the row or none. */
export const SELECT_AGENT = statement('SELECT_AGENT', {
  idempotent: true,
  params: { id: param.nvarchar(COLUMN_LENGTH.agentId) },
  text: `SELECT ${agentColumns()} FROM ${TABLE.agents} WHERE id = @id;`,
});

/** SELECT_AGENTS: every agent, by id. */
export const SELECT_AGENTS = statement('SELECT_AGENTS', {
  idempotent: true,
  params: {},
  text: `SELECT ${agentColumns()} FROM ${TABLE.agents} ORDER BY id;`,
});

/**
 * SELECT_AGENTS_PAGE: agents by id after @afterId, of @state and with @capability when given (null: any), leaving
 * out the stopped and failed ones last heard of before @hideGoneBefore (null: none left out); at most @limit.
 * A seek on the primary key from @afterId; the optional filters are row checks, recompiled per call so that an
 * absent one costs nothing. Params: @afterId, @state, @capability, @hideGoneBefore, @limit. Result: agent rows.
 */
export const SELECT_AGENTS_PAGE = statement('SELECT_AGENTS_PAGE', {
  idempotent: true,
  params: {
    afterId: param.nvarchar(COLUMN_LENGTH.agentId),
    state: param.varchar(16),
    capability: param.nvarchar(64),
    hideGoneBefore: param.time,
    limit: param.int,
  },
  text: `
SELECT TOP (@limit) ${agentColumns()} FROM ${TABLE.agents}
WHERE id > @afterId AND (@state IS NULL OR state = @state)
  AND (@capability IS NULL OR EXISTS (SELECT 1 FROM OPENJSON(capabilities) AS c WHERE c.value = @capability))
  AND (@hideGoneBefore IS NULL OR state NOT IN ('stopped', 'failed') OR last_heartbeat_at >= @hideGoneBefore)
ORDER BY id
OPTION (RECOMPILE);`,
});

/** Epoch milliseconds (a bigint) as the datetime2 in UTC every time the adapter binds is. */
const fromEpochMs = (ms: string) =>
  `DATEADD(millisecond, ${ms} % 86400000, DATEADD(day, ${ms} / 86400000, CAST('1970-01-01' AS datetime2(3))))`;

/**
 * RECORD_AGENT_SAMPLES: inserts the samples of @samples (JSON [{ agentId, at (epoch ms), runningTasks, concurrency,
 * cpuPercent, rssBytes, heartbeatAgeMs }]) whose (agent, at) is new and whose agent exists. The existence checks
 * hold key-range locks (UPDLOCK, HOLDLOCK), so two supervisors sampling the same minute insert it once.
 * Params: @samples. Result: { stored }.
 */
export const RECORD_AGENT_SAMPLES = statement('RECORD_AGENT_SAMPLES', {
  idempotent: true,
  params: { samples: param.json },
  text: `
${WRITE_PREAMBLE}
DECLARE @stored int;
BEGIN TRANSACTION;
INSERT INTO ${TABLE.agentMetrics} (agent_id, at, running_tasks, concurrency, cpu_percent, rss_bytes, heartbeat_age_ms)
SELECT j.agent_id, ${fromEpochMs('j.at_ms')}, j.running_tasks, j.concurrency, j.cpu_percent, j.rss_bytes, j.heartbeat_age_ms
FROM OPENJSON(@samples) WITH (
  agent_id nvarchar(450) '$.agentId', at_ms bigint '$.at', running_tasks int '$.runningTasks',
  concurrency int '$.concurrency', cpu_percent float '$.cpuPercent', rss_bytes bigint '$.rssBytes',
  heartbeat_age_ms bigint '$.heartbeatAgeMs'
) AS j
WHERE EXISTS (SELECT 1 FROM ${TABLE.agents} AS a WITH (UPDLOCK, HOLDLOCK) WHERE a.id = j.agent_id COLLATE Latin1_General_100_BIN2)
  AND NOT EXISTS (SELECT 1 FROM ${TABLE.agentMetrics} AS m WITH (UPDLOCK, HOLDLOCK)
                  WHERE m.agent_id = j.agent_id COLLATE Latin1_General_100_BIN2 AND m.at = ${fromEpochMs('j.at_ms')});
SET @stored = @@ROWCOUNT;
COMMIT TRANSACTION;
SELECT @stored AS stored;`,
});

/** SELECT_AGENT_SAMPLES: one agent's samples at or after @since, oldest first (PK_agent_metrics). */
export const SELECT_AGENT_SAMPLES = statement('SELECT_AGENT_SAMPLES', {
  idempotent: true,
  params: { agentId: param.nvarchar(COLUMN_LENGTH.agentId), since: param.time, limit: param.int },
  text: `
SELECT TOP (@limit) agent_id, at, running_tasks, concurrency, cpu_percent, rss_bytes, heartbeat_age_ms
FROM ${TABLE.agentMetrics}
WHERE agent_id = @agentId AND at >= @since
ORDER BY at;`,
});

/**
 * PURGE_AGENT_SAMPLES: deletes up to @limit samples older than @before, oldest first (IX_agent_metrics_at), in
 * one short transaction; READPAST leaves rows another purge holds. Params: @before, @limit. Result: { purged }.
 */
export const PURGE_AGENT_SAMPLES = statement('PURGE_AGENT_SAMPLES', {
  idempotent: false,
  params: { before: param.time, limit: param.int },
  text: `
${WRITE_PREAMBLE}
WITH oldest AS (
  SELECT TOP (@limit) agent_id, at FROM ${TABLE.agentMetrics} WITH (ROWLOCK, READPAST, READCOMMITTEDLOCK)
  WHERE at < @before ORDER BY at
)
DELETE FROM oldest;
SELECT @@ROWCOUNT AS purged;`,
});

/** SELECT_AGENT_EVENTS: one agent's events in order (IX_agent_events_agent_seq). Params: @agentId. */
export const SELECT_AGENT_EVENTS = statement('SELECT_AGENT_EVENTS', {
  idempotent: true,
  params: { agentId: param.nvarchar(COLUMN_LENGTH.agentId) },
  text: `
SELECT seq, agent_id, at, from_state, to_state, reason
FROM ${TABLE.agentEvents}
WHERE agent_id = @agentId
ORDER BY seq;`,
});

/**
 * DELETE_AGENT_IN_STATES: deletes agent @id when its state is one of @states; its events go with it (ON DELETE
 * CASCADE). Params: @id, @states (JSON array). Result: { id } of the deleted agent, or none.
 */
export const DELETE_AGENT_IN_STATES = statement('DELETE_AGENT_IN_STATES', {
  idempotent: false,
  params: { id: param.nvarchar(COLUMN_LENGTH.agentId), states: param.json },
  text: `
DELETE FROM ${TABLE.agents}
OUTPUT deleted.id
WHERE id = @id
  AND state IN (SELECT s.state COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@states) WITH (state varchar(16) '$') AS s);`,
});
