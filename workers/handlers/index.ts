import type { Config } from '../../src/config/config';
import type { TaskHandler } from '../runtime/context';
import { checksumHandler } from './checksum';
import echo from './echo';
import fail from './fail';
import judge from './judge';
import sleep from './sleep';

/** What the built-in handlers read from the worker's configuration. */
export type BuiltinSettings = Pick<Config, 'checksumRoot'>;

/** The built-in task types. A worker image adds its own handlers beside these. */
export function builtinHandlers(settings: BuiltinSettings): TaskHandler<any, any>[] {
  return [echo, sleep, fail, judge, checksumHandler(settings.checksumRoot ?? process.cwd())];
}
