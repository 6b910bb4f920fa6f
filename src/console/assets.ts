/**
 * Where the console's built files are: `dist/console/` of the package (the build compiles the browser
 * TypeScript of src/console/web/ there and copies its HTML and CSS), found the same way whether this module
 * runs compiled from dist/ or from source under jest.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package's root: the first folder up with taskfleet's package.json (the images hold dist/, not src/). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'taskfleet'
    ) {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no taskfleet package above ${from}`);
  }
}

export const CONSOLE_DIR = path.join(packageRoot(__dirname), 'dist', 'console');
export const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
