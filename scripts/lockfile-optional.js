#!/usr/bin/env node
'use strict';
/**
 * Makes package-lock.json usable by `npm ci` on machines whose registry lacks other platforms' builds.
 *
 * Packages such as @swc/core and msgpackr-extract list one optional dependency per platform. Where the
 * registry answers 404 for the other platforms, `npm install` leaves them out of the lock file, and then
 * `npm ci` refuses the lock ("Missing: @swc/core-darwin-arm64@ from lock file"). This adds a bare entry
 * (version, optional) for each missing one: `npm ci` then tries it, tolerates the 404 as it does for any
 * optional dependency, and on a machine of that platform installs it as usual.
 *
 * Run `npm run lockfile:fix` after any `npm install` that changed the lock file;
 * test/repo/lockfile.test.ts fails when it is needed.
 */
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');

function missingOptional(lock) {
  const packages = lock.packages ?? {};
  const missing = {};
  for (const [where, info] of Object.entries(packages)) {
    for (const [name, version] of Object.entries(info.optionalDependencies ?? {})) {
      // npm resolves from the nearest node_modules up the tree; the hoisted place is the root one.
      const nested = `${where ? `${where}/` : ''}node_modules/${name}`;
      const hoisted = `node_modules/${name}`;
      if (!packages[nested] && !packages[hoisted] && !missing[hoisted]) missing[hoisted] = version;
    }
  }
  return missing;
}

if (require.main === module) {
  const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
  const missing = missingOptional(lock);
  for (const [key, version] of Object.entries(missing)) lock.packages[key] = { version, optional: true };
  const keys = Object.keys(missing);
  if (keys.length > 0) {
    const root = lock.packages[''];
    const sorted = Object.fromEntries(
      Object.entries(lock.packages)
        .filter(([k]) => k !== '')
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    lock.packages = { '': root, ...sorted };
    fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  }
  console.log(`lockfile-optional: added ${keys.length} optional platform entries`);
}

module.exports = { missingOptional };
