import { z } from 'zod';
import { defineHandler } from '../runtime/context';

/**
 * A gate for demos and tests: approves from round `approveFromRound` of the step it validates on (default 1),
 * and rejects the rounds before with feedback naming the round. Outside a workflow it judges round 1.
 */
export default defineHandler({
  type: 'judge',
  input: z
    .object({ approveFromRound: z.int().min(1).max(100).optional() })
    .nullish()
    .transform((v) => v ?? {}),
  async run(input, ctx) {
    const round = ctx.workflow?.round ?? 1;
    if (round >= (input.approveFromRound ?? 1)) return { approved: true };
    return { approved: false, feedback: { round, message: `round ${round} rejected: try again` } };
  },
});
