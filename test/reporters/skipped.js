'use strict';
/**
 * Lists every skipped test by its full name at the end of a run, so a suite that cannot run here (the
 * mssql contract without TASKFLEET_TEST_MSSQL_URL) is reported loudly rather than as a bare count.
 */
class SkippedTestsReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.testResults.flatMap((file) =>
      file.testResults.filter((t) => t.status === 'pending' || t.status === 'skipped').map((t) => t.fullName),
    );
    if (skipped.length === 0) return;
    process.stderr.write(`\nSkipped (${skipped.length}):\n${skipped.map((n) => `  - ${n}`).join('\n')}\n`);
  }
}

module.exports = SkippedTestsReporter;
