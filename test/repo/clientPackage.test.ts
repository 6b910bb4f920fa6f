/**
 * `import { TaskfleetClient } from 'taskfleet/client'` works for a user of the package: the export resolves to
 * the built client with its types, and `npm pack` ships them (and the built CLI the bin needs). Needs a build
 * (`npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/fleet';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('the taskfleet/client entry', () => {
  it('is exported with its types, and resolves to the built client', () => {
    const entry = pkg.exports['./client'];
    expect(entry).toEqual({ types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' });
    expect(existsSync(path.join(ROOT, entry.types))).toBe(true);
    const resolved = execFileSync(
      process.execPath,
      [
        '-e',
        "const c = require('taskfleet/client'); console.log(require.resolve('taskfleet/client'), typeof c.TaskfleetClient)",
      ],
      { cwd: ROOT, encoding: 'utf8' },
    ).trim();
    expect(resolved).toBe(`${path.join(ROOT, entry.default)} function`);
  });

  it('is in the packed tarball, with the built CLI', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const files = (JSON.parse(out)[0].files as Array<{ path: string }>).map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/src/client/index.js',
        'dist/src/client/index.d.ts',
        'dist/src/client/types.d.ts',
        'dist/src/cli/main.js',
        'bin/taskfleet.js',
      ]),
    );
    expect(files.filter((f) => f.startsWith('node_modules/') || f.endsWith('.db'))).toEqual([]);
  });
});
