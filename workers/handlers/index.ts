import type { TaskHandler } from '../runtime/context';
import checksum from './checksum';
import echo from './echo';
import fail from './fail';
import sleep from './sleep';

/** The built-in task types. A worker image adds its own handlers beside these. */
export const builtinHandlers: TaskHandler<any, any>[] = [echo, sleep, fail, checksum];
