import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package root (the folder with taskfleet's package.json), from source or from dist/. */
export const PACKAGE_ROOT: string = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (
      existsSync(candidate) &&
      (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'taskfleet'
    ) {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error('cannot find the taskfleet package root');
  }
})();

export const VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
