/**
 * The `checksum` handler reads only under its root (TASKFLEET_CHECKSUM_ROOT), on a real directory tree: a
 * path that leads out (`..`, an absolute path, a symbolic link) is a PermanentError that says nothing about
 * the file outside (not even whether it exists), and a file inside is still hashed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError, taskLogger, type TaskContext } from '../../workers/runtime/context';
import { checksumHandler, isWithin } from '../../workers/handlers/checksum';

const ctx = (): TaskContext => ({
  taskId: 't',
  attempt: 1,
  maxAttempts: 3,
  signal: new AbortController().signal,
  log: taskLogger(() => undefined),
  progress: () => undefined,
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('checksum, confined to its root', () => {
  let dir: string;
  let root: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tf-checksum-'));
    root = path.join(dir, 'data');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'sub', 'inside.txt'), 'inside');
    writeFileSync(path.join(dir, 'secret.txt'), 'secret');
    // A sibling whose name starts with the root's: a bare string prefix check would let it through.
    mkdirSync(path.join(dir, 'database'));
    writeFileSync(path.join(dir, 'database', 'other.txt'), 'other');
    symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'link-out'));
    symlinkSync(dir, path.join(root, 'dir-out'));
    symlinkSync(path.join(root, 'sub', 'inside.txt'), path.join(root, 'link-in'));
    symlinkSync(root, path.join(dir, 'root-alias'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (p: string, at = root) => {
    const handler = checksumHandler(at);
    return handler.run(handler.input.parse({ path: p }), ctx());
  };

  async function refused(p: string, at = root): Promise<string> {
    const err: unknown = await run(p, at).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PermanentError);
    return (err as Error).message;
  }

  it('hashes a file inside the root, by a relative or an absolute path, or through a link that stays inside', async () => {
    const expected = { algorithm: 'sha256', bytes: 6, digest: sha256('inside') };
    expect(await run('sub/inside.txt')).toEqual({ path: 'sub/inside.txt', ...expected });
    const absolute = path.join(root, 'sub', 'inside.txt');
    expect(await run(absolute)).toEqual({ path: absolute, ...expected });
    expect(await run('link-in')).toEqual({ path: 'link-in', ...expected });
    expect(await run('sub/../sub/inside.txt')).toEqual({ path: 'sub/../sub/inside.txt', ...expected });
  });

  it('takes a root given through a symbolic link, by paths written either way', async () => {
    const alias = path.join(dir, 'root-alias');
    expect(await run(path.join(alias, 'sub', 'inside.txt'), alias)).toMatchObject({ digest: sha256('inside') });
    expect(await run(path.join(root, 'sub', 'inside.txt'), alias)).toMatchObject({ digest: sha256('inside') });
  });

  it.each([
    ['a relative path climbing out with ..', '../secret.txt'],
    ['.. hidden in the middle', 'sub/../../secret.txt'],
    ['an absolute path outside', '/etc/passwd'],
    ['an absolute path beside the root that shares its prefix', '../database/other.txt'],
    ['a symbolic link to a file outside', 'link-out'],
    ['a symbolic link to a directory outside', 'dir-out/secret.txt'],
  ])('refuses %s', async (_, p) => {
    expect(await refused(p)).toBe(
      `${p} is outside the directory this worker may read (TASKFLEET_CHECKSUM_ROOT)${p.startsWith('link') || p.startsWith('dir') ? ' (a symbolic link leads out)' : ''}`,
    );
  });

  it('refuses a missing file outside the root as outside, never as missing (its existence stays unknown)', async () => {
    for (const p of ['/etc/no-such-file', '../no-such-file', 'dir-out/no-such-file']) {
      expect(await refused(p)).toMatch(/is outside the directory this worker may read/);
    }
  });

  it('reports a missing file and a directory inside the root as such', async () => {
    expect(await refused('sub/missing.txt')).toBe('no such file: sub/missing.txt');
    expect(await refused('sub')).toBe('not a regular file: sub');
  });

  it('fails without blaming the task when the root itself does not exist on this worker', async () => {
    const err: unknown = await run('x', path.join(dir, 'nowhere')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^the checksum root .*nowhere cannot be used on this worker: ENOENT$/);
  });
});

describe('isWithin', () => {
  it('compares whole path segments', () => {
    expect(isWithin('/data', '/data')).toBe(true);
    expect(isWithin('/data', '/data/a/b')).toBe(true);
    expect(isWithin('/data', '/database')).toBe(false);
    expect(isWithin('/data', '/')).toBe(false);
    expect(isWithin('/', '/etc/passwd')).toBe(true);
  });
});
