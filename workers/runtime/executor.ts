/**
 * Runs one dispatch: claim in SQL → run the handler under a renewed lease, a timeout and an AbortSignal →
 * record the outcome with a write fenced by the attempt. A lost claim (another worker, a cancelled task, a
 * stale job) is simply acknowledged.
 */
import { METRICS, noTelemetry, type Telemetry } from '../../src/telemetry/telemetry';
import { parseTraceparent } from '../../src/telemetry/traceparent';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BackoffPolicy } from '../../src/domain/backoff';
import type { Clock } from '../../src/domain/clock';
import type { DispatchRef, TaskError, TaskRecord } from '../../src/domain/task';
import { afterFailure } from '../../src/domain/transitions';
import type { Dispatcher } from '../../src/dispatch/dispatcher';
import type { Store } from '../../src/store/port';
import { PermanentError, type TaskHandler } from './context';
import { withRetries } from './retry';

export type AbortReason = 'timeout' | 'cancelled' | 'lease_lost' | 'released';

type Outcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'failed'; error: TaskError; permanent: boolean }
  | { kind: 'timeout'; seconds: number }
  | { kind: Exclude<AbortReason, 'timeout'> };

export interface ExecutorOptions {
  store: Store;
  dispatcher: Dispatcher;
  agentId: string;
  handlers: ReadonlyMap<string, TaskHandler<any, any>>;
  leaseMs: number;
  backoff: BackoffPolicy;
  defaultTimeoutSeconds: number;
  clock: Clock;
  log: Logger;
  telemetry?: Telemetry;
}

interface Running {
  taskId: string;
  attempt: number;
  abort: (reason: AbortReason) => void;
  log: () => Logger;
}

export class Executor {
  private readonly running = new Map<string, Running>();
  /** One timer renews every running lease (their renewals share a transaction), rather than one per task. */
  private renewer: NodeJS.Timeout | null = null;

  constructor(private readonly o: ExecutorOptions) {}

  get runningCount(): number {
    return this.running.size;
  }

  /** Aborts every running handler (a drain that ran out of time hands the tasks back). */
  abortAll(reason: AbortReason): void {
    for (const r of this.running.values()) r.abort(reason);
  }

  /**
   * `refused` when the task is still queued for this dispatch but the registry refused this agent's claim
   * (it is held): the caller hands the job back for another worker.
   */
  async execute(msg: DispatchRef, progress: (value: number | object) => void): Promise<'done' | 'refused'> {
    // The job carries the task's trace, so the claim itself is part of it too.
    return this.traced(msg.traceParent, () => this.claimAndRun(msg, progress));
  }

  private async claimAndRun(msg: DispatchRef, progress: (value: number | object) => void): Promise<'done' | 'refused'> {
    const { store, agentId, clock } = this.o;
    const now = clock.now();
    const claim = await withRetries(() =>
      store.claimTask({ taskId: msg.taskId, attempt: msg.attempt, agentId, now, leaseMs: this.o.leaseMs }),
    );
    if (!claim.claimed) {
      const cur = claim.current;
      if (cur?.status === 'queued' && cur.attempt === msg.attempt) {
        if (cur.deadline === null || cur.deadline > now) return 'refused';
        await store.expireTask({ taskId: cur.id, attempt: cur.attempt, now });
      }
      this.o.log.debug({ taskId: msg.taskId, attempt: msg.attempt, status: cur?.status }, 'dispatch not claimed');
      return 'done';
    }
    const task = claim.task;
    // Everything reported from here on belongs to the task's trace (kept in SQL since its submit).
    await this.traced(task.traceParent ?? msg.traceParent, async () => {
      // Made on first use: most tasks log nothing below the configured level.
      let child: Logger | null = null;
      const log = () => (child ??= this.o.log.child({ taskId: task.id, attempt: task.attempt, type: task.type }));
      const waitMs = Math.max(0, now - task.notBefore);
      this.telemetry.taskEvent('TaskStarted', task, { agentId, waitMs });
      this.telemetry.metric(METRICS.dispatchLatencyMs, waitMs, { type: task.type });
      const handler = this.o.handlers.get(task.type);
      const outcome: Outcome = handler
        ? await this.run(task, handler, log, progress)
        : { kind: 'failed', permanent: false, error: { kind: 'no_handler', message: `no handler for ${task.type}` } };
      await this.record(task, outcome, log);
    });
    return 'done';
  }

