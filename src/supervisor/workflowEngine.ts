/**
 * The workflow engine: moves each workflow on when one of its steps' tasks ends or a person decides.
 *
 * Order of work for a pass of one workflow (the scheduler's, for the same reasons): read the workflow and its
 * running steps' tasks → plan (src/domain/workflowPlan.ts) → submit each released step's task, keyed
 * (workflow, step, round) → apply the plan at the version it was read at → enqueue the new tasks and ask the
 * tasks of a failed or cancelled workflow to cancel. Two supervisors planning the same pass submit the same
 * keys, so they get the same tasks, and only one apply wins; the other reads again and finds nothing to do. A
 * supervisor that dies between its submit and its apply leaves the workflow as it was: the next pass submits
 * the same keys again, gets the same tasks, and applies. A step's result is recorded by the one apply that
 * moves the step out of `running`, so it is recorded once.
 *
 * When: at once when a step's task rings (the task doorbell, heard through TaskWatcher.onRing, for the tasks
 * this supervisor released or has seen running), and every PASS_MS (a supervisor loop) for whatever the store
 * lists as needing a pass (a new workflow not yet released, a step whose task ended while no supervisor heard).
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { ConflictError } from '../domain/errors';
import { TERMINAL_STATUSES, type TaskRecord } from '../domain/task';
import { stepTaskKey, type WorkflowRecord } from '../domain/workflow';
import { planWorkflow, type StepTaskOutcome, type WorkflowAction, type WorkflowPlan } from '../domain/workflowPlan';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import type { Store } from '../store/port';
import { childOf, formatTraceparent, newTrace } from '../telemetry/traceparent';
import { newTaskOf } from './newTask';

/** How often the store is asked which workflows need a pass. */
export const PASS_MS = 1000;
/** How many times a pass reads again after losing its apply to another writer. */
const MAX_TRIES = 8;
const PASS_BATCH = 200;
/** Tasks remembered as some workflow's step (the doorbell's fast path); older ones wait for the periodic pass. */
const KNOWN_TASKS = 100_000;

export interface WorkflowEngineDeps {
  store: Store;
  dispatcher: Pick<Dispatcher, 'send' | 'redis' | 'prefix'>;
  clock: Clock;
  log: Logger;
  defaultMaxAttempts: number;
}

export class WorkflowEngine {
  private readonly due = new Set<string>();
  /** Queued because the store listed them: a pass with nothing to do clears their `dirty` mark. */
  private readonly listed = new Set<string>();
  private draining: Promise<void> | null = null;
  private readonly stepTasks = new Map<string, string>();
  private readonly changeListeners = new Set<(workflowId: string) => void>();
  private stopped = false;

  constructor(private readonly d: WorkflowEngineDeps) {}

  /** The periodic pass (a supervisor loop, every PASS_MS): every workflow the store lists as needing one. */
  async pass(): Promise<void> {
    for (const id of await this.d.store.listWorkflowsToAdvance(PASS_BATCH)) this.enqueue(id, true);
    await this.draining;
  }

  /** Ends the passes under way (the supervisor stops). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.draining?.catch(() => undefined);
  }

  /** Tasks rang: the workflows of the known ones get a pass now. */
  tasksRang(taskIds: readonly string[]): void {
    for (const id of taskIds) {
      const workflowId = this.stepTasks.get(id);
      if (workflowId !== undefined) this.enqueue(workflowId);
    }
  }

