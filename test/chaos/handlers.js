'use strict';
// Task handlers for the chaos suite, loaded by `taskfleet worker --handlers test/chaos/handlers.js`.
const { setTimeout: sleep } = require('node:timers/promises');
const { z } = require('zod');

module.exports = [
  {
    // A short task: sleeps `ms` (stopping early when aborted). Extra payload fields (a batch tag, an index)
    // are kept in the payload so a test can tell which request stored a task.
    //
    // With `stallMs`, its first attempt blocks the worker's event loop that long before it returns: the worker
    // stalls without dying (no lease renewals, no heartbeats, every other task it runs frozen too), then
    // reports late. Later attempts run normally.
    type: 'chaos',
    input: z.object({ ms: z.number().int().min(0).max(60_000), stallMs: z.number().int().min(0).optional() }),
    async run({ ms, stallMs }, ctx) {
      if (stallMs && ctx.attempt === 1) {
        const end = Date.now() + stallMs;
        while (Date.now() < end) {
          // busy wait on purpose
        }
      } else {
        await sleep(ms, undefined, { signal: ctx.signal });
      }
      return { pid: process.pid, attempt: ctx.attempt };
    },
  },
];
