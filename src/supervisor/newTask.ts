/** A task to insert, from a submission already validated: what a submit and a workflow step's release share. */
import { v7 as uuidv7 } from 'uuid';
import type { TaskSubmission } from '../domain/submission';
import type { WorkflowTaskContext } from '../domain/workflow';
import type { NewTask } from '../store/port';

export interface NewTaskOptions {
  now: number;
  defaultMaxAttempts: number;
  idempotency: { key: string; hash: string | null } | null;
  submittedBy: string | null;
  workflow?: WorkflowTaskContext;
}

export function newTaskOf(s: TaskSubmission, o: NewTaskOptions): NewTask {
  return {
    id: uuidv7(),
    type: s.type,
    requiredCapabilities: s.requiredCapabilities,
    priority: s.priority,
    payload: s.payload ?? null,
    maxAttempts: s.maxAttempts ?? o.defaultMaxAttempts,
    timeoutSeconds: s.timeoutSeconds ?? null,
    notBefore: o.now + Math.round((s.delaySeconds ?? 0) * 1000),
    deadline: s.deadline === undefined ? null : Date.parse(s.deadline),
    idempotencyKey: o.idempotency?.key ?? null,
    requestHash: o.idempotency?.hash ?? null,
    submittedBy: o.submittedBy,
    ...(s.sensitive === true ? { sensitive: true } : {}),
    ...(s.callbackUrl !== undefined ? { callbackUrl: s.callbackUrl } : {}),
    ...(o.workflow ? { workflow: o.workflow } : {}),
    createdAt: o.now,
  };
}
