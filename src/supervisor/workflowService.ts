/**
 * Workflows as the API offers them (independent of HTTP): submit (checked whole, nothing written on any
 * error), read and list under the ownership rule of tasks (a submitter reaches its own workflows only, and
 * another key's is a 404 like one that does not exist), a person's decision on a step, and cancel. Decisions
 * and cancels are audited (`workflow.approve`, `workflow.reject`, `workflow.cancel`).
 */
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../domain/clock';
import { NotFoundError, ValidationError } from '../domain/errors';
import type { Actor } from '../domain/security';
import { IDEMPOTENCY_KEY_PATTERN, stableStringify } from '../domain/submission';
import type { WorkflowEvent, WorkflowRecord, WorkflowSummary } from '../domain/workflow';
import { parseWorkflowSteps, workflowSubmissionSchema } from '../domain/workflowSubmission';
import { AuditLog } from '../security/audit';
import { ForbiddenError } from '../security/errors';
import { taskOwner } from '../security/permissions';
import type { Store } from '../store/port';
import type { WorkflowFilter } from '../store/workflowPort';
import type { WorkflowEngine } from './workflowEngine';
import { checkTaskLimits } from './newTask';
import { assertShallow, parseOrThrow } from './validation';

type Reader = Pick<Actor, 'role' | 'keyId'>;

export interface WorkflowLimits {
  maxPayloadBytes: number;
}

export class WorkflowService {
  private readonly audit: AuditLog;

  constructor(
    private readonly store: Store,
    private readonly engine: Pick<WorkflowEngine, 'advance'>,
    private readonly limits: WorkflowLimits,
    private readonly clock: Clock,
  ) {
    this.audit = new AuditLog(store, clock);
  }

  /**
   * Stores the workflow, then runs its first pass (the first steps released) before answering. With an
   * idempotency key (scoped to the caller), a replay with the same body answers the stored workflow.
   */
  async submit(
    body: unknown,
    opts: { idempotencyKey?: string | undefined; actor: Pick<Actor, 'keyId'> },
  ): Promise<{ workflow: WorkflowRecord; created: boolean }> {
    if (opts.idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(opts.idempotencyKey)) {
      throw new ValidationError([
        { field: 'Idempotency-Key', message: 'must be 1 to 200 printable ASCII characters without spaces' },
      ]);
    }
    assertShallow(body);
    const parsed = parseOrThrow(workflowSubmissionSchema, body);
    const spec = parseWorkflowSteps(parsed.steps);
    const now = this.clock.now();
    spec.forEach((step, i) => {
      if (step.task) checkTaskLimits(step.task, `steps[${i}].task`, now, this.limits.maxPayloadBytes);
    });
    const { workflow, created } = await this.store.insertWorkflow({
      id: uuidv7(),
      name: parsed.name ?? null,
      submittedBy: opts.actor.keyId,
      idempotencyKey: opts.idempotencyKey === undefined ? null : `${opts.actor.keyId}:workflow:${opts.idempotencyKey}`,
      requestHash:
        opts.idempotencyKey === undefined ? null : createHash('sha256').update(stableStringify(body)).digest('hex'),
      spec,
      createdAt: now,
    });
    if (!created) return { workflow, created };
    // A failed first pass is not the caller's error: the workflow is stored, and the periodic pass releases it.
    const advanced = await this.engine.advance(workflow.id).catch(() => null);
    return { workflow: advanced ?? workflow, created };
  }

  async get(id: string, actor: Reader): Promise<WorkflowRecord> {
    const wf = await this.store.getWorkflow(id);
    const owner = taskOwner(actor);
    if (!wf || (owner !== null && wf.submittedBy !== owner)) throw new NotFoundError(`workflow ${id}`);
    return wf;
  }

  list(filter: Omit<WorkflowFilter, 'submittedBy'>, actor: Reader): Promise<WorkflowSummary[]> {
    const owner = taskOwner(actor);
    return this.store.listWorkflows(owner === null ? filter : { ...filter, submittedBy: owner });
  }

  async events(id: string, actor: Reader, afterSeq: number, limit: number): Promise<WorkflowEvent[]> {
    await this.get(id, actor);
    return this.store.listWorkflowEvents({ workflowId: id, afterSeq, limit });
  }

  /**
   * A person approves or rejects a step waiting for approval (an approval step, or a gate whose rounds are
   * spent): an admin, or the workflow's submitter unless the step asks for an admin.
   */
  async decide(
    id: string,
    step: string,
    kind: 'approve' | 'reject',
    actor: Actor,
    comment?: string,
  ): Promise<WorkflowRecord> {
    const wf = await this.get(id, actor);
    const spec = wf.spec.find((s) => s.id === step);
    if (!spec) throw new NotFoundError(`step ${step} of workflow ${id}`);
    const role = spec.approval?.role ?? 'submitter';
    const allowed = actor.role === 'admin' || (role === 'submitter' && wf.submittedBy === actor.keyId);
    if (!allowed) {
      const who = role === 'admin' ? 'an admin key' : 'an admin key or the key that submitted the workflow';
      throw new ForbiddenError(`only ${who} may ${kind} step ${step}`, ['admin']);
    }
    const by = actor.name || actor.keyId;
    const after = await this.engine.advance(id, { kind, step, by, ...(comment ? { comment } : {}) });
    await this.audit.record(actor, `workflow.${kind}`, `workflow:${id}`, { step, comment: comment ?? null });
    if (!after) throw new NotFoundError(`workflow ${id}`);
    return after;
  }

  async cancel(id: string, actor: Actor): Promise<WorkflowRecord> {
    await this.get(id, actor);
    const after = await this.engine.advance(id, { kind: 'cancel', by: actor.name || actor.keyId });
    await this.audit.record(actor, 'workflow.cancel', `workflow:${id}`, {});
    if (!after) throw new NotFoundError(`workflow ${id}`);
    return after;
  }
}
