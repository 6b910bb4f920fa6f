'use strict';
// A handler for test/integration/diskFull.test.ts, loaded by `taskfleet worker --handlers <this file>`.
const fs = require('node:fs');
const { setTimeout: sleep } = require('node:timers/promises');
const { z } = require('zod');

module.exports = [
  {
    // Waits until the file `gate` exists, writes `<gate>.done`, and returns a result of `bytes` characters
    // (large enough that recording it needs new space in the store).
    type: 'disk-full-gate',
    input: z.object({ gate: z.string(), bytes: z.number().int().min(0) }),
    async run({ gate, bytes }, ctx) {
      while (!fs.existsSync(gate)) await sleep(20, undefined, { signal: ctx.signal });
      fs.writeFileSync(`${gate}.done`, '');
      return { blob: 'r'.repeat(bytes) };
    },
  },
];
