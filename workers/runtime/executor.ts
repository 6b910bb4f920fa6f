/**
 * Runs one dispatch: claim in SQL → run the handler under a renewed lease, a timeout and an AbortSignal →
 * record the outcome (outcomes.ts) with a write fenced by the attempt. A lost claim (another worker, a
 * cancelled task, a stale job) is simply acknowledged.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { boundedErrorMessage, serialiseResult } from '../../src/domain/result';
import type { DispatchRef, TaskRecord } from '../../src/domain/task';
import type { ClaimResult } from '../../src/store/port';
import { METRICS, type Telemetry } from '../../src/telemetry/telemetry';
import { parseTraceparent } from '../../src/telemetry/traceparent';
import { PermanentError, taskLogger, type TaskContext, type TaskHandler } from './context';
import { nextEvent, type WorkerEvents } from './lifecycle';
import { OutcomeRecorder, type AbortReason, type Outcome, type RecorderOptions, type TaskLog } from './outcomes';
import { withRetries } from './retry';
import { TaskReporter } from './taskReporter';

export type { AbortReason } from './outcomes';

export interface ExecutorOptions extends RecorderOptions {
  handlers: ReadonlyMap<string, TaskHandler<any, any>>;
  leaseMs: number;
  defaultTimeoutSeconds: number;
  /** Largest result, in bytes of JSON, a handler may return (TASKFLEET_RESULT_MAX_BYTES). */
  resultMaxBytes: number;
  /** Receives `task-started`, `task-finished` and `idle`. */
  events: WorkerEvents;
  /**
   * Whether the worker serves a task type now (an admin may disable types at run time). A task of a type it no
   * longer serves that it claims anyway (a doorbell sent before the change) is released unrun, and sent to be
   * placed again. Every type of `handlers`, when omitted.
   */
  serves?: (type: string) => boolean;
  /**
   * Told a task's id after this worker committed a change others may wait on: an outcome, an expiry, a progress
   * write (the event doorbell, src/dispatch/notify.ts).
   */
  notify?: (taskId: string) => void;
}

interface Running {
  taskId: string;
  attempt: number;
  abort: (reason: AbortReason) => void;
  log: TaskLog;
}

/** Progress is "a number 0..100 or a small object" (context.ts); more than this is dropped with a warning. */
export const MAX_PROGRESS_BYTES = 16 * 1024;

