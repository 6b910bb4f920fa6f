/**
 * The benchmark's task handler for taskfleet workers (`taskfleet worker --handlers dist/scripts/bench/handlers.js`):
 * a no-op that returns the wall-clock time (sub-millisecond) at which it started, so the benchmark can measure
 * submit → start without the store's millisecond rounding.
 */
import { z } from 'zod';
import { defineHandler } from '../../workers/runtime/context';

export default defineHandler({
  type: 'bench-noop',
  input: z.unknown(),
  async run() {
    return performance.timeOrigin + performance.now();
  },
});
