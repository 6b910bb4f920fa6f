/**
 * The lines a handler writes with `ctx.log`, kept per attempt in SQL (task_logs), and the caps that keep one
 * chatty handler from filling the store: what is over a cap is counted, never kept.
 */

export const TASK_LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type TaskLogLevel = (typeof TASK_LOG_LEVELS)[number];

/** Lines kept per attempt; later ones are counted as dropped. */
export const MAX_LOG_LINES_PER_ATTEMPT = 200;
/** Bytes (message plus fields JSON, UTF-8) kept per attempt; a line that would pass it is dropped. */
export const MAX_LOG_BYTES_PER_ATTEMPT = 64 * 1024;
/** Characters of one message kept, the mark of a cut one included (T-SQL: nvarchar(4000)). */
export const MAX_LOG_MESSAGE_CHARS = 4000;
/** Bytes of one line's fields as JSON; larger fields are replaced by a note saying so. */
export const MAX_LOG_FIELDS_BYTES = 4 * 1024;

export interface TaskLogLine {
  /** Order within the attempt, from 0. */
  seq: number;
  at: number;
  level: TaskLogLevel;
  message: string;
  /** JSON object given with the line; null when none. */
  fields: unknown;
}

export interface DroppedLogs {
  lines: number;
  bytes: number;
}

export interface TaskLogs {
  lines: TaskLogLine[];
  dropped: DroppedLogs;
}

/** A batch of one attempt's lines, and the attempt's dropped totals so far (absolute, not a delta). */
export interface TaskLogBatch {
  taskId: string;
  attempt: number;
  lines: TaskLogLine[];
  dropped: DroppedLogs;
}

/** The message as kept: at most MAX_LOG_MESSAGE_CHARS, a longer one cut with a mark naming its length. */
export function boundedLogMessage(message: string): string {
  if (message.length <= MAX_LOG_MESSAGE_CHARS) return message;
  const mark = `… (cut from ${message.length} characters)`;
  return `${message.slice(0, MAX_LOG_MESSAGE_CHARS - mark.length)}${mark}`;
}

/** What a line costs against MAX_LOG_BYTES_PER_ATTEMPT. */
export function logLineBytes(message: string, fieldsJson: string | null): number {
  return Buffer.byteLength(message) + (fieldsJson === null ? 0 : Buffer.byteLength(fieldsJson));
}