  private get telemetry(): Telemetry {
    return this.o.telemetry ?? noTelemetry;
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
    log: () => Logger,
    progress: (value: number | object) => void,
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
    const seconds = task.timeoutSeconds ?? handler.timeoutSeconds ?? this.o.defaultTimeoutSeconds;
    const timeout = setTimeout(() => abort('timeout'), seconds * 1000);
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new Error(`task aborted: ${String(reason)}`)), {
        once: true,
      });
    });
    aborted.catch(() => undefined);
    try {
      const input = handler.input.safeParse(task.payload);
      if (!input.success) {
        return {
          kind: 'failed',
          permanent: true,
          error: { kind: 'invalid_input', message: z.prettifyError(input.error) },
        };
      }
      const ctx = {
        taskId: task.id,
        attempt: task.attempt,
        maxAttempts: task.maxAttempts,
        signal: controller.signal,
        get log() {
          return log();
        },
        progress,
      };
      let result: unknown = await Promise.race([handler.run(input.data, ctx), aborted]);
      if (handler.output) {
        const out = handler.output.safeParse(result);
        if (!out.success) {
          return {
            kind: 'failed',
            permanent: true,
            error: { kind: 'invalid_output', message: z.prettifyError(out.error) },
          };
        }
        result = out.data;
      }
      return { kind: 'succeeded', result: result ?? null };
    } catch (err) {
      const r = reason as AbortReason | null;
      if (r === 'timeout') return { kind: 'timeout', seconds };
      if (r) return { kind: r };
      const e = err instanceof Error ? err : new Error(String(err));
      return {
        kind: 'failed',
        permanent: e instanceof PermanentError,
        error: { kind: 'handler', name: e.name, message: e.message },
      };
    } finally {
      clearTimeout(timeout);
      this.running.delete(task.id);
      if (this.running.size === 0) this.stopRenewer();
    }
  }

  /** Renews every running lease each third of the lease; each renewal can abort its task (lost, cancelled). */
  private startRenewer(): void {
    if (this.renewer) return;
    const { store, agentId, clock, leaseMs } = this.o;
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

  private stopRenewer(): void {
    if (this.renewer) clearInterval(this.renewer);
    this.renewer = null;
  }

  private async record(task: TaskRecord, outcome: Outcome, taskLog: () => Logger): Promise<void> {
    const { store, agentId, clock } = this.o;
    const now = clock.now();
    const ref = { taskId: task.id, attempt: task.attempt, agentId, now };
    switch (outcome.kind) {
      case 'succeeded': {
        const ok = await withRetries(() => store.completeTask({ ...ref, result: outcome.result }));
        if (!ok) {
          taskLog().warn('result rejected: this attempt no longer holds the task');
          return;
        }
        this.info(taskLog, 'task succeeded');
        const runMs = now - (task.startedAt ?? now);
        const totalMs = now - task.createdAt;
        this.telemetry.taskEvent('TaskSucceeded', task, { agentId, runMs, totalMs });
        this.telemetry.metric(METRICS.runDurationMs, runMs, { type: task.type, outcome: 'succeeded' });
        this.telemetry.metric(METRICS.endToEndMs, totalMs, { type: task.type });
        return;
      }
      case 'timeout':
      case 'failed': {
        const error: TaskError =
          outcome.kind === 'timeout'
            ? { kind: 'timeout', message: `the handler exceeded its time limit of ${outcome.seconds} s` }
            : outcome.error;
        const decision = afterFailure(task, now, this.o.backoff, {
          permanent: outcome.kind === 'failed' && outcome.permanent,
        });
        const ok = await withRetries(() => store.failTask({ ...ref, error, decision }));
        if (!ok) {
          taskLog().warn('failure rejected: this attempt no longer holds the task');
          return;
        }
        this.info(taskLog, { error, next: decision.status }, 'task failed');
        const runMs = now - (task.startedAt ?? now);
        this.telemetry.taskEvent('TaskFailed', task, { agentId, errorKind: error.kind, error: error.message, runMs });
        this.telemetry.metric(METRICS.runDurationMs, runMs, { type: task.type, outcome: 'failed' });
        this.telemetry.taskEvent(decision.status === 'queued' ? 'TaskRetried' : 'TaskDead', task, { agentId });
        if (decision.status === 'queued') await this.resend(task, decision.notBefore, now, taskLog);
        return;
      }
      case 'cancelled': {
        if (await withRetries(() => store.finishCancelled(ref)))
          this.telemetry.taskEvent('TaskCancelled', task, { agentId });
        this.info(taskLog, 'task cancelled');
        return;
      }
      case 'released': {
        if (await withRetries(() => store.releaseTask(ref))) {
          this.info(taskLog, 'task released back to the queue');
          await this.resend(task, now, now, taskLog);
        }
        return;
      }
      case 'lease_lost':
        taskLog().warn('lease lost while running; the result is discarded');
        return;
    }
  }

  /** Info lines go through here, so a task's child logger is made only when they are written. */
  private info(taskLog: () => Logger, objOrMsg: object | string, msg?: string): void {
    if (!this.o.log.isLevelEnabled('info')) return;
    if (typeof objOrMsg === 'string') taskLog().info(objOrMsg);
    else taskLog().info(objOrMsg, msg);
  }

  private async resend(task: TaskRecord, notBefore: number, now: number, log: () => Logger): Promise<void> {
    await this.o.dispatcher.send([{ ...task, notBefore }], now).catch((err: unknown) => {
      log().warn({ err }, 'could not enqueue the next attempt; the reconciler will');
    });
  }
}
