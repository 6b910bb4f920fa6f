#!/usr/bin/env node
'use strict';
// The CLI is compiled by `npm run build` (run by `npm ci` through `prepare`).
require('../dist/src/cli/main.js')
  .main(process.argv)
  .catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
