/**
 * Keys, payloads and results never reach a log. The supervisor logs no requests; should anything log a
 * request, its headers, a task or a configuration, these paths are censored. (The data keys print as their ids
 * only, whatever logs them: see DataKeyRing.)
 */
import type { Logger } from 'pino';

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'err.headers.authorization',
  'err.req.headers.authorization',
  '*.headers.authorization',
  'adminApiKey',
  'apiKey',
  'config.adminApiKey',
  'config.apiKey',
  'dataKeys',
  'config.dataKeys',
  'payload',
  'result',
  '*.payload',
  '*.result',
];

/** Fields of an audit entry's detail that could hold task data: never written to the audit log. */
const TASK_DATA_FIELDS: ReadonlySet<string> = new Set(['payload', 'result']);

/** `detail` with every task payload or result in it, at any depth, replaced by `[redacted]`. */
export function redactTaskData(detail: unknown, depth = 0): unknown {
  if (typeof detail !== 'object' || detail === null || depth > 8) return detail;
  if (Array.isArray(detail)) return detail.map((d) => redactTaskData(d, depth + 1));
  return Object.fromEntries(
    Object.entries(detail).map(([k, v]) => [k, TASK_DATA_FIELDS.has(k) ? '[redacted]' : redactTaskData(v, depth + 1)]),
  );
}

/** A child logger that censors every key-bearing path above. */
export function redactingLogger(log: Logger): Logger {
  return log.child({}, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
