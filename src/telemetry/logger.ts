import pino, { type Logger } from 'pino';
import { REDACT_PATHS } from '../security/redact';

export type { Logger };

/**
 * The root logger; children carry agent, task and attempt ids. Secrets never go through it, and should a key,
 * a payload or a result reach it by mistake, the paths of REDACT_PATHS are censored (workers too).
 */
export function createLogger(opts: { level: string; format: 'json' | 'pretty'; name: string }): Logger {
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (opts.format === 'pretty') {
    return pino({
      name: opts.name,
      level: opts.level,
      redact,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ name: opts.name, level: opts.level, redact });
}
