const SUITE = 'store contract: mssql (set TASKFLEET_TEST_MSSQL_URL to run against SQL Server)';

if (process.env.TASKFLEET_TEST_MSSQL_URL) {
  throw new Error('TASKFLEET_TEST_MSSQL_URL is set, but the mssql store adapter is not implemented yet (issue 3)');
}

console.warn(`skipped: ${SUITE}`);

describe.skip(SUITE, () => {
  it('passes the store contract', () => undefined);
});
