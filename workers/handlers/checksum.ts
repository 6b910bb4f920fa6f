import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { defineHandler, PermanentError } from '../runtime/context';

/**
 * Hashes a file on the worker's disk (sha256, sha1, sha512 or md5). Requires the `fs` capability, so only
 * workers that declare access to the shared file system receive it.
 */
export default defineHandler({
  type: 'checksum',
  capabilities: ['fs'],
  input: z.strictObject({
    path: z.string().min(1).max(4096),
    algorithm: z.enum(['sha256', 'sha1', 'sha512', 'md5']).default('sha256'),
  }),
  timeoutSeconds: 600,
  async run({ path, algorithm }, ctx) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new PermanentError(`no such file: ${path}`);
      throw err;
    });
    if (!info.isFile()) throw new PermanentError(`not a regular file: ${path}`);
    const hash = createHash(algorithm);
    let read = 0;
    for await (const chunk of createReadStream(path, { signal: ctx.signal })) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
      if (info.size > 0) ctx.progress(Math.floor((read / info.size) * 100));
    }
    return { path, algorithm, bytes: read, digest: hash.digest('hex') };
  },
});
