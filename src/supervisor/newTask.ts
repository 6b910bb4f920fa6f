/**
 * A task to insert, from a submission already validated: what a submit and a workflow step's release share, and
 * the checks beyond its shape that both a task and a workflow's step pass when submitted.
 */
import { v7 as uuidv7 } from 'uuid';
import { PayloadTooLargeError, ValidationError } from '../domain/errors';
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

/**
 * The limits a submission's shape does not say: the payload's size, and a deadline after the delay. `field` is
 * the submission's place in the request ('' for a lone task, `tasks[3]`, `steps[2].task`).
 */
export function checkTaskLimits(s: TaskSubmission, field: string, now: number, maxPayloadBytes: number): void {
  const at = (name: string) => `${field}${field ? '.' : ''}${name}`;
  const payloadBytes = s.payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(s.payload));
  if (payloadBytes > maxPayloadBytes) throw new PayloadTooLargeError(at('payload'), maxPayloadBytes);
  const notBefore = now + Math.round((s.delaySeconds ?? 0) * 1000);
  if (s.deadline !== undefined && Date.parse(s.deadline) <= notBefore) {
    throw new ValidationError([{ field: at('deadline'), message: 'must be later than now plus delaySeconds' }]);
  }
}
