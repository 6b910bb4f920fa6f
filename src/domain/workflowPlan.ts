/**
 * The workflow planner: from a workflow as stored, the outcomes of its running steps' tasks and at most one
 * person's action, the next change: steps recorded, steps released (a new round's task to submit), the
 * workflow's state, the events, and the tasks to cancel. Pure: the engine submits the releases' tasks, then
 * applies the change at the version it was planned from (src/supervisor/workflowEngine.ts).
 *
 * The rules (README "Workflows"):
 * - A step starts when every step it waits for (WorkflowGraph.deps) succeeded, or failed with `onFailure: continue`.
 * - A gate's task answers `{ approved, feedback? }`. Rejected: the validated step goes back to `pending` with
 *   the feedback and runs its next round, then the gate runs again; with the rounds spent, the gate fails, or
 *   waits for a person (`onExhausted: approval`).
 * - A step that fails with `onFailure: fail` fails the workflow: pending steps are cancelled, running ones are
 *   asked to cancel (their outcomes are still recorded when their tasks end).
 * - The workflow waits for approval while a step does and no task runs; it succeeds when every step is done.
 */
import { ConflictError } from './errors';
import { TERMINAL_STATUSES, type TaskError, type TaskStatus } from './task';
import {
  TERMINAL_WORKFLOW_STATES,
  type NewWorkflowEvent,
  type StepError,
  type StepRecord,
  type StepSpec,
  type WorkflowRecord,
  type WorkflowState,
  type WorkflowTaskContext,
} from './workflow';
import { workflowGraph, type WorkflowGraph } from './workflowSubmission';

/** How a step's current task stands (only terminal ones change anything). */
export interface StepTaskOutcome {
  status: TaskStatus;
  result: unknown;
  error: TaskError | null;
}

export type WorkflowAction =
  { kind: 'approve' | 'reject'; step: string; by: string; comment?: string } | { kind: 'cancel'; by: string };

/** A step's new round: the engine submits its task (keyed stepTaskKey) and appends the task's id. */
export interface StepRelease {
  step: string;
  round: number;
  spec: StepSpec;
  context: WorkflowTaskContext;
}

export interface WorkflowPlan {
  state: WorkflowState;
  error: StepError | null;
  finishedAt: number | null;
  /** The steps that changed, whole; a released step's record lacks its new task id until the engine adds it. */
  steps: StepRecord[];
  releases: StepRelease[];
  events: NewWorkflowEvent[];
  /** Running tasks to ask to cancel (the workflow failed or was cancelled). */
  cancelTasks: string[];
}

const GATE_RESULT_RULE = "a gate's result must be { approved: boolean, feedback?: any }";

/** The next change, or null when nothing changes. ConflictError when the action does not apply. */
export function planWorkflow(
  wf: WorkflowRecord,
  outcomes: ReadonlyMap<string, StepTaskOutcome>,
  now: number,
  action?: WorkflowAction,
): WorkflowPlan | null {
  return new Planner(wf, now).plan(outcomes, action);
}

class Planner {
  private readonly specs: Map<string, StepSpec>;
  private readonly steps: Map<string, StepRecord>;
  private readonly graph: WorkflowGraph;
  private readonly changed = new Set<string>();
  private readonly events: NewWorkflowEvent[] = [];
  private readonly releases: StepRelease[] = [];
  private readonly cancelTasks: string[] = [];
  private state: WorkflowState;
  private error: StepError | null;
  private finishedAt: number | null;

  constructor(
    private readonly wf: WorkflowRecord,
    private readonly now: number,
  ) {
    this.specs = new Map(wf.spec.map((s) => [s.id, s]));
    this.steps = new Map(wf.steps.map((s) => [s.id, { ...s, taskIds: [...s.taskIds] }]));
    this.graph = workflowGraph(wf.spec);
    this.state = wf.state;
    this.error = wf.error;
    this.finishedAt = wf.finishedAt;
  }

  plan(outcomes: ReadonlyMap<string, StepTaskOutcome>, action?: WorkflowAction): WorkflowPlan | null {
    const stateBefore = this.state;
    if (action) this.act(action);
    for (const step of this.wf.spec) {
      const record = this.step(step.id);
      const taskId = record.taskIds[record.taskIds.length - 1];
      const outcome = taskId === undefined ? undefined : outcomes.get(taskId);
      if (record.state === 'running' && outcome && TERMINAL_STATUSES.has(outcome.status)) {
        this.record(step, record, outcome);
      }
    }
    if (!this.finished()) this.release();
    if (!this.finished()) this.settle(stateBefore);
    if (this.changed.size === 0 && this.state === stateBefore && this.events.length === 0) return null;
    return {
      state: this.state,
      error: this.error,
      finishedAt: this.finishedAt,
      steps: this.wf.spec.filter((s) => this.changed.has(s.id)).map((s) => this.step(s.id)),
      releases: this.releases,
      events: this.events,
      cancelTasks: this.cancelTasks,
    };
  }

