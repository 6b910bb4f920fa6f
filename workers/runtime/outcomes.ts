/**
 * Records how an attempt ended, with writes fenced by the attempt: succeeded, failed (queued again after a
 * backoff, or dead), cancelled, or released back to the queue by a drain. A lost lease records nothing (the
 * task has moved on). A report that threw is read back before it is sent again (`reportOnce`).
 */
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../../src/domain/backoff';
import type { Clock } from '../../src/domain/clock';
import type { TaskError, TaskRecord } from '../../src/domain/task';
import { afterFailure, type RetryDecision } from '../../src/domain/transitions';
import type { Dispatcher } from '../../src/dispatch/dispatcher';
import type { LeaseRef, Store } from '../../src/store/port';
import { METRICS, type Telemetry } from '../../src/telemetry/telemetry';
import { DEFAULT_RETRY, reportOnce, type RetryPolicy } from './retry';

export type AbortReason = 'timeout' | 'cancelled' | 'lease_lost' | 'released';

export type Outcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'failed'; error: TaskError; permanent: boolean }
  | { kind: 'timeout'; seconds: number }
  | { kind: Exclude<AbortReason, 'timeout'> };

export interface RecorderOptions {
  store: Store;
  /** Sends a retry's next attempt (or a released task) to the queue at once; the reconciler would, later. */
  dispatcher: Pick<Dispatcher, 'send'>;
  agentId: string;
  backoff: BackoffPolicy;
  clock: Clock;
  log: Logger;
  telemetry: Telemetry;
  /** How a store call that threw is tried again (DEFAULT_RETRY unless a test wants no waits). */
  retry?: RetryPolicy;
  /** Told each task whose transition this worker committed (a best-effort publish: src/dispatch/notify.ts). */
  notify?: (taskId: string) => void;
}

/** The lazily made logger of one task (most tasks log nothing below the configured level). */
export type TaskLog = () => Logger;

const succeededBy = (task: TaskRecord, ref: LeaseRef) =>
  task.status === 'succeeded' && task.attempt === ref.attempt && task.agentId === ref.agentId;

const cancelledAt = (task: TaskRecord, ref: LeaseRef) => task.status === 'cancelled' && task.attempt === ref.attempt;

/** A release leaves the attempt queued; were it another write's doing, sending the task again is harmless. */
const queuedAt = (task: TaskRecord, ref: LeaseRef) => task.status === 'queued' && task.attempt === ref.attempt;

/** Whether the stored task shows this failure report: the decided status and this very error. */
function failedWith(error: TaskError, decision: RetryDecision) {
  return (task: TaskRecord, ref: LeaseRef) =>
    task.status === decision.status &&
    task.attempt === ref.attempt &&
    task.error?.kind === error.kind &&
    task.error.message === error.message;
}

export class OutcomeRecorder {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: RecorderOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  async record(task: TaskRecord, outcome: Outcome, taskLog: TaskLog): Promise<void> {
    const { store, agentId, clock } = this.options;
    const now = clock.now();
    const ref: LeaseRef = { taskId: task.id, attempt: task.attempt, agentId, now };
    switch (outcome.kind) {
      case 'succeeded': {
        const write = () => store.completeTask({ ...ref, result: outcome.result });
        if (!(await reportOnce(store, ref, write, succeededBy, this.retry))) {
          taskLog().warn('result rejected: this attempt no longer holds the task');
          return;
        }
        this.options.notify?.(task.id);
        this.info(taskLog, 'task succeeded');
        this.succeeded(task, now);
        return;
      }
      case 'timeout':
      case 'failed':
        return this.failed(task, outcome, ref, taskLog);
      case 'cancelled': {
        if (await reportOnce(store, ref, () => store.finishCancelled(ref), cancelledAt, this.retry)) {
          this.options.notify?.(task.id);
          this.options.telemetry.taskEvent('TaskCancelled', task, { agentId });
        }
        this.info(taskLog, 'task cancelled');
        return;
      }
      case 'released': {
        if (await reportOnce(store, ref, () => store.releaseTask(ref), queuedAt, this.retry)) {
          this.options.notify?.(task.id);
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

  private succeeded(task: TaskRecord, now: number): void {
    const { telemetry, agentId } = this.options;
    const runMs = now - (task.startedAt ?? now);
    const totalMs = now - task.createdAt;
    telemetry.taskEvent('TaskSucceeded', task, { agentId, runMs, totalMs });
    telemetry.metric(METRICS.runDurationMs, runMs, { type: task.type, outcome: 'succeeded' });
    telemetry.metric(METRICS.endToEndMs, totalMs, { type: task.type });
  }

  private async failed(
    task: TaskRecord,
    outcome: Extract<Outcome, { kind: 'failed' | 'timeout' }>,
    ref: LeaseRef,
    taskLog: TaskLog,
  ): Promise<void> {
    const { store, agentId, telemetry } = this.options;
    const error: TaskError =
      outcome.kind === 'timeout'
        ? { kind: 'timeout', message: `the handler exceeded its time limit of ${outcome.seconds} s` }
        : outcome.error;
    const decision = afterFailure(task, ref.now, this.options.backoff, {
      permanent: outcome.kind === 'failed' && outcome.permanent,
    });
    const write = () => store.failTask({ ...ref, error, decision });
    if (!(await reportOnce(store, ref, write, failedWith(error, decision), this.retry))) {
      taskLog().warn('failure rejected: this attempt no longer holds the task');
      return;
    }
    this.options.notify?.(task.id);
    this.info(taskLog, { error, next: decision.status }, 'task failed');
    const runMs = ref.now - (task.startedAt ?? ref.now);
    telemetry.taskEvent('TaskFailed', task, { agentId, errorKind: error.kind, error: error.message, runMs });
    telemetry.metric(METRICS.runDurationMs, runMs, { type: task.type, outcome: 'failed' });
    telemetry.taskEvent(decision.status === 'queued' ? 'TaskRetried' : 'TaskDead', task, { agentId });
    if (decision.status === 'queued') await this.resend(task, decision.notBefore, ref.now, taskLog);
  }

  /** Info lines go through here, so a task's child logger is made only when they are written. */
  private info(taskLog: TaskLog, objOrMsg: object | string, msg?: string): void {
    if (!this.options.log.isLevelEnabled('info')) return;
    if (typeof objOrMsg === 'string') taskLog().info(objOrMsg);
    else taskLog().info(objOrMsg, msg);
  }

  private async resend(task: TaskRecord, notBefore: number, now: number, taskLog: TaskLog): Promise<void> {
    await this.options.dispatcher.send([{ ...task, notBefore }], now).catch((err: unknown) => {
      taskLog().warn({ err }, 'could not enqueue the next attempt; the reconciler will');
    });
  }
}
