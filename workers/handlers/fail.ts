import { z } from 'zod';
import { defineHandler } from '../runtime/context';

/** Fails its first `times` attempts, then succeeds: for trying out retries and `dead`. */
export default defineHandler({
  type: 'fail',
  input: z.strictObject({ times: z.int().min(0).max(1000), message: z.string().max(1000).optional() }),
  async run({ times, message }, ctx) {
    if (ctx.attempt <= times) throw new Error(message ?? `failing attempt ${ctx.attempt} of the first ${times}`);
    return { succeededOnAttempt: ctx.attempt };
  },
});