  private step(id: string): StepRecord {
    const s = this.steps.get(id);
    if (!s) throw new Error(`workflow ${this.wf.id} has no step ${id}`);
    return s;
  }

  private finished(): boolean {
    return TERMINAL_WORKFLOW_STATES.has(this.state);
  }

  private set(id: string, change: Partial<StepRecord>): void {
    Object.assign(this.step(id), change, { updatedAt: this.now });
    this.changed.add(id);
  }

  private event(kind: NewWorkflowEvent['kind'], step: string | null, data?: unknown): void {
    const round = step === null ? null : this.step(step).round;
    this.events.push({ at: this.now, kind, step, round, data: data ?? null });
  }

  // ---- a person's action

  private act(action: WorkflowAction): void {
    if (action.kind === 'cancel') {
      if (this.finished()) throw new ConflictError(`workflow ${this.wf.id} is ${this.state} already`);
      this.end('cancelled', null, { by: action.by });
      return;
    }
    const spec = this.specs.get(action.step);
    const record = spec && this.step(spec.id);
    if (!spec || !record) throw new ConflictError(`workflow ${this.wf.id} has no step ${action.step}`);
    if (record.state !== 'waiting_approval') {
      throw new ConflictError(`step ${spec.id} of workflow ${this.wf.id} is ${record.state}, not waiting for approval`);
    }
    const decision = { approved: action.kind === 'approve', by: action.by, comment: action.comment ?? null };
    if (action.kind === 'approve') {
      this.set(spec.id, { state: 'succeeded', result: decision, error: null });
      this.event('step_approved', spec.id, decision);
    } else {
      const why = action.comment ? `: ${action.comment}` : '';
      this.set(spec.id, {
        state: 'failed',
        result: decision,
        error: { kind: 'rejected', message: `rejected by ${action.by}${why}` },
      });
      this.event('step_rejected', spec.id, decision);
      this.failed(spec);
    }
  }

  // ---- a task's outcome

  private record(spec: StepSpec, record: StepRecord, outcome: StepTaskOutcome): void {
    if (outcome.status !== 'succeeded') {
      const cancelled = outcome.status === 'cancelled' && this.finished();
      const error: StepError = outcome.error
        ? { kind: outcome.error.kind, message: outcome.error.message }
        : { kind: outcome.status, message: `its task was ${outcome.status}` };
      this.set(spec.id, { state: cancelled ? 'cancelled' : 'failed', result: null, error });
      this.event(cancelled ? 'step_cancelled' : 'step_failed', spec.id, { error });
      if (!cancelled) this.failed(spec);
      return;
    }
    if (spec.validates === undefined) {
      this.set(spec.id, { state: 'succeeded', result: outcome.result, error: null });
      this.event('step_succeeded', spec.id);
      return;
    }
    const verdict = gateVerdict(outcome.result);
    if (!verdict) {
      const error = { kind: 'gate_result', message: GATE_RESULT_RULE };
      this.set(spec.id, { state: 'failed', result: outcome.result, error });
      this.event('step_failed', spec.id, { error });
      this.failed(spec);
      return;
    }
    if (verdict.approved) {
      this.set(spec.id, { state: 'succeeded', result: outcome.result, error: null });
      this.event('step_succeeded', spec.id, { approved: true });
      return;
    }
    this.rejected(spec, outcome.result, verdict.feedback);
  }

  /** A gate rejected its step's round: send the step back, or, with the rounds spent, fail or ask a person. */
  private rejected(gate: StepSpec, result: unknown, feedback: unknown): void {
    const target = this.step(gate.validates!);
    this.event('gate_rejected', gate.id, { validates: target.id, round: target.round, feedback: feedback ?? null });
    if (this.finished()) {
      this.set(gate.id, { state: 'cancelled', result, error: null });
      return;
    }
    if (target.round < gate.maxRounds) {
      this.set(gate.id, { state: 'pending', result, error: null });
      this.set(target.id, { state: 'pending', feedback: feedback ?? null });
      // The steps between the gated step and the gate run again on its next round's result.
      for (const id of this.graph.loops.get(gate.id) ?? []) this.set(id, { state: 'pending' });
      return;
    }
    if (gate.onExhausted === 'approval') {
      this.set(gate.id, { state: 'waiting_approval', result, error: null });
      this.event('step_waiting_approval', gate.id, { exhausted: true, feedback: feedback ?? null });
      return;
    }
    const error = {
      kind: 'rounds_exhausted',
      message: `step ${target.id} was rejected in all ${gate.maxRounds} rounds`,
    };
    this.set(gate.id, { state: 'failed', result, error });
    this.event('step_failed', gate.id, { error });
    this.failed(gate);
  }

