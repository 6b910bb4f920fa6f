/**
 * The whole handler-facing API. A handler module imports this file and nothing else from the runtime.
 *
 *   export default defineHandler({
 *     type: 'resize-image',
 *     capabilities: ['imagemagick'],          // a worker loads it only when it has these
 *     input: z.object({ url: z.url() }),
 *     timeoutSeconds: 60,
 *     async run(input, ctx) { ...; return { ok: true }; },
 *   });
 */
import type { z } from 'zod';
import type { TaskLogLevel } from '../../src/domain/taskLog';
import type { WorkflowTaskContext } from '../../src/domain/workflow';

/** Writes one line at a level; `fields` is a small JSON object kept with it. */
export type TaskLogFn = (message: string, fields?: Record<string, unknown>) => void;

/** `ctx.log(message, fields?)` writes at `info`; `ctx.log.warn(...)` and the others at their level. */
export interface TaskLogger extends TaskLogFn {
  debug: TaskLogFn;
  info: TaskLogFn;
  warn: TaskLogFn;
  error: TaskLogFn;
}

/** A TaskLogger over one writer (the runtime's; a test's). */
export function taskLogger(write: (level: TaskLogLevel, message: string, fields?: Record<string, unknown>) => void) {
  const at =
    (level: TaskLogLevel): TaskLogFn =>
    (message: unknown, fields?: unknown) => {
      // pino's order (fields, message), as handlers written when ctx.log was a pino Logger call it.
      if (typeof message === 'object' && message !== null && typeof fields === 'string') {
        write(level, fields, message as Record<string, unknown>);
      } else write(level, String(message), fields as Record<string, unknown> | undefined);
    };
  return Object.assign(at('info'), { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') });
}

export interface TaskContext {
  taskId: string;
  /** 1 for the first run; the fencing token of this run. */
  attempt: number;
  maxAttempts: number;
  /**
   * For a workflow step's task: the workflow's id, the step, its round, the results of the steps it needs
   * (`inputs`), and the feedback of the gate that sent it back. Absent for a task outside any workflow.
   */
  workflow?: WorkflowTaskContext;
  /** Aborted on timeout, cancellation, a lost lease or a drain that ran out of time. Pass it on to I/O. */
  signal: AbortSignal;
  /**
   * The attempt's log, kept in SQL and read with `GET /v1/tasks/:id/logs?attempt=N` (and written to the worker's
   * log as well, with agent, task and attempt ids). Best effort, never throws: lines are sent in small batches;
   * an attempt keeps at most 200 lines or 64 KiB (the rest is counted as dropped); a message is cut at 4000
   * characters. Nothing is kept for a sensitive task.
   */
  log: TaskLogger;
  /**
   * Reports progress (a number 0..100 or a small object), shown as the task's `progress`; best effort, never
   * throws. Written at most once a second (the last value always lands, before the outcome). A value that is
   * not JSON as it is, or over 16 KiB of it, is dropped with a warning. Not kept for a sensitive task.
   */
  progress(value: number | object): void;
}

export interface TaskHandler<I = unknown, O = unknown> {
  type: string;
  /** Capabilities a worker needs to run this handler (beyond the task's own requirements). */
  capabilities?: string[];
  input: z.ZodType<I>;
  output?: z.ZodType<O>;
  /** Default time limit; a task's own `timeoutSeconds` overrides it. */
  timeoutSeconds?: number;
  run(input: I, ctx: TaskContext): Promise<O>;
}

/** A handler of any input and output, as registries hold them (their types differ per handler). */
export type AnyTaskHandler = TaskHandler<any, any>;

export function defineHandler<I, O>(handler: TaskHandler<I, O>): TaskHandler<I, O> {
  return handler;
}

/** Throw this from a handler for a failure that retrying cannot fix: the task goes to `dead` at once. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}
