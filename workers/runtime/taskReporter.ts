/**
 * What one attempt reports while it runs, kept in SQL: its progress (the latest value, at most one write a
 * second, the last value always written) and its log lines (buffered, sent in small batches, capped per
 * attempt). Every write is fenced by the attempt in the store, so a zombie attempt's reports are refused; the
 * first refusal ends the reporting of this attempt. Best effort throughout: nothing here throws to a handler.
 */
import type { Clock } from '../../src/domain/clock';
import { serialiseResult } from '../../src/domain/result';
import {
  boundedLogMessage,
  logLineBytes,
  MAX_LOG_BYTES_PER_ATTEMPT,
  MAX_LOG_FIELDS_BYTES,
  MAX_LOG_LINES_PER_ATTEMPT,
  type DroppedLogs,
  type TaskLogLevel,
  type TaskLogLine,
} from '../../src/domain/taskLog';
import type { Store } from '../../src/store/port';
import type { TaskLog } from './outcomes';

export interface ReporterOptions {
  store: Pick<Store, 'setTaskProgress' | 'appendTaskLogs'>;
  clock: Clock;
  taskId: string;
  attempt: number;
  /** A sensitive task's progress and lines are never kept (the store would refuse them too). */
  sensitive: boolean;
  log: TaskLog;
  /** Called after a progress write landed (the event doorbell, src/dispatch/notify.ts). */
  notify?: (taskId: string) => void;
  progressIntervalMs?: number;
  flushIntervalMs?: number;
}

/** At most one progress write per task per interval. */
export const PROGRESS_INTERVAL_MS = 1_000;
/** Buffered lines wait at most this long before they are sent. */
export const LOG_FLUSH_INTERVAL_MS = 250;
/** A buffer this full is sent at once rather than at the next tick. */
const LOG_BATCH_LINES = 50;

export class TaskReporter {
  private readonly progressIntervalMs: number;
  private readonly flushIntervalMs: number;
  /** The store refused a write (the attempt is over), or the attempt ended: nothing more is sent. */
  private closed = false;

  private pendingProgress: { value: unknown } | null = null;
  /** Monotonic time of the last progress write (the clock may be a test's, fixed). */
  private lastProgressAt = -Infinity;
  private progressTimer: NodeJS.Timeout | null = null;
  private progressWrite: Promise<void> | null = null;

  private buffer: TaskLogLine[] = [];
  private nextSeq = 0;
  private keptBytes = 0;
  private readonly dropped: DroppedLogs = { lines: 0, bytes: 0 };
  private droppedSent: DroppedLogs = { lines: 0, bytes: 0 };
  private flushTimer: NodeJS.Timeout | null = null;
  private logWrite: Promise<void> | null = null;

  constructor(private readonly options: ReporterOptions) {
    this.progressIntervalMs = options.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.flushIntervalMs = options.flushIntervalMs ?? LOG_FLUSH_INTERVAL_MS;
    if (options.sensitive) this.closed = true;
  }

  /** A value already checked to be small JSON (executor.ts). */
  progress(value: unknown): void {
    if (this.closed) return;
    this.pendingProgress = { value };
    this.scheduleProgress();
  }

  log(level: TaskLogLevel, message: string, fields?: Record<string, unknown>): void {
    if (this.closed) return;
    const text = boundedLogMessage(typeof message === 'string' ? message : String(message));
    const kept = keptFields(fields);
    const bytes = logLineBytes(text, kept.json);
    if (this.nextSeq >= MAX_LOG_LINES_PER_ATTEMPT || this.keptBytes + bytes > MAX_LOG_BYTES_PER_ATTEMPT) {
      this.dropped.lines += 1;
      this.dropped.bytes += bytes;
    } else {
      this.keptBytes += bytes;
      const at = this.options.clock.now();
      this.buffer.push({ seq: this.nextSeq++, at, level, message: text, fields: kept.value });
    }
    if (this.buffer.length >= LOG_BATCH_LINES) this.flush();
    else this.scheduleFlush();
  }

