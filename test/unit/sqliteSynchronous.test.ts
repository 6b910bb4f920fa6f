/**
 * The embedded store's durability: every connection a process opens through openStore (the supervisor's,
 * with the background checkpointer, and a worker's or the CLI's, without) commits with synchronous = FULL
 * unless TASKFLEET_SQLITE_SYNCHRONOUS=normal, and a child process inherits the setting through configToEnv.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configToEnv, loadConfig } from '../../src/config/config';
import { openStore } from '../../src/store/open';
import { sqlitePragma } from '../../src/store/sqlite/sqliteStore';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskfleet-sync-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** PRAGMA synchronous of the supervisor's and a worker's connection, opened as those processes open them. */
async function synchronousOf(env: Record<string, string>): Promise<{ supervisor: unknown; worker: unknown }> {
  const config = loadConfig({ TASKFLEET_SQLITE_PATH: path.join(dir, 'taskfleet.db'), ...env });
  // What a child process (worker, supervisor) started by `taskfleet dev` or a test reads.
  const child = loadConfig(configToEnv(config));
  const supervisor = await openStore(config, { supervisor: true });
  const worker = await openStore(child);
  try {
    return { supervisor: sqlitePragma(supervisor, 'synchronous'), worker: sqlitePragma(worker, 'synchronous') };
  } finally {
    await worker.close();
    await supervisor.close();
  }
}

describe('TASKFLEET_SQLITE_SYNCHRONOUS', () => {
  it('is FULL (2) by default in every process that opens the store', async () => {
    expect(await synchronousOf({})).toEqual({ supervisor: 2, worker: 2 });
  });

  it('is NORMAL (1) with the opt-in', async () => {
    expect(await synchronousOf({ TASKFLEET_SQLITE_SYNCHRONOUS: 'normal' })).toEqual({ supervisor: 1, worker: 1 });
  });

  it('refuses any other value', () => {
    expect(() => loadConfig({ TASKFLEET_SQLITE_SYNCHRONOUS: 'off' })).toThrow(/TASKFLEET_SQLITE_SYNCHRONOUS/);
  });
});
