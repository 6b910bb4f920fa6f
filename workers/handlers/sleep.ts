import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineHandler } from '../runtime/context';

/** Waits `ms` milliseconds (aborting early when the task is cancelled or times out). */
export default defineHandler({
  type: 'sleep',
  input: z.strictObject({ ms: z.int().min(0).max(86_400_000) }),
  async run({ ms }, ctx) {
    const started = Date.now();
    await sleep(ms, undefined, { signal: ctx.signal });
    return { sleptMs: Date.now() - started };
  },
});
