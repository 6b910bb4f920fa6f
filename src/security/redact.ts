/**
 * Keys never reach a log. The supervisor logs no requests; should anything log a request, its headers, or
 * a configuration, these paths are censored.
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
];

/** A child logger that censors every key-bearing path above. */
export function redactingLogger(log: Logger): Logger {
  return log.child({}, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
