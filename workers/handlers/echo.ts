import { z } from 'zod';
import { defineHandler } from '../runtime/context';

/** Returns its payload unchanged. */
export default defineHandler({
  type: 'echo',
  input: z.json(),
  async run(input) {
    return input;
  },
});
