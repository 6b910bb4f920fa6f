/**
 * Workflows: a graph of steps submitted in one call, each step an ordinary task (or a person's approval), run in
 * the order of its `needs`, with gates that send a step back with feedback until they approve.
 *
 * Words: a step's `round` counts its runs (1 for the first; a gate's rejection sends the validated step to the
 * next round). A step is `released` when its round's task is submitted. The workflow's `version` is bumped by
 * every change the store applies, and every change is conditional on the version it was planned from.
 */
import type { TaskSubmission } from './submission';

export const WORKFLOW_STATES = ['running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];
export const TERMINAL_WORKFLOW_STATES: ReadonlySet<WorkflowState> = new Set(['succeeded', 'failed', 'cancelled']);

export const STEP_STATES = ['pending', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'] as const;
export type StepState = (typeof STEP_STATES)[number];
export const TERMINAL_STEP_STATES: ReadonlySet<StepState> = new Set(['succeeded', 'failed', 'cancelled']);

/** The most steps one workflow may have. */
export const MAX_WORKFLOW_STEPS = 200;
export const DEFAULT_MAX_ROUNDS = 3;

/** A step as submitted (defaults applied): a task or an approval, never both. */
export interface StepSpec {
  id: string;
  task?: TaskSubmission;
  /** Who may decide: 'submitter' (the default: an admin or the workflow's submitter) or 'admin' (admins only). */
  approval?: { role: 'admin' | 'submitter'; note?: string };
  needs: string[];
  /** This step is a gate for that step. */
  validates?: string;
  /** For a gate: how many rounds the validated step may run in all. */
  maxRounds: number;
  /** For a gate whose rounds are spent: fail the workflow, or wait for a person. */
  onExhausted: 'fail' | 'approval';
  onFailure: 'fail' | 'continue';
}

/** An error as a step records it: its task's error, or why the workflow failed it. */
export interface StepError {
  message: string;
  kind: string;
}

export interface StepRecord {
  id: string;
  state: StepState;
  /** 0 before the first release; the round of the step's latest task after. */
  round: number;
  /** The task of each round, the first round first (an approval step has none). */
  taskIds: string[];
  /** The result of the latest round (for a gate: `{ approved, feedback? }`; for an approval: the decision). */
  result: unknown;
  error: StepError | null;
  /** The feedback the step's next or current round runs with (from its gate's rejection). */
  feedback: unknown;
  updatedAt: number;
}

export interface WorkflowRecord {
  id: string;
  name: string | null;
  state: WorkflowState;
  version: number;
  submittedBy: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** The steps as submitted, in submission order (defaults applied). */
  spec: StepSpec[];
  /** The state of each step, in the order of `spec`. */
  steps: StepRecord[];
  error: StepError | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** What a list answers per workflow: the record without its spec and steps. */
export type WorkflowSummary = Omit<WorkflowRecord, 'spec' | 'steps'> & { stepCount: number };

export const WORKFLOW_EVENT_KINDS = [
  'submitted',
  'step_released',
  'step_succeeded',
  'step_failed',
  'step_cancelled',
  'step_waiting_approval',
  'step_approved',
  'step_rejected',
  'gate_rejected',
  'waiting_approval',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type WorkflowEventKind = (typeof WORKFLOW_EVENT_KINDS)[number];

export interface WorkflowEvent {
  seq: number;
  workflowId: string;
  at: number;
  kind: WorkflowEventKind;
  step: string | null;
  round: number | null;
  data: unknown;
}

export type NewWorkflowEvent = Omit<WorkflowEvent, 'seq' | 'workflowId'>;

/**
 * What a step's task carries of its workflow (kept with the task, handed to the handler as `ctx.workflow` and
 * to an HTTP agent with the claimed task): the payload stays as submitted.
 */
export interface WorkflowTaskContext {
  id: string;
  step: string;
  round: number;
  /** The result of each needed step that succeeded (for a gate: the validated step's latest result too). */
  inputs: Record<string, unknown>;
  /** The errors of needed steps that failed with `onFailure: continue`. */
  failed?: Record<string, StepError>;
  /** The feedback of the gate that sent this step back (rounds after the first). */
  feedback?: unknown;
}

/** The idempotency key of a step's round: one task per (workflow, step, round), whoever releases it. */
export function stepTaskKey(workflowId: string, step: string, round: number): string {
  return `workflow:${workflowId}:${step}:${round}`;
}
