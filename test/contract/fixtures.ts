/** Builders shared by the store contract suites. Times are fixed epoch milliseconds, never the wall clock. */
import { v7 as uuidv7 } from 'uuid';
import type { TaskRecord } from '../../src/domain/task';
import type { NewTask, Store } from '../../src/store/port';

export const T0 = 1_700_000_000_000;
export const LEASE_MS = 30_000;

/** A new task with a UUIDv7 id (monotonic within a process, so ordering by id is ordering by creation). */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: uuidv7(),
    type: 'echo',
    requiredCapabilities: [],
    priority: 'normal',
    payload: { message: 'hello' },
    maxAttempts: 3,
    timeoutSeconds: null,
    notBefore: T0,
    deadline: null,
    idempotencyKey: null,
    requestHash: null,
    submittedBy: null,
    createdAt: T0,
    ...overrides,
  };
}

/** Inserts one new task and returns it as stored. */
export async function submit(store: Store, overrides: Partial<NewTask> = {}): Promise<TaskRecord> {
  const [outcome] = await store.insertTasks([newTask(overrides)]);
  if (!outcome) throw new Error('insertTasks returned no outcome');
  return outcome.task;
}

/** Claims the task's current dispatch and returns the running task; fails the test when the claim loses. */
export async function claim(
  store: Store,
  task: Pick<TaskRecord, 'id' | 'attempt'>,
  agentId = 'agent-a',
  now = T0 + 1_000,
): Promise<TaskRecord> {
  const result = await store.claimTask({ taskId: task.id, attempt: task.attempt, agentId, now, leaseMs: LEASE_MS });
  if (!result.claimed) throw new Error(`claim of ${task.id} at attempt ${task.attempt} lost`);
  return result.task;
}

/** The lease reference of a running task, as its holder would send it. */
export function leaseOf(task: TaskRecord, now: number) {
  if (task.agentId === null) throw new Error(`task ${task.id} has no holder`);
  return { taskId: task.id, attempt: task.attempt, agentId: task.agentId, now };
}

export async function eventKinds(store: Store, taskId: string): Promise<string[]> {
  return (await store.listTaskEvents(taskId)).map((e) => e.kind);
}

export async function mustGet(store: Store, taskId: string): Promise<TaskRecord> {
  const task = await store.getTask(taskId);
  if (!task) throw new Error(`task ${taskId} not found`);
  return task;
}