  /** A step failed: with `onFailure: fail` (and the workflow still going), the workflow fails. */
  private failed(spec: StepSpec): void {
    if (spec.onFailure === 'continue' || this.finished()) return;
    const error = this.step(spec.id).error;
    this.end('failed', { kind: 'step_failed', message: `step ${spec.id} failed: ${error?.message ?? 'unknown'}` });
  }

  /** The workflow ends: the steps not started are cancelled, the running ones asked to cancel. */
  private end(state: 'failed' | 'cancelled', error: StepError | null, data?: unknown): void {
    this.state = state;
    this.error = error;
    this.finishedAt = this.now;
    for (const spec of this.wf.spec) {
      const record = this.step(spec.id);
      if (record.state === 'pending' || record.state === 'waiting_approval') {
        this.set(spec.id, { state: 'cancelled' });
        this.event('step_cancelled', spec.id);
      } else if (record.state === 'running') {
        const taskId = record.taskIds[record.taskIds.length - 1];
        if (taskId !== undefined) this.cancelTasks.push(taskId);
      }
    }
    this.event(state, null, error ? { error, ...(data ?? {}) } : (data ?? null));
  }

  // ---- releases and the workflow's state

  /** Every pending step whose dependencies are done starts: a task's next round, or a wait for a person. */
  private release(): void {
    for (const spec of this.wf.spec) {
      const record = this.step(spec.id);
      if (record.state !== 'pending') continue;
      if (!(this.graph.deps.get(spec.id) ?? []).every((d) => this.done(d))) continue;
      if (spec.approval) {
        this.set(spec.id, { state: 'waiting_approval', round: record.round + 1 });
        this.event('step_waiting_approval', spec.id, { role: spec.approval.role, note: spec.approval.note ?? null });
        continue;
      }
      const round = record.round + 1;
      this.set(spec.id, { state: 'running', round, result: null, error: null });
      this.releases.push({ step: spec.id, round, spec, context: this.contextOf(spec, round) });
      this.event('step_released', spec.id);
    }
  }

  /** Succeeded, or failed with `onFailure: continue`: what lets the steps after it start. */
  private done(id: string): boolean {
    const record = this.step(id);
    return record.state === 'succeeded' || (record.state === 'failed' && this.specs.get(id)?.onFailure === 'continue');
  }

  private contextOf(spec: StepSpec, round: number): WorkflowTaskContext {
    const inputs: Record<string, unknown> = {};
    const failed: Record<string, StepError> = {};
    const from = spec.validates === undefined ? spec.needs : [...spec.needs, spec.validates];
    for (const id of from) {
      const record = this.step(id);
      if (record.state === 'succeeded') inputs[id] = record.result;
      else if (record.error) failed[id] = record.error;
    }
    const feedback = this.step(spec.id).feedback;
    return {
      id: this.wf.id,
      step: spec.id,
      round,
      inputs,
      ...(Object.keys(failed).length > 0 ? { failed } : {}),
      ...(round > 1 && feedback !== null && feedback !== undefined ? { feedback } : {}),
    };
  }

  private settle(stateBefore: WorkflowState): void {
    const records = [...this.steps.values()];
    if (records.every((r) => r.state === 'succeeded' || r.state === 'failed' || r.state === 'cancelled')) {
      this.state = 'succeeded';
      this.finishedAt = this.now;
      this.event('succeeded', null);
      return;
    }
    const waiting = records.some((r) => r.state === 'waiting_approval');
    const running = records.some((r) => r.state === 'running');
    this.state = waiting && !running ? 'waiting_approval' : 'running';
    if (this.state === 'waiting_approval' && stateBefore !== 'waiting_approval') {
      this.event('waiting_approval', null, {
        steps: records.filter((r) => r.state === 'waiting_approval').map((r) => r.id),
      });
    }
  }
}

/** A gate's result as a verdict, or null when it is not `{ approved: boolean, feedback? }`. */
function gateVerdict(result: unknown): { approved: boolean; feedback: unknown } | null {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return null;
  const r = result as Record<string, unknown>;
  if (typeof r.approved !== 'boolean') return null;
  return { approved: r.approved, feedback: r.feedback };
}
