/**
 * The built-in `checksum` handler in a real worker process reads only under the worker's
 * TASKFLEET_CHECKSUM_ROOT: a path leading out fails its task at once and for good, a file inside is hashed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskRecord } from '../../src/domain/task';
import { fleetPerTest } from '../helpers/fleet';

const OUTSIDE = 'is outside the directory this worker may read (TASKFLEET_CHECKSUM_ROOT)';

describe('checksum on a worker with TASKFLEET_CHECKSUM_ROOT', () => {
  const { start } = fleetPerTest();

  it('hashes a file under the root and refuses .., an absolute path and a symbolic link that lead out', async () => {
    const fleet = await start();
    const root = path.join(fleet.dir, 'files');
    mkdirSync(root);
    writeFileSync(path.join(root, 'report.csv'), 'a,b\n1,2\n');
    writeFileSync(path.join(fleet.dir, 'secret.txt'), 'secret');
    symlinkSync(path.join(fleet.dir, 'secret.txt'), path.join(root, 'innocent.csv'));
    await fleet.spawnWorker({ id: 'files', capabilities: ['fs'], env: { TASKFLEET_CHECKSUM_ROOT: root } });

    const paths = ['report.csv', '../secret.txt', '/etc/passwd', 'innocent.csv'];
    const submitted = await fleet.submitBatch(
      paths.map((p) => ({ type: 'checksum', payload: { path: p }, requiredCapabilities: ['fs'], maxAttempts: 3 })),
    );
    const [inside, dotdot, absolute, link] = await fleet.waitTerminal(submitted.map((t: TaskRecord) => t.id));

    expect(inside).toMatchObject({
      status: 'succeeded',
      result: { path: 'report.csv', bytes: 8, digest: createHash('sha256').update('a,b\n1,2\n').digest('hex') },
    });
    const refused = (p: string, suffix = '') => ({
      status: 'dead',
      attempt: 1,
      result: null,
      error: { kind: 'handler', name: 'PermanentError', message: `${p} ${OUTSIDE}${suffix}` },
    });
    expect(dotdot).toMatchObject(refused('../secret.txt'));
    expect(absolute).toMatchObject(refused('/etc/passwd'));
    expect(link).toMatchObject(refused('innocent.csv', ' (a symbolic link leads out)'));
  }, 60_000);
});
