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
  const capabilitySets = tasks.map((t, i) =>
    normaliseCapabilities(t.requiredCapabilities, `tasks[${i}].requiredCapabilities`),
  );
  const firstOfKey = new Map<string, number>();
  const replayOf: Array<number | null> = tasks.map((t, i) => {
    if (t.idempotencyKey === null) return null;
    const first = firstOfKey.get(t.idempotencyKey);
    if (first === undefined) {
      firstOfKey.set(t.idempotencyKey, i);
      return null;
    }
    const original = tasks[first];
    if (original && original.requestHash !== t.requestHash) throw conflict(t.idempotencyKey, original.id);
    return first;
  });
  const rows = tasks.flatMap((t, i) => {
    if (replayOf[i] !== null) return [];
    const capabilities = capabilitySets[i] ?? [];
    return [
      {
        ord: i,
        id: t.id,
        type: t.type,
        maxAttempts: t.maxAttempts,
        requiredCapabilities: JSON.stringify(capabilities),
        routeKey: routeKey(t.type, capabilities),
        priority: t.priority,
        payload: toJson(t.payload),
        timeoutSeconds: t.timeoutSeconds,
        notBefore: toIsoMs(t.notBefore),
        deadline: t.deadline === null ? null : toIsoMs(t.deadline),
        idempotencyKey: t.idempotencyKey,
        requestHash: t.requestHash,
        submittedBy: t.submittedBy ?? null, // tolerate callers built before the field existed
        traceParent: t.traceParent ?? null,
        createdAt: toIsoMs(t.createdAt),
      },
    ];
  });

  return {
    json: JSON.stringify(rows),
    createdAt: tasks[0]?.createdAt ?? 0,
    outcomes(sets) {
      const [conflicts = [], existing = [], inserted = []] = sets;
      const first = conflicts[0] as { id: string; idempotency_key: string } | undefined;
      if (first) throw conflict(first.idempotency_key, first.id);
      const byKey = new Map((existing as unknown as TaskRow[]).map((r) => [r.idempotency_key, toTask(r)]));
      const byId = new Map((inserted as unknown as TaskRow[]).map((r) => [r.id, toTask(r)]));
      const out: InsertOutcome[] = [];
      tasks.forEach((t, i) => {
        const replay = replayOf[i];
        if (replay !== null && replay !== undefined) {
          const original = out[replay];
          if (!original) throw new Error(`mssql: INSERT_TASKS: no outcome for task ${replay}`);
          out.push({ created: false, task: original.task });
          return;
        }
        const stored = t.idempotencyKey === null ? undefined : byKey.get(t.idempotencyKey);
        if (stored) {
          out.push({ created: false, task: stored });
          return;
        }
        const task = byId.get(t.id);
        if (!task) throw new Error(`mssql: INSERT_TASKS returned no row for task ${t.id}`);
        out.push({ created: true, task });
      });
      return out;
    },
  };
}
