/** Workflow rows of both adapters and their mapping to the records of src/domain/workflow.ts (see rowMapping.ts). */
import type {
  StepError,
  StepRecord,
  StepSpec,
  StepState,
  WorkflowEvent,
  WorkflowEventKind,
  WorkflowRecord,
  WorkflowState,
  WorkflowSummary,
} from '../domain/workflow';
import { fromJson, optional, type ColumnTypes } from './rowMapping';

export interface WorkflowRowOf<Time, Flag> {
  id: string;
  name: string | null;
  state: string;
  version: number;
  dirty: Flag;
  submitted_by: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  spec: string;
  error: string | null;
  created_at: Time;
  updated_at: Time;
  finished_at: Time | null;
}

/** What the list statements answer: the row without its spec, with the number of its steps. */
export type WorkflowSummaryRowOf<Time, Flag> = Omit<WorkflowRowOf<Time, Flag>, 'spec'> & { step_count: number };

export interface WorkflowStepRowOf<Time> {
  workflow_id: string;
  step_id: string;
  ord: number;
  state: string;
  round: number;
  task_id: string | null;
  task_ids: string;
  result: string | null;
  error: string | null;
  feedback: string | null;
  updated_at: Time;
}

export interface WorkflowEventRowOf<Time, Seq> {
  seq: Seq;
  workflow_id: string;
  at: Time;
  kind: string;
  step_id: string | null;
  round: number | null;
  data: string | null;
}

/** JSON text for a nullable JSON column: null (and undefined) are stored as SQL NULL, read back as null. */
export function nullableJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A step's columns as both adapters write them (task_id is the latest round's task). */
export function stepParams(step: StepRecord) {
  return {
    stepId: step.id,
    state: step.state,
    round: step.round,
    taskId: step.taskIds.length === 0 ? null : (step.taskIds[step.taskIds.length - 1] ?? null),
    taskIds: JSON.stringify(step.taskIds),
    result: nullableJson(step.result),
    error: nullableJson(step.error),
    feedback: nullableJson(step.feedback),
    updatedAt: step.updatedAt,
  };
}

export function workflowMappers<Time, Flag, Seq>(c: ColumnTypes<Time, Flag, Seq>) {
  const head = (row: Omit<WorkflowRowOf<Time, Flag>, 'spec'>) => ({
    id: row.id,
    name: row.name,
    state: row.state as WorkflowState,
    version: row.version,
    submittedBy: row.submitted_by,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    error: fromJson<StepError>(row.error),
    createdAt: c.time(row.created_at),
    updatedAt: c.time(row.updated_at),
    finishedAt: optional(c, row.finished_at),
  });
  const toStep = (row: WorkflowStepRowOf<Time>): StepRecord => ({
    id: row.step_id,
    state: row.state as StepState,
    round: row.round,
    taskIds: JSON.parse(row.task_ids) as string[],
    result: fromJson<unknown>(row.result),
    error: fromJson<StepError>(row.error),
    feedback: fromJson<unknown>(row.feedback),
    updatedAt: c.time(row.updated_at),
  });
  return {
    /** The record from its row and its step rows (in `ord` order). */
    toWorkflow: (row: WorkflowRowOf<Time, Flag>, steps: Array<WorkflowStepRowOf<Time>>): WorkflowRecord => ({
      ...head(row),
      spec: JSON.parse(row.spec) as StepSpec[],
      steps: steps.map(toStep),
    }),
    toSummary: (row: WorkflowSummaryRowOf<Time, Flag>): WorkflowSummary => ({
      ...head(row),
      stepCount: row.step_count,
    }),
    toStep,
    toEvent: (row: WorkflowEventRowOf<Time, Seq>): WorkflowEvent => ({
      seq: c.seq(row.seq),
      workflowId: row.workflow_id,
      at: c.time(row.at),
      kind: row.kind as WorkflowEventKind,
      step: row.step_id,
      round: row.round,
      data: fromJson<unknown>(row.data),
    }),
  };
}
