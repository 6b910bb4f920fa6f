import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { defineHandler, PermanentError, type TaskHandler } from '../runtime/context';

const input = z.strictObject({
  path: z.string().min(1).max(4096),
  algorithm: z.enum(['sha256', 'sha1', 'sha512', 'md5']).default('sha256'),
});

const OUTSIDE = 'is outside the directory this worker may read (TASKFLEET_CHECKSUM_ROOT)';

/** Whether `p` is `root` or under it: a prefix check that stops at a path separator (`/data` ≠ `/database`). */
export function isWithin(root: string, p: string): boolean {
  const base = root.endsWith(path.sep) ? root : root + path.sep;
  return p === root || p.startsWith(base);
}

/**
 * The real path of `requested` (relative paths are taken from the root), refused with a PermanentError when it
 * leads outside the root: `..`, an absolute path elsewhere, or a symbolic link anywhere on the way. Escapes are
 * refused before anything is read, and before a missing file is reported, so that the answer says nothing
 * about files outside the root (their existence included).
 */
async function confined(root: string, requested: string): Promise<{ real: string; realRoot: string }> {
  const realRoot = await realpath(root).catch((err: NodeJS.ErrnoException) => {
    // The worker's setting is wrong, not the task: a plain error, so another worker may run it.
    throw new Error(`the checksum root ${root} cannot be used on this worker: ${err.code ?? err.message}`);
  });
  const target = path.resolve(realRoot, requested);
  const lexicallyInside = isWithin(realRoot, target) || isWithin(path.resolve(root), path.resolve(root, requested));
  if (!lexicallyInside) throw new PermanentError(`${requested} ${OUTSIDE}`);
  const real = await realpath(target).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
    // A missing file is reported only when the part of its path that exists stays inside the root.
    if (!isWithin(realRoot, await nearestExisting(target))) throw new PermanentError(`${requested} ${OUTSIDE}`);
    throw new PermanentError(`no such file: ${requested}`);
  });
  if (!isWithin(realRoot, real)) throw new PermanentError(`${requested} ${OUTSIDE} (a symbolic link leads out)`);
  return { real, realRoot };
}

/** The real path of the closest existing ancestor of `p`. */
async function nearestExisting(p: string): Promise<string> {
  for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
    const real = await realpath(dir).catch(() => null);
    if (real !== null || dir === path.dirname(dir)) return real ?? dir;
  }
}

/**
 * Hashes a file on the worker's disk (sha256, sha1, sha512 or md5), confined to `root`: a submitter must not
 * learn the existence, size or digest of any other file on the worker. Requires the `fs` capability, so only
 * workers that declare access to the shared file system receive it.
 */
export function checksumHandler(root: string): TaskHandler<z.output<typeof input>, object> {
  return defineHandler({
    type: 'checksum',
    capabilities: ['fs'],
    input,
    timeoutSeconds: 600,
    async run({ path: requested, algorithm }, ctx) {
      const { real, realRoot } = await confined(root, requested);
      // O_NOFOLLOW: a link put in place of the file after the check is refused rather than followed.
      const file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new PermanentError(`no such file: ${requested}`);
        if (err.code === 'ELOOP') throw new PermanentError(`${requested} ${OUTSIDE} (a symbolic link leads out)`);
        throw err;
      });
      try {
        // A directory on the way swapped for a link between the check and the open: on Linux the open file's
        // own path tells (elsewhere /proc/self/fd does not exist and this check is skipped).
        const opened = await readlink(`/proc/self/fd/${file.fd}`).catch(() => null);
        if (opened !== null && !isWithin(realRoot, opened)) {
          throw new PermanentError(`${requested} ${OUTSIDE} (a symbolic link leads out)`);
        }
        const info = await file.stat();
        if (!info.isFile()) throw new PermanentError(`not a regular file: ${requested}`);
        const hash = createHash(algorithm);
        let read = 0;
        const stream = createReadStream('', { fd: file, autoClose: false, signal: ctx.signal });
        for await (const chunk of stream) {
          hash.update(chunk as Buffer);
          read += (chunk as Buffer).length;
          if (info.size > 0) ctx.progress(Math.floor((read / info.size) * 100));
        }
        return { path: requested, algorithm, bytes: read, digest: hash.digest('hex') };
      } finally {
        await file.close();
      }
    },
  });
}
