import * as mssqlRows from '../../src/store/mssql/rows';
import * as sqliteRows from '../../src/store/sqlite/rows';

describe('row mapping shared by both stores', () => {
  const at = Date.UTC(2026, 11, 3, 10, 0, 0, 123);

  it('reads an agent run time as SQLite returns it (a number) and as SQL Server does (JSON_VALUE text)', () => {
    expect(sqliteRows.toAgentRun({ at, kind: 'succeeded', run_ms: 42 })).toEqual({
      at,
      outcome: 'succeeded',
      runMs: 42,
    });
    expect(mssqlRows.toAgentRun({ at: new Date(at), kind: 'failed', run_ms: '42' })).toEqual({
      at,
      outcome: 'failed',
      runMs: 42,
    });
  });

  it('gives a run time that is missing or not a number as null', () => {
    expect(sqliteRows.toAgentRun({ at, kind: 'succeeded', run_ms: null }).runMs).toBeNull();
    expect(mssqlRows.toAgentRun({ at: new Date(at), kind: 'succeeded', run_ms: 'null' }).runMs).toBeNull();
  });

  it('maps route stats with the oldest wait in epoch ms from either driver', () => {
    const counts = { type: 'echo', capabilities: '["gpu"]', queued: 2, delayed: 1, running: 3, dead: 0 };
    const expected = { ...counts, capabilities: ['gpu'], oldestQueuedAt: at };
    expect(sqliteRows.toRouteStats({ ...counts, oldest_queued_at: at })).toEqual(expected);
    expect(mssqlRows.toRouteStats({ ...counts, oldest_queued_at: new Date(at) })).toEqual(expected);
    expect(sqliteRows.toRouteStats({ ...counts, oldest_queued_at: null }).oldestQueuedAt).toBeNull();
  });

  it('binds an agent registration the same way for both stores', () => {
    const reg = {
      id: 'w1',
      capabilities: ['fs'],
      types: ['echo'],
      concurrency: 4,
      hostname: 'h',
      pid: 7,
      version: '1',
    };
    expect(sqliteRows.registrationParams(reg, at)).toEqual({
      ...reg,
      capabilities: '["fs"]',
      types: '["echo"]',
      transport: 'redis',
      metadata: null,
      now: at,
    });
    const http = { ...reg, transport: 'http' as const, metadata: { language: 'python' } };
    expect(sqliteRows.registrationParams(http, at)).toMatchObject({
      transport: 'http',
      metadata: '{"language":"python"}',
    });
  });
});