  /**
   * Ends the attempt's reporting, before its outcome is recorded: with `keep`, the last progress and the lines
   * still buffered are written (the attempt still holds the task); without (the attempt is over), dropped.
   */
  async finish(keep: boolean): Promise<void> {
    this.clearTimers();
    await this.progressWrite;
    await this.logWrite;
    if (keep && !this.closed) {
      this.writeProgress();
      this.flush();
      await this.progressWrite;
      await this.logWrite;
    }
    this.closed = true;
    this.clearTimers();
  }

  private scheduleProgress(): void {
    if (this.progressWrite || this.progressTimer) return; // the write in flight reschedules when it ends
    const wait = this.lastProgressAt + this.progressIntervalMs - performance.now();
    if (wait <= 0) {
      this.writeProgress();
      return;
    }
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      this.writeProgress();
    }, wait);
    this.progressTimer.unref();
  }

  private writeProgress(): void {
    const pending = this.pendingProgress;
    if (!pending || this.closed || this.progressWrite) return;
    this.pendingProgress = null;
    this.lastProgressAt = performance.now();
    const { store, taskId, attempt, clock, notify } = this.options;
    this.progressWrite = store
      .setTaskProgress({ taskId, attempt, progress: pending.value, now: clock.now() })
      .then(
        (written) => {
          if (written) notify?.(taskId);
          else this.refused();
        },
        (err: unknown) => this.options.log().debug({ err }, 'progress not written'),
      )
      .finally(() => {
        this.progressWrite = null;
        if (this.pendingProgress && !this.closed) this.scheduleProgress();
      });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.logWrite) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.flushIntervalMs);
    this.flushTimer.unref();
  }

  private flush(): void {
    if (this.closed || this.logWrite) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const lines = this.buffer;
    const dropped = { ...this.dropped };
    const droppedChanged = dropped.lines !== this.droppedSent.lines;
    if (lines.length === 0 && !droppedChanged) return;
    this.buffer = [];
    const { store, taskId, attempt } = this.options;
    this.logWrite = store
      .appendTaskLogs({ taskId, attempt, lines, dropped })
      .then(
        (written) => {
          if (written) this.droppedSent = dropped;
          else this.refused();
        },
        (err: unknown) => {
          // Sent again with the next batch: a line the store already holds is skipped by its seq.
          this.buffer = [...lines, ...this.buffer];
          this.options.log().debug({ err }, 'log lines not written; trying again with the next batch');
        },
      )
      .finally(() => {
        this.logWrite = null;
        if (!this.closed && (this.buffer.length > 0 || this.dropped.lines !== this.droppedSent.lines))
          this.scheduleFlush();
      });
  }

  /** The store refused a write: this attempt no longer runs (or the task is sensitive). */
  private refused(): void {
    this.closed = true;
    this.pendingProgress = null;
    this.buffer = [];
    this.clearTimers();
  }

  private clearTimers(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.progressTimer = null;
    this.flushTimer = null;
  }
}

/** A line's fields as kept: a small JSON object, or a note saying why they were not kept. */
function keptFields(fields: unknown): { value: unknown; json: string | null } {
  if (fields === undefined || fields === null) return { value: null, json: null };
  const object = typeof fields === 'object' && !Array.isArray(fields) ? fields : { value: fields };
  const checked = serialiseResult(object, MAX_LOG_FIELDS_BYTES, {
    subject: 'the log fields',
    limitName: 'MAX_LOG_FIELDS_BYTES',
  });
  if (checked.ok && typeof checked.value === 'object' && checked.value !== null && !Array.isArray(checked.value))
    return { value: checked.value, json: checked.json };
  const note = { fieldsDropped: checked.ok ? 'the log fields are not an object' : checked.message };
  return { value: note, json: JSON.stringify(note) };
}
