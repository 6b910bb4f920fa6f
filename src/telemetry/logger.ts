import pino, { type Logger } from 'pino';

export type { Logger };

/** The root logger; children carry agent, task and attempt ids. Secrets never go through it. */
export function createLogger(opts: { level: string; format: 'json' | 'pretty'; name: string }): Logger {
  if (opts.format === 'pretty') {
    return pino({
      name: opts.name,
      level: opts.level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ name: opts.name, level: opts.level });
}
