import { readFileSync } from 'node:fs';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { missingOptional } = require('../../scripts/lockfile-optional.js') as {
  missingOptional: (lock: unknown) => Record<string, string>;
};

describe('package-lock.json', () => {
  it('lists every optional platform dependency, so `npm ci` accepts it (run `npm run lockfile:fix`)', () => {
    const lock: unknown = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package-lock.json'), 'utf8'));
    expect(missingOptional(lock)).toEqual({});
  });

  it('finds a missing optional dependency', () => {
    const lock = {
      packages: {
        '': { dependencies: { a: '1' } },
        'node_modules/a': { version: '1.0.0', optionalDependencies: { 'a-darwin': '1.0.0', 'a-linux': '1.0.0' } },
        'node_modules/a-linux': { version: '1.0.0', optional: true },
      },
    };
    expect(missingOptional(lock)).toEqual({ 'node_modules/a-darwin': '1.0.0' });
  });
});
