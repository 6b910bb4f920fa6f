/**
 * Glossary (these words mean one thing throughout the code and the docs):
 * - task: a unit of work submitted to the supervisor: a type, a JSON payload, the capabilities it requires.
 * - attempt: one claim of a task by a worker. `attempt` counts claims and is the fencing token: only the
 *   holder of the current attempt may renew, complete or fail the task.
 * - lease: a claim's time limit; the worker renews it while the handler runs. An expired lease returns the
 *   task to the queue (or to `dead` when attempts are spent).
 * - capability set: the normalised capabilities a task requires; a worker must have all of them.
 * - route: a task type plus a capability set; one BullMQ queue each.
 * - agent: a worker process as the registry sees it (id, capabilities, types, state, heartbeats).
 * - worker: the process that registers as an agent, claims tasks and runs their handlers.
 * - supervisor: the process that serves the API and runs the background loops.
 * - heartbeat: the periodic report an agent sends; its absence is what the supervisor acts on.
 */
import type { WorkflowTaskContext } from './workflow';

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'dead', 'cancelled', 'expired'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'dead', 'cancelled', 'expired']);

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** BullMQ priority (lower runs first). Every job gets one: BullMQ serves un-prioritised jobs before all others. */
export const QUEUE_PRIORITY: Record<Priority, number> = { critical: 1, high: 2, normal: 3, low: 4 };

export interface TaskError {
  message: string;
  name?: string;
  /** `timeout` when the handler exceeded its time limit, `handler` for a thrown error, `no_handler`, … */
  kind: string;
}

/** A task as the store holds it. Times are epoch milliseconds. */
export interface TaskRecord {
  id: string;
  type: string;
  status: TaskStatus;
  attempt: number;
  maxAttempts: number;
  requiredCapabilities: string[];
  priority: Priority;
  payload: unknown;
  result: unknown;
  error: TaskError | null;
  agentId: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  timeoutSeconds: number | null;
  notBefore: number;
  deadline: number | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** The API key id that submitted the task (null when submitted without one). */
  submittedBy: string | null;
  /** W3C traceparent of the request that submitted the task (one trace per task). */
  traceParent: string | null;
  /**
   * Submitted with `sensitive: true`: the store holds its payload and result sealed (AES-256-GCM). Read through
   * the sealing store (src/store/sealedStore.ts), they are plain for a claim and a single read, redacted in lists.
   */
  sensitive: boolean;
  /**
   * The latest `ctx.progress` of the running or last attempt (a number or a small JSON value) and when it was
   * written; absent when none was. Never kept for a sensitive task.
   */
  progress?: unknown;
  progressAt?: number;
  /** Where the task's terminal events are posted (absent in records built before the column existed). */
  callbackUrl?: string | null;
  /** A workflow step's task: its place in the workflow, handed to the handler as `ctx.workflow`. */
  workflow?: WorkflowTaskContext | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

export const TASK_EVENT_KINDS = [
  'submitted',
  'started',
  'succeeded',
  'failed',
  'retry_scheduled',
  'dead',
  'cancel_requested',
  'cancelled',
  'expired',
  'lease_expired',
  'released',
  'lease_reclaimed',
  'result_rejected',
  'retried',
] as const;
export type TaskEventKind = (typeof TASK_EVENT_KINDS)[number];

export interface TaskEvent {
  seq: number;
  taskId: string;
  at: number;
  kind: TaskEventKind;
  attempt: number;
  agentId: string | null;
  data: unknown;
}

/** One dispatch: a pointer into SQL, never the task itself. */
export interface DispatchRef {
  taskId: string;
  attempt: number;
  /** The task's trace, so the worker's telemetry joins the submit's operation. */
  traceParent?: string;
}

/**
 * What a BullMQ job carries: one dispatch, or a batch of dispatches of one route and priority (`more`), which
 * a worker claims and runs together. A batch costs Redis and the worker one job rather than one per task.
 */
export interface DispatchMessage extends DispatchRef {
  more?: DispatchRef[];
}

/** Every dispatch a job carries, the first one first. */
export function dispatchRefs(m: DispatchMessage): DispatchRef[] {
  const first: DispatchRef = { taskId: m.taskId, attempt: m.attempt };
  if (m.traceParent) first.traceParent = m.traceParent;
  return m.more && m.more.length > 0 ? [first, ...m.more] : [first];
}

/** The job carrying `refs` (one dispatch or a batch of them). */
export function dispatchMessage(refs: readonly DispatchRef[]): DispatchMessage {
  const [first, ...more] = refs;
  if (!first) throw new Error('a job carries at least one dispatch');
  return more.length > 0 ? { ...first, more } : { ...first };
}

/**
 * Job id for the dispatch of `attempt` (the attempt count while queued), so a double enqueue is a no-op. A
 * batch's job has an id of its own, and each of its dispatches a marker naming it (see Dispatcher).
 */
export function jobId(taskId: string, attempt: number): string {
  return `${taskId}-${attempt}`;
}
