/**
 * Task submission of the mssql adapter (twin of `sqlite/tasks.ts`): insertTasks around INSERT_TASKS: what is sent (each idempotency key once: a key repeated within the batch is a
 * replay of its first task, or a conflict), and the outcomes, in the caller's order, from the result sets.
 */
import { normaliseCapabilities, routeKey } from '../../domain/capabilities';
import { ConflictError } from '../../domain/errors';
import { idempotencyConflictMessage } from '../../domain/storeRules';
import type { InsertOutcome, NewTask } from '../port';
import type { Recordsets } from './client';
import { toIsoMs, toJson, toTask, type TaskRow } from './rows';

export interface PreparedInsert {
  /** @tasks of INSERT_TASKS. */
  json: string;
  /** @createdAt of INSERT_TASKS: the routes' creation time. */
  createdAt: number;
  /** Reads INSERT_TASKS' result sets into one outcome per task; throws ConflictError when the batch was refused. */
  outcomes(sets: Recordsets): InsertOutcome[];
}

function conflict(key: string, taskId: string): ConflictError {
  return new ConflictError(idempotencyConflictMessage(key, taskId));
}

/** Validates and shapes a batch; throws ValidationError or ConflictError before anything is sent. */
export function prepareInsert(tasks: readonly NewTask[]): PreparedInsert {
  const capabilitySets = tasks.map((task, i) =>
    normaliseCapabilities(task.requiredCapabilities, `tasks[${i}].requiredCapabilities`),
  );
  const replayOf = replaysWithinBatch(tasks);
  const rows = tasks.flatMap((task, i) => (replayOf[i] !== null ? [] : [insertRow(task, i, capabilitySets[i] ?? [])]));
  return {
    json: JSON.stringify(rows),
    createdAt: tasks[0]?.createdAt ?? 0,
    outcomes: (sets) => readOutcomes(tasks, replayOf, sets),
  };
}

/**
 * For each task, the index of the earlier task of the batch holding its idempotency key (a replay, not sent),
 * or null; a key repeated with another request hash is a ConflictError.
 */
function replaysWithinBatch(tasks: readonly NewTask[]): Array<number | null> {
  const firstOfKey = new Map<string, number>();
  return tasks.map((task, i) => {
    if (task.idempotencyKey === null) return null;
    const first = firstOfKey.get(task.idempotencyKey);
    if (first === undefined) {
      firstOfKey.set(task.idempotencyKey, i);
      return null;
    }
    const original = tasks[first];
    if (original && original.requestHash !== task.requestHash) throw conflict(task.idempotencyKey, original.id);
    return first;
  });
}

/** One element of INSERT_TASKS' @tasks (times as ISO text, JSON columns as text). */
function insertRow(task: NewTask, ord: number, capabilities: string[]) {
  return {
    ord,
    id: task.id,
    type: task.type,
    maxAttempts: task.maxAttempts,
    requiredCapabilities: JSON.stringify(capabilities),
    routeKey: routeKey(task.type, capabilities),
    priority: task.priority,
    payload: toJson(task.payload),
    timeoutSeconds: task.timeoutSeconds,
    notBefore: toIsoMs(task.notBefore),
    deadline: task.deadline === null ? null : toIsoMs(task.deadline),
    idempotencyKey: task.idempotencyKey,
    requestHash: task.requestHash,
    submittedBy: task.submittedBy ?? null, // tolerate callers built before the field existed
    traceParent: task.traceParent ?? null,
    sensitive: task.sensitive === true,
    callbackUrl: task.callbackUrl ?? null,
    workflow: task.workflow ? JSON.stringify(task.workflow) : null,
    createdAt: toIsoMs(task.createdAt),
  };
}

/** INSERT_TASKS' result sets as one outcome per task, in the caller's order. */
function readOutcomes(
  tasks: readonly NewTask[],
  replayOf: ReadonlyArray<number | null>,
  sets: Recordsets,
): InsertOutcome[] {
  const [conflicts = [], existing = [], inserted = []] = sets;
  const first = conflicts[0] as { id: string; idempotency_key: string } | undefined;
  if (first) throw conflict(first.idempotency_key, first.id);
  const byKey = new Map((existing as unknown as TaskRow[]).map((row) => [row.idempotency_key, toTask(row)]));
  const byId = new Map((inserted as unknown as TaskRow[]).map((row) => [row.id, toTask(row)]));
  const out: InsertOutcome[] = [];
  tasks.forEach((task, i) => {
    const replay = replayOf[i];
    if (replay !== null && replay !== undefined) {
      const original = out[replay];
      if (!original) throw new Error(`mssql: INSERT_TASKS: no outcome for task ${replay}`);
      out.push({ created: false, task: original.task });
      return;
    }
    const stored = task.idempotencyKey === null ? undefined : byKey.get(task.idempotencyKey);
    if (stored) {
      out.push({ created: false, task: stored });
      return;
    }
    const record = byId.get(task.id);
    if (!record) throw new Error(`mssql: INSERT_TASKS returned no row for task ${task.id}`);
    out.push({ created: true, task: record });
  });
  return out;
}
