/**
 * Where the console's built files are: `dist/console/` of the package (the build compiles the browser
 * TypeScript of src/console/web/ there and copies its HTML and CSS), found the same way whether this module
 * runs compiled from dist/ or from source under jest.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'console'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no taskfleet package above ${from}`);
  }
}

export const CONSOLE_DIR = path.join(packageRoot(__dirname), 'dist', 'console');
export const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