export class Executor {
  private readonly running = new Map<string, Running>();
  private readonly recorder: OutcomeRecorder;
  /** One timer renews every running lease (their renewals share a transaction), rather than one per task. */
  private renewer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ExecutorOptions) {
    this.recorder = new OutcomeRecorder(options);
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Resolves once no handler is running (at once when none is). */
  async whenIdle(): Promise<void> {
    if (this.running.size > 0) await nextEvent(this.options.events, 'idle');
  }

  /** Aborts every running handler (a drain that ran out of time, or a stop, hands the tasks back). */
  abortAll(reason: AbortReason): void {
    for (const r of this.running.values()) r.abort(reason);
  }

  /**
   * `refused` when the task is still queued for this dispatch but the registry refused this agent's claim
   * (it is held): the caller hands the job back for another worker.
   */
  async execute(msg: DispatchRef): Promise<'done' | 'refused'> {
    // The job carries the task's trace, so the claim itself is part of it too.
    return this.traced(msg.traceParent, () => this.claimAndRun(msg));
  }

  private get telemetry(): Telemetry {
    return this.options.telemetry;
  }

  private async claimAndRun(msg: DispatchRef): Promise<'done' | 'refused'> {
    const { store, agentId, clock } = this.options;
    const now = clock.now();
    const claim = await this.claim(msg, now);
    if (claim === null) return 'done';
    if (!claim.claimed) {
      const cur = claim.current;
      // Its route holds it (paused, open circuit, cap or rate): the route gate rings again when it allows.
      if (claim.routeHeld) return 'done';
      if (cur?.status === 'queued' && cur.attempt === msg.attempt) {
        if (cur.deadline === null || cur.deadline > now) return 'refused';
        if (await store.expireTask({ taskId: cur.id, attempt: cur.attempt, now })) this.options.notify?.(cur.id);
      }
      this.options.log.debug({ taskId: msg.taskId, attempt: msg.attempt, status: cur?.status }, 'dispatch not claimed');
      return 'done';
    }
    const task = claim.task;
    if (this.options.serves && !this.options.serves(task.type)) {
      this.options.log.info({ taskId: task.id, type: task.type }, 'claimed a task of a disabled type: released');
      await this.recorder.record(task, { kind: 'released' }, () => this.options.log);
      return 'done';
    }
    // No doorbell for a claim: it is on the hot path twice over (a publish here, a message to every supervisor),
    // and nothing waits on `started`; a stream shows it at the watcher's next read (TASKFLEET_WATCH_POLL_MS).
    // Everything reported from here on belongs to the task's trace (kept in SQL since its submit).
    await this.traced(task.traceParent ?? msg.traceParent, async () => {
      // Made on first use: most tasks log nothing below the configured level.
      let child: Logger | null = null;
      const log = () => (child ??= this.options.log.child({ taskId: task.id, attempt: task.attempt, type: task.type }));
      const waitMs = Math.max(0, now - task.notBefore);
      this.telemetry.taskEvent('TaskStarted', task, { agentId, waitMs });
      this.telemetry.metric(METRICS.dispatchLatencyMs, waitMs, { type: task.type });
      this.options.events.emit('task-started', task);
      const handler = this.options.handlers.get(task.type);
      const reporter = new TaskReporter({
        store,
        clock,
        taskId: task.id,
        attempt: task.attempt,
        sensitive: task.sensitive,
        log,
        notify: this.options.notify,
      });
      const outcome: Outcome = handler
        ? await this.run(task, handler, log, reporter)
        : { kind: 'failed', permanent: false, error: { kind: 'no_handler', message: `no handler for ${task.type}` } };
      // Written while the attempt still holds the task: once the outcome is recorded, the store refuses them.
      await reporter.finish(outcome.kind !== 'lease_lost');
      try {
        await this.recorder.record(task, outcome, log);
      } finally {
        this.options.events.emit('task-finished', task, outcome.kind);
      }
    });
    return 'done';
  }

  /**
   * Claims the dispatch, once. A claim is not safe to repeat: had one been applied with its answer lost, the
   * repeat would find the task running and the worker would drop a dispatch it holds, its attempt spent until
   * the lease expired. So a claim that threw reads the task back: running under this agent at the next
   * attempt, and not running here → it was applied, and runs. Otherwise (null) the dispatch is left to come
   * back: the job is acknowledged, its task is queued in SQL, and the reconciler sends it again.
   */
  private async claim(msg: DispatchRef, now: number): Promise<ClaimResult | null> {
    const { store, agentId } = this.options;
    try {
      return await store.claimTask({
        taskId: msg.taskId,
        attempt: msg.attempt,
        agentId,
        now,
        leaseMs: this.options.leaseMs,
      });
    } catch (err) {
      const task = await withRetries(() => store.getTask(msg.taskId), this.options.retry);
      if (
        task?.status === 'running' &&
        task.attempt === msg.attempt + 1 &&
        task.agentId === agentId &&
        !this.running.has(task.id)
      ) {
        this.options.log.warn({ err, taskId: task.id }, 'the claim threw after it was applied: running the task');
        return { claimed: true, task };
      }
      this.options.log.warn({ err, taskId: msg.taskId }, 'the claim failed; the dispatch is left to be sent again');
      return null;
    }
  }

  /**
   * Runs `fn` inside the task's trace when telemetry reports anywhere. Otherwise nothing would read the
   * trace, and entering it (AsyncLocalStorage) would slow every promise in the process for nothing.
   */
  private traced<T>(traceParent: string | undefined, fn: () => T): T {
    if (!this.telemetry.enabled) return fn();
    return this.telemetry.inTrace(parseTraceparent(traceParent), fn);
  }

  private async run(
    task: TaskRecord,
    handler: TaskHandler<any, any>,
    log: TaskLog,
    reporter: TaskReporter,
  ): Promise<Outcome> {
    const controller = new AbortController();
    let reason: AbortReason | null = null;
    const abort = (r: AbortReason) => {
      if (reason) return;
      reason = r;
      controller.abort(new Error(`task aborted: ${r}`));
    };
    this.running.set(task.id, { taskId: task.id, attempt: task.attempt, abort, log });
    this.startRenewer();
    const seconds = task.timeoutSeconds ?? handler.timeoutSeconds ?? this.options.defaultTimeoutSeconds;
    const timeout = setTimeout(() => abort('timeout'), seconds * 1000);
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new Error(`task aborted: ${String(reason)}`)), {
        once: true,
      });
    });
    aborted.catch(() => undefined);
    try {
      const input = handler.input.safeParse(task.payload);
      if (!input.success) return invalid('invalid_input', input.error);
      let progressDropped = false;
      const ctx: TaskContext = {
        taskId: task.id,
        attempt: task.attempt,
        maxAttempts: task.maxAttempts,
        ...(task.workflow ? { workflow: task.workflow } : {}),
        signal: controller.signal,
        log: taskLogger((level, message, fields) => {
          reporter.log(level, message, fields);
          try {
            if (this.options.log.isLevelEnabled(level)) log()[level](fields ?? {}, message);
          } catch {
            // Fields pino cannot write (a throwing getter): the line is kept in SQL all the same.
          }
        }),
        progress: (value) => {
          const dropped = reportProgress(value, (checked) => reporter.progress(checked));
          // Once per attempt: a handler reporting in a loop would otherwise fill the log.
          if (dropped !== null && !progressDropped) log().warn({ error: dropped }, 'progress not reported');
          progressDropped ||= dropped !== null;
        },
      };
      const result: unknown = await Promise.race([handler.run(input.data, ctx), aborted]);
      let value: unknown = result;
      if (handler.output) {
        const output = handler.output.safeParse(result);
        if (!output.success) return invalid('invalid_output', output.error);
        value = output.data;
      }
      return this.storable(value);
    } catch (err) {
      const r = reason as AbortReason | null;
      if (r === 'timeout') return { kind: 'timeout', seconds };
      if (r) return { kind: r };
      const e = err instanceof Error ? err : new Error(String(err));
      return {
        kind: 'failed',
        permanent: e instanceof PermanentError,
        error: { kind: 'handler', name: boundedErrorMessage(String(e.name)), message: boundedErrorMessage(e.message) },
      };
    } finally {
      clearTimeout(timeout);
      this.running.delete(task.id);
      if (this.running.size === 0) this.becameIdle();
    }
  }

  /**
   * A result the store can hold, or a permanent failure saying why not: it is not JSON as it is (a BigInt, a
   * cycle) or it is over the size limit. Running the handler again would return the same kind of value.
   */
  private storable(result: unknown): Outcome {
    const serialised = serialiseResult(result, this.options.resultMaxBytes);
    if (serialised.ok) return { kind: 'succeeded', result: serialised.value };
    return { kind: 'failed', permanent: true, error: { kind: serialised.kind, message: serialised.message } };
  }

  /** Renews every running lease each third of the lease; each renewal can abort its task (lost, cancelled). */
  private startRenewer(): void {
    if (this.renewer) return;
    const { store, agentId, clock, leaseMs } = this.options;
    this.renewer = setInterval(
      () => {
        const now = clock.now();
        for (const r of this.running.values()) {
          store
            .renewLease({ taskId: r.taskId, attempt: r.attempt, agentId, now, leaseMs })
            .then((res) => {
              if (!res.held) r.abort('lease_lost');
              else if (res.cancelRequested) r.abort('cancelled');
            })
            .catch((err: unknown) => r.log().warn({ err }, 'lease renewal failed; retrying at the next interval'));
        }
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
  }

  private becameIdle(): void {
    if (this.renewer) clearInterval(this.renewer);
    this.renewer = null;
    this.options.events.emit('idle');
  }
}

/** A payload or result that fails its handler's schema: retrying cannot fix it. */
function invalid(kind: 'invalid_input' | 'invalid_output', error: z.ZodError): Outcome {
  return { kind: 'failed', permanent: true, error: { kind, message: boundedErrorMessage(z.prettifyError(error)) } };
}

/**
 * Passes progress on to be kept in SQL only when it is small JSON (nothing else checks it, and a large or
 * unserialisable one would land in the task row, or throw, on every call); otherwise says why it was dropped.
 */
function reportProgress(value: number | object, progress: (value: unknown) => void): string | null {
  const checked = serialiseResult(value, MAX_PROGRESS_BYTES, {
    subject: 'the progress',
    limitName: 'MAX_PROGRESS_BYTES',
  });
  if (!checked.ok) return checked.message;
  progress(checked.value);
  return null;
}