  /** Hears each change a pass applied here (the events stream wakes on it); returns the unsubscribe. */
  onChange(listener: (workflowId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Queues a workflow for a pass (one pass at a time; a workflow queued twice meanwhile gets one). */
  enqueue(workflowId: string, listed = false): void {
    if (this.stopped) return;
    if (listed) this.listed.add(workflowId);
    this.due.add(workflowId);
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = (async () => {
      for (let id = first(this.due); id !== undefined && !this.stopped; id = first(this.due)) {
        this.due.delete(id);
        const listed = this.listed.delete(id);
        await this.advance(id, undefined, listed).catch((err: unknown) =>
          this.d.log.warn({ err, workflowId: id }, 'workflow pass failed; the next pass tries again'),
        );
      }
    })().finally(() => (this.draining = null));
  }

  /**
   * One pass of a workflow, with a person's action when given (ConflictError when it does not apply). Answers
   * the workflow as this pass left it, or null when it does not exist.
   */
  async advance(workflowId: string, action?: WorkflowAction, listed = false): Promise<WorkflowRecord | null> {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const wf = await this.d.store.getWorkflow(workflowId);
      if (!wf) return null;
      const now = this.d.clock.now();
      const plan = planWorkflow(wf, await this.outcomesOf(wf), now, action);
      if (!plan) {
        // Listed as dirty with nothing to do (a pass that crashed after its apply): clear the mark.
        if (!listed) return wf;
        await this.d.store.applyWorkflowChange({
          workflowId,
          expectedVersion: wf.version,
          state: wf.state,
          error: wf.error,
          finishedAt: wf.finishedAt,
          steps: [],
          events: [],
          dirty: false,
          now,
        });
        return wf;
      }
      const created = await this.submitReleases(wf, plan, now);
      const applied = await this.d.store.applyWorkflowChange({
        workflowId,
        expectedVersion: wf.version,
        state: plan.state,
        error: plan.error,
        finishedAt: plan.finishedAt,
        steps: plan.steps,
        events: plan.events,
        dirty: false,
        now,
      });
      if (!applied) continue;
      await this.afterApply(workflowId, plan, created, now);
      return afterPlan(wf, plan, now);
    }
    throw new ConflictError(`workflow ${workflowId} changed under ${MAX_TRIES} passes in a row; try again`);
  }

  /** The tasks of the running steps, read to see which ended. */
  private async outcomesOf(wf: WorkflowRecord): Promise<Map<string, StepTaskOutcome>> {
    const out = new Map<string, StepTaskOutcome>();
    for (const step of wf.steps) {
      const taskId = step.taskIds[step.taskIds.length - 1];
      if (step.state !== 'running' || taskId === undefined) continue;
      this.remember(taskId, wf.id);
      const task = await this.d.store.getTask(taskId);
      if (task) out.set(taskId, { status: task.status, result: task.result, error: task.error });
      // An ended task rings no more: its entry would only take room.
      if (task && TERMINAL_STATUSES.has(task.status)) this.stepTasks.delete(taskId);
    }
    return out;
  }

  /**
   * Submits the released steps' tasks, keyed per (workflow, step, round), and writes each task's id into its
   * step and `step_released` event. Answers the tasks this call created (a replayed key answers the task a
   * previous pass created, already enqueued or left to the dispatch reconciler).
   */
  private async submitReleases(wf: WorkflowRecord, plan: WorkflowPlan, now: number): Promise<TaskRecord[]> {
    if (plan.releases.length === 0) return [];
    const tasks = plan.releases.map((r) => {
      const task = newTaskOf(r.spec.task!, {
        now,
        defaultMaxAttempts: this.d.defaultMaxAttempts,
        idempotency: { key: stepTaskKey(wf.id, r.step, r.round), hash: null },
        submittedBy: wf.submittedBy,
        workflow: r.context,
      });
      task.traceParent = formatTraceparent(childOf(newTrace()));
      return task;
    });
    const outcomes = await this.d.store.insertTasks(tasks);
    plan.releases.forEach((r, i) => {
      const taskId = outcomes[i]!.task.id;
      plan.steps.find((s) => s.id === r.step)!.taskIds.push(taskId);
      const event = plan.events.find((e) => e.kind === 'step_released' && e.step === r.step);
      if (event) event.data = { taskId };
    });
    return outcomes.filter((o) => o.created).map((o) => o.task);
  }

  private async afterApply(workflowId: string, plan: WorkflowPlan, created: TaskRecord[], now: number) {
    for (const s of plan.steps) {
      const taskId = s.taskIds[s.taskIds.length - 1];
      if (s.state === 'running' && taskId !== undefined) this.remember(taskId, workflowId);
    }
    if (created.length > 0) {
      await this.d.dispatcher.send(created, now).catch((err: unknown) => {
        this.d.log.warn({ err, workflowId }, 'enqueue failed after commit; the reconciler will re-send');
      });
    }
    for (const taskId of plan.cancelTasks) {
      const { outcome } = await this.d.store.requestCancel(taskId, now);
      if (outcome === 'cancelled' || outcome === 'requested') {
        notifyTaskChanged(this.d.dispatcher.redis, this.d.dispatcher.prefix, taskId);
      }
    }
    for (const l of this.changeListeners) l(workflowId);
  }

  private remember(taskId: string, workflowId: string): void {
    this.stepTasks.set(taskId, workflowId);
    if (this.stepTasks.size > KNOWN_TASKS) this.stepTasks.delete(first(this.stepTasks.keys())!);
  }
}

/** The workflow as the apply of `plan` left it (what a read would answer, without the read). */
function afterPlan(wf: WorkflowRecord, plan: WorkflowPlan, now: number): WorkflowRecord {
  const changed = new Map(plan.steps.map((s) => [s.id, s]));
  return {
    ...wf,
    state: plan.state,
    error: plan.error,
    finishedAt: plan.finishedAt,
    version: wf.version + 1,
    updatedAt: now,
    steps: wf.steps.map((s) => changed.get(s.id) ?? s),
  };
}

function first<T>(values: Iterable<T>): T | undefined {
  for (const v of values) return v;
  return undefined;
}
