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
import type { Logger } from 'pino';
import type { z } from 'zod';

export interface TaskContext {
  taskId: string;
  /** 1 for the first run; the fencing token of this run. */
  attempt: number;
  maxAttempts: number;
  /** Aborted on timeout, cancellation, a lost lease or a drain that ran out of time. Pass it on to I/O. */
  signal: AbortSignal;
  /** Scoped to the task: agent, task and attempt ids are on every line. */
  log: Logger;
  /**
   * Reports progress (a number 0..100 or a small object); best effort, never throws. A value that is not JSON
   * as it is, or over 16 KiB of it, is dropped with a warning in the task's log.
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
