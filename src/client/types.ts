/**
 * What the client sends and receives, derived from the server's own code: submissions from the zod schema the
 * route validates with, answers from the view functions that write them (as JSON: `undefined` fields are
 * left out, so they are optional here). Type-only imports: the client loads none of the server at run time.
 */
import type { z } from 'zod';
import type { taskSubmissionSchema } from '../domain/submission';
import type { TaskEventKind, TaskStatus } from '../domain/task';
import type { agentView, taskEventView, taskView } from '../supervisor/views';

/** An object as `JSON.stringify` writes it: a field whose value may be `undefined` may be absent. */
export type Jsonified<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** The body of `POST /v1/tasks` (and each task of a batch). */
export type TaskSubmission = z.input<typeof taskSubmissionSchema>;

/** A task as the API answers it. */
export type TaskView = Jsonified<ReturnType<typeof taskView>> & { submittedBy?: string };

export type TaskEventView = Jsonified<ReturnType<typeof taskEventView>>;
export type AgentView = Jsonified<ReturnType<typeof agentView>>;

/** `PATCH /v1/agents/:id`: what to change (at least one field). */
export interface AgentSettings {
  /** Slots, 1 to 1000; null returns the agent to the concurrency it registered with. */
  concurrency?: number | null;
  /** The complete list of task types the agent must stop serving (an empty list enables them all). */
  disabledTypes?: string[];
}

export interface ListFilter {
  status?: TaskStatus;
  type?: string;
  capability?: string;
  /** Tasks per page (1 to 500; the server's default is 50). */
  pageSize?: number;
}

export interface TaskPage {
  tasks: TaskView[];
  nextCursor?: string;
}

export interface CancelAnswer {
  /** `already_terminal` when the task had ended (answered 409, not an error: the task is returned). */
  outcome: string;
  task: TaskView;
}

export interface LogLine {
  at: string;
  level: 'info' | 'warn' | 'error' | 'debug';
  message: string;
  fields?: Record<string, unknown>;
}

/** `GET /v1/tasks/:id/logs`: the lines kept for one attempt, and what the cap dropped. */
export interface TaskLogs {
  taskId: string;
  attempt: number;
  lines: LogLine[];
  dropped: { lines: number; bytes: number };
}

export interface ProgressUpdate {
  taskId: string;
  progress: number | Record<string, unknown> | null;
  progressAt: string | null;
}

/** One message of a task's event stream: a stored event (with its sequence number) or a progress update. */
export type TaskStreamItem =
  { kind: 'event'; seq: number; event: TaskEventView } | { kind: 'progress'; progress: ProgressUpdate };

export type { TaskEventKind, TaskStatus };
