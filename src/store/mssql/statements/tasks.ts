/**
 * Task submission and reads: the statements behind insertTasks, getTask, listTasks, listTaskEvents and
 * listRoutes. Each is one request (one round trip); each write is one transaction.
 */
import type { TaskListShape } from '../../shared';
import {
  BIN2,
  COLUMN_LENGTH,
  param,
  type ParamType,
  statement,
  TABLE,
  taskColumns,
  WRITE_PREAMBLE,
} from '../statement';

/**
 * INSERT_TASKS: inserts a batch of tasks, their `submitted` events and their routes, all or nothing.
 *
 * Params: @tasks, a JSON array of { ord, id, type, maxAttempts, requiredCapabilities (JSON text), routeKey,
 * priority, payload (JSON text), timeoutSeconds, notBefore, deadline, createdAt (times as
 * 'YYYY-MM-DDTHH:mm:ss.fff', UTC), idempotencyKey, requestHash, submittedBy, traceParent, sensitive (boolean), callbackUrl,
 * workflow (JSON text or null) }, holding only the first task of
 * each idempotency key (the caller resolves repeats within a batch); @createdAt, the routes' creation time.
 *
 * Result sets: [0] the conflicts { id, idempotency_key }: keys already held by a task with another request
 * hash; when there is any, nothing was written and no other set follows. [1] the stored tasks holding one of
 * the batch's keys with the same hash (replays; not inserted again). [2] the inserted task rows.
 *
 * Locking: the lookup of existing keys takes UPDLOCK + HOLDLOCK (key-range locks on UX_tasks_idempotency_key),
 * so a concurrent submission of the same new key waits for this one and then finds it (or, should both take
 * their range locks first, one is chosen as deadlock victim, rolled back whole and retried: see errors.ts).
 * Routes are merged WITH (HOLDLOCK) on their unique hash, so two batches adding one new route cannot collide.
 *
 * Errors: 2627 when a task id already exists (ids are fresh UUIDv7s: a bug, never retried); 547 on a CHECK
 * (a value the domain should have refused).
 */
