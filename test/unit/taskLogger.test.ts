/** ctx.log as handlers call it: callable at info, a method per level, and pino's (fields, message) order. */
import type { TaskLogLevel } from '../../src/domain/taskLog';
import { taskLogger } from '../../workers/runtime/context';

describe('taskLogger', () => {
  const written: Array<[TaskLogLevel, string, unknown]> = [];
  const log = taskLogger((level, message, fields) => written.push([level, message, fields]));
  beforeEach(() => (written.length = 0));

  it('writes at info when called, and at each level through its method', () => {
    log('plain');
    log.debug('d', { a: 1 });
    log.info('i');
    log.warn('w');
    log.error('e', { b: 2 });
    expect(written).toEqual([
      ['info', 'plain', undefined],
      ['debug', 'd', { a: 1 }],
      ['info', 'i', undefined],
      ['warn', 'w', undefined],
      ['error', 'e', { b: 2 }],
    ]);
  });

  it('takes pino’s order (fields first) from a handler written for the previous ctx.log', () => {
    const pinoStyle = log.warn as unknown as (fields: object, message: string) => void;
    pinoStyle({ width: 3 }, 'resizing');
    expect(written).toEqual([['warn', 'resizing', { width: 3 }]]);
  });
});
