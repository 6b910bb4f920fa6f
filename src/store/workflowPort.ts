/**
 * The workflow part of the store port (src/store/port.ts `Store` extends it): workflows, the state of their
 * steps, and their event log (src/domain/workflow.ts). Same rules as the rest of the port: the caller plans
 * every change (src/domain/workflowPlan.ts), the store applies it whole and only at the version it was planned
 * from; epoch milliseconds. A step's tasks are ordinary tasks (insertTasks), keyed per (workflow, step, round).
 */
import type {
  NewWorkflowEvent,
  StepError,
  StepRecord,
  WorkflowEvent,
  WorkflowEventKind,
  WorkflowRecord,
  WorkflowState,
  WorkflowSummary,
  StepSpec,
} from '../domain/workflow';

export interface NewWorkflow {
  id: string;
  name: string | null;
  submittedBy: string | null;
  /** Scoped to the caller by the service; unique among workflows. */
  idempotencyKey: string | null;
  requestHash: string | null;
  spec: StepSpec[];
  createdAt: number;
}

/**
 * One planned change of a workflow: its new state, the steps that changed (whole), the events to append. The
 * store applies it in one transaction when the workflow's version is still `expectedVersion`, bumping it and
 * setting `dirty` as given.
 */
export interface WorkflowChange {
  workflowId: string;
  expectedVersion: number;
  state: WorkflowState;
  error: StepError | null;
  finishedAt: number | null;
  steps: StepRecord[];
  events: NewWorkflowEvent[];
  /**
   * Whether the workflow needs another pass after this change: true for a person's decision or a cancel (the
   * engine's pass that follows releases what they unblock, and a crash before it leaves the mark), false for
   * the engine's own pass.
   */
  dirty: boolean;
  now: number;
}

export interface WorkflowFilter {
  state?: WorkflowState;
  /** Only the workflows this API key submitted. */
  submittedBy?: string;
  /** Keyset: ids lower than this (ids sort by creation time; newest first). */
  beforeId?: string;
  limit: number;
}

export interface WorkflowStore {
  /**
   * Inserts a workflow with every step `pending` at round 0, `dirty` (its first steps are not released yet) and
   * a `submitted` event, in one transaction. A workflow whose idempotency key exists is answered as stored
   * (`created: false`) when the request hash matches; another hash throws ConflictError.
   */
  insertWorkflow(workflow: NewWorkflow): Promise<{ workflow: WorkflowRecord; created: boolean }>;
  getWorkflow(id: string): Promise<WorkflowRecord | null>;
  /** Newest first. */
  listWorkflows(filter: WorkflowFilter): Promise<WorkflowSummary[]>;
  /** A workflow's events with seq > afterSeq, oldest first. */
  listWorkflowEvents(opts: { workflowId: string; afterSeq: number; limit: number }): Promise<WorkflowEvent[]>;
  /** Every workflow's events of these kinds with afterSeq < seq <= upToSeq, oldest first (the webhook outbox). */
  listWorkflowEventsOfKinds(opts: {
    afterSeq: number;
    upToSeq: number;
    kinds: readonly WorkflowEventKind[];
    limit: number;
  }): Promise<WorkflowEvent[]>;
  /** The seq of the newest workflow event, 0 when there is none. */
  lastWorkflowEventSeq(): Promise<number>;
  /** Applies the change (see WorkflowChange); false, writing nothing, when the version moved on or it is gone. */
  applyWorkflowChange(change: WorkflowChange): Promise<boolean>;
  /**
   * Workflows that need a pass: `dirty` ones not finished, and any with a `running` step whose current task is
   * terminal (succeeded, dead, cancelled, expired). At most `limit` ids.
   */
  listWorkflowsToAdvance(limit: number): Promise<string[]>;
  /** Deletes up to `limit` finished workflows (with their steps and events) finished before `before`. */
  purgeWorkflows(before: number, limit: number): Promise<number>;
}