export const INSERT_TASKS = statement('INSERT_TASKS', {
  idempotent: false,
  params: { tasks: param.json, createdAt: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @new TABLE (
  ord                   int NOT NULL,
  id                    varchar(64) ${BIN2} NOT NULL PRIMARY KEY,
  type                  varchar(64) ${BIN2} NOT NULL,
  max_attempts          int NOT NULL,
  required_capabilities nvarchar(max) NOT NULL,
  route_key             varchar(2200) ${BIN2} NOT NULL,
  priority              varchar(16) ${BIN2} NOT NULL,
  payload               nvarchar(max) NOT NULL,
  timeout_seconds       float NULL,
  not_before            datetime2(3) NOT NULL,
  deadline              datetime2(3) NULL,
  idempotency_key       nvarchar(450) ${BIN2} NULL,
  request_hash          varchar(128) ${BIN2} NULL,
  submitted_by          nvarchar(450) ${BIN2} NULL,
  trace_parent          varchar(128) ${BIN2} NULL,
  sensitive             bit NOT NULL,
  callback_url          nvarchar(2048) NULL,
  workflow              nvarchar(max) NULL,
  created_at            datetime2(3) NOT NULL
);
INSERT INTO @new (ord, id, type, max_attempts, required_capabilities, route_key, priority, payload, timeout_seconds,
  not_before, deadline, idempotency_key, request_hash, submitted_by, trace_parent, sensitive, callback_url, workflow,
  created_at)
SELECT ord, id, type, max_attempts, required_capabilities, route_key, priority, payload, timeout_seconds,
  not_before, deadline, idempotency_key, request_hash, submitted_by, trace_parent, COALESCE(sensitive, 0), callback_url,
  workflow, created_at
FROM OPENJSON(@tasks) WITH (
  ord                   int            '$.ord',
  id                    varchar(64)    '$.id',
  type                  varchar(64)    '$.type',
  max_attempts          int            '$.maxAttempts',
  required_capabilities nvarchar(max)  '$.requiredCapabilities',
  route_key             varchar(2200)  '$.routeKey',
  priority              varchar(16)    '$.priority',
  payload               nvarchar(max)  '$.payload',
  timeout_seconds       float          '$.timeoutSeconds',
  not_before            datetime2(3)   '$.notBefore',
  deadline              datetime2(3)   '$.deadline',
  idempotency_key       nvarchar(450)  '$.idempotencyKey',
  request_hash          varchar(128)   '$.requestHash',
  submitted_by          nvarchar(450)  '$.submittedBy',
  trace_parent          varchar(128)   '$.traceParent',
  sensitive             bit            '$.sensitive',
  callback_url          nvarchar(2048) '$.callbackUrl',
  workflow              nvarchar(max)  '$.workflow',
  created_at            datetime2(3)   '$.createdAt'
);

DECLARE @existing TABLE (
  id              varchar(64) ${BIN2} NOT NULL,
  idempotency_key nvarchar(450) ${BIN2} NOT NULL PRIMARY KEY,
  request_hash    varchar(128) ${BIN2} NULL
);

BEGIN TRANSACTION;

INSERT INTO @existing (id, idempotency_key, request_hash)
SELECT t.id, t.idempotency_key, t.request_hash
FROM @new AS n
JOIN ${TABLE.tasks} AS t WITH (UPDLOCK, HOLDLOCK, ROWLOCK) ON t.idempotency_key = n.idempotency_key
WHERE n.idempotency_key IS NOT NULL AND t.idempotency_key IS NOT NULL;

SELECT e.id, e.idempotency_key
FROM @existing AS e
JOIN @new AS n ON n.idempotency_key = e.idempotency_key
WHERE NOT (e.request_hash = n.request_hash OR (e.request_hash IS NULL AND n.request_hash IS NULL));

IF @@ROWCOUNT > 0
BEGIN
  ROLLBACK TRANSACTION;
  RETURN;
END;

SELECT ${taskColumns('t.')}
FROM ${TABLE.tasks} AS t
JOIN @existing AS e ON e.id = t.id;

MERGE ${TABLE.routes} WITH (HOLDLOCK) AS r
USING (
  SELECT DISTINCT n.route_key, n.type, n.required_capabilities
  FROM @new AS n
  WHERE NOT EXISTS (SELECT 1 FROM @existing AS e WHERE e.idempotency_key = n.idempotency_key)
) AS s
ON r.route_hash = CAST(HASHBYTES('SHA2_256', s.route_key) AS binary(32))
WHEN NOT MATCHED BY TARGET THEN
  INSERT (route_key, type, capabilities, created_at) VALUES (s.route_key, s.type, s.required_capabilities, @createdAt);

INSERT INTO ${TABLE.tasks} (id, type, status, attempt, max_attempts, required_capabilities, route_id, priority, payload,
  cancel_requested, timeout_seconds, not_before, deadline, idempotency_key, request_hash, submitted_by,
  trace_parent, sensitive, callback_url, workflow, dispatched_at, created_at, updated_at)
OUTPUT ${taskColumns('inserted.')}
SELECT n.id, n.type, 'queued', 0, n.max_attempts, n.required_capabilities, r.id, n.priority, n.payload,
  0, n.timeout_seconds, n.not_before, n.deadline, n.idempotency_key, n.request_hash, n.submitted_by,
  n.trace_parent, n.sensitive, n.callback_url, n.workflow, n.created_at, n.created_at, n.created_at
FROM @new AS n
JOIN ${TABLE.routes} AS r ON r.route_hash = CAST(HASHBYTES('SHA2_256', n.route_key) AS binary(32))
WHERE NOT EXISTS (SELECT 1 FROM @existing AS e WHERE e.idempotency_key = n.idempotency_key);

INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
SELECT n.id, n.created_at, 'submitted', 0, NULL, NULL
FROM @new AS n
WHERE NOT EXISTS (SELECT 1 FROM @existing AS e WHERE e.idempotency_key = n.idempotency_key)
ORDER BY n.ord;

COMMIT TRANSACTION;`,
});

/** SELECT_TASK: one task. Params: @id. Result: the row or none. */
export const SELECT_TASK = statement('SELECT_TASK', {
  idempotent: true,
  params: { id: param.varchar(COLUMN_LENGTH.taskId) },
  text: `SELECT ${taskColumns()} FROM ${TABLE.tasks} WHERE id = @id;`,
});

export type { TaskListShape } from '../../shared';

/**
 * LIST_TASKS, newest first: one statement per combination of filters present, so each gets its own plan
 * (IX_tasks_status_id or IX_tasks_type_id for keyset paging, the clustered key backwards otherwise); an
 * `@x IS NULL OR …` form would share one plan that fits none. The capability filter reads the JSON array of
 * each candidate row (as SQLite's json_each does: no index can serve it), comparing byte by byte as SQLite does.
 * The submitter filter (a submitter's own tasks) is a residual predicate on the same scans.
 * Params: @limit, and @status, @type, @capability, @beforeId, @submittedBy for the filters present. Result: task
 * rows.
 */
export function listTasksStatement(shape: TaskListShape) {
  const where: string[] = [];
  if (shape.status) where.push('t.status = @status');
  if (shape.type) where.push('t.type = @type');
  if (shape.capability) {
    where.push(`EXISTS (SELECT 1 FROM OPENJSON(t.required_capabilities) AS c WHERE c.value = @capability ${BIN2})`);
  }
  if (shape.beforeId) where.push('t.id < @beforeId');
  if (shape.submittedBy) where.push('t.submitted_by = @submittedBy');
  const name = `LIST_TASKS(${Object.entries(shape)
    .filter(([, on]) => on)
    .map(([k]) => k)
    .join(',')})`;
  const params: Record<string, ParamType> = { limit: param.int };
  if (shape.status) params.status = param.varchar(COLUMN_LENGTH.status);
  if (shape.type) params.type = param.varchar(COLUMN_LENGTH.token);
  if (shape.capability) params.capability = param.nvarchar(COLUMN_LENGTH.token);
  if (shape.beforeId) params.beforeId = param.varchar(COLUMN_LENGTH.taskId);
  if (shape.submittedBy) params.submittedBy = param.nvarchar(COLUMN_LENGTH.keyId);
  return statement(name, {
    idempotent: true,
    params,
    text: `
SELECT TOP (@limit) ${taskColumns('t.')}
FROM ${TABLE.tasks} AS t
${where.length > 0 ? `WHERE ${where.join('\n  AND ')}` : ''}
ORDER BY t.id DESC;`,
  });
}

/** SELECT_TASK_EVENTS: one task's events in order (IX_task_events_task_seq). Params: @taskId. Result: event rows. */
export const SELECT_TASK_EVENTS = statement('SELECT_TASK_EVENTS', {
  idempotent: true,
  params: { taskId: param.varchar(COLUMN_LENGTH.taskId) },
  text: `
SELECT seq, task_id, at, kind, attempt, agent_id, data
FROM ${TABLE.taskEvents}
WHERE task_id = @taskId
ORDER BY seq;`,
});

/**
 * SELECT_TASK_EVENTS_AFTER: every task's events with seq > @afterSeq, oldest first (the clustered key): how the
 * supervisor tails the log for metrics. Params: @afterSeq, @limit. Result: event rows.
 */
export const SELECT_TASK_EVENTS_AFTER = statement('SELECT_TASK_EVENTS_AFTER', {
  idempotent: true,
  params: { afterSeq: param.bigint, limit: param.int },
  text: `
SELECT TOP (@limit) seq, task_id, at, kind, attempt, agent_id, data
FROM ${TABLE.taskEvents}
WHERE seq > @afterSeq
ORDER BY seq;`,
});

/**
 * SELECT_TASK_EVENTS_OF_KINDS: the events of @kinds with @afterSeq < seq <= @upToSeq, oldest first: a range of the
 * clustered key, each row's kind checked there (the webhook outbox). Params: @afterSeq, @upToSeq, @kinds (JSON
 * array), @limit. Result: event rows.
 */
export const SELECT_TASK_EVENTS_OF_KINDS = statement('SELECT_TASK_EVENTS_OF_KINDS', {
  idempotent: true,
  params: { afterSeq: param.bigint, upToSeq: param.bigint, kinds: param.json, limit: param.int },
  text: `
SELECT TOP (@limit) seq, task_id, at, kind, attempt, agent_id, data
FROM ${TABLE.taskEvents}
WHERE seq > @afterSeq AND seq <= @upToSeq
  AND kind IN (SELECT k.value COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@kinds) WITH (value varchar(32) '$') AS k)
ORDER BY seq;`,
});

/**
 * SELECT_TASK_HEADS: the type, route key, submitter and callback URL of each task among @ids (unknown ids left out): what the
 * fleet event stream shows, and whether the webhook outbox has anything to deliver for it.
 * Params: @ids (JSON array of task ids). Result: { id, type, route_key, submitted_by, callback_url } rows.
 */
export const SELECT_TASK_HEADS = statement('SELECT_TASK_HEADS', {
  idempotent: true,
  params: { ids: param.json },
  text: `
SELECT t.id, t.type, r.route_key, t.submitted_by, t.callback_url
FROM ${TABLE.tasks} AS t
JOIN ${TABLE.routes} AS r ON r.id = t.route_id
JOIN OPENJSON(@ids) WITH (id varchar(64) '$') AS j ON t.id = j.id COLLATE Latin1_General_100_BIN2;`,
});

/** SELECT_LAST_TASK_EVENT_SEQ: the newest event's seq, 0 when there is none (the clustered key's last row). */
export const SELECT_LAST_TASK_EVENT_SEQ = statement('SELECT_LAST_TASK_EVENT_SEQ', {
  idempotent: true,
  params: {},
  text: `SELECT COALESCE(MAX(seq), 0) AS seq FROM ${TABLE.taskEvents};`,
});

/** SELECT_ROUTES: every route ever submitted on, by key. Result: { type, capabilities (JSON) } rows. */
export const SELECT_ROUTES = statement('SELECT_ROUTES', {
  idempotent: true,
  params: {},
  text: `SELECT type, capabilities FROM ${TABLE.routes} ORDER BY route_key;`,
});
