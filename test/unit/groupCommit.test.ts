import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/sqlite/groupCommit';

describe('GroupCommit (a real SQLite file, two connections)', () => {
  let dir: string;
  let file: string;
  let db: Database.Database;
  let other: Database.Database;

  const open = () => {
    const c = new Database(file);
    c.pragma('journal_mode = WAL');
    c.pragma('busy_timeout = 5000');
    return c;
  };
  const count = () => (other.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'taskfleet-group-'));
    file = path.join(dir, 'g.db');
    db = open();
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
    other = open();
  });

  afterEach(() => {
    db.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the writes asked for in one turn of the event loop in one transaction', async () => {
    const group = new GroupCommit(db, (e) => e, { busyTimeoutMs: 1000 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => group.write(() => Number(insert.run(`v${i}`).lastInsertRowid))),
    );
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
    expect(group.counts).toMatchObject({ transactions: 1, writes: 20 });
    expect(count()).toBe(20);
    // A later turn is a later transaction.
    await group.write(() => insert.run('later'));
    expect(group.counts).toMatchObject({ transactions: 2, writes: 21 });
  });

  it('rolls back only the write that threw, and rejects only its caller', async () => {
    const group = new GroupCommit(db, (e) => e, { busyTimeoutMs: 1000 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      group.write(() => insert.run('a')),
      group.write(() => {
        insert.run('half-written');
        insert.run('a'); // UNIQUE violation: this write's first insert must not survive either
      }),
      group.write(() => insert.run('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(other.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual(['a', 'b']);
    expect(group.counts.transactions).toBe(1);
  });

  it('waits for another process’s write lock without stopping the event loop, then commits', async () => {
    const group = new GroupCommit(db, (e) => e, { busyTimeoutMs: 5000 });
    other.exec('BEGIN IMMEDIATE');
    let settled = false;
    const write = group
      .write(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('after-the-lock'))
      .finally(() => (settled = true));
    // A timer fires ten times while the write keeps finding the lock busy: had the wait slept inside the
    // event loop, the write would have settled (failed with SQLITE_BUSY) before the timer fired again.
    let ticks = 0;
    let ticker: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      ticker = setInterval(() => {
        if (settled || (++ticks >= 10 && group.counts.busy >= 3)) resolve();
      }, 5);
    });
    clearInterval(ticker);
    expect(settled).toBe(false);
    expect(count()).toBe(0);
    other.exec('COMMIT');
    await write;
    expect(count()).toBe(1);
  });

  it('gives up after busyTimeoutMs with SQLITE_BUSY, having written nothing', async () => {
    const seen: unknown[] = [];
    const group = new GroupCommit(
      db,
      (e) => {
        seen.push(e);
        return new Error('mapped');
      },
      { busyTimeoutMs: 100 },
    );
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(group.write(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('never'))).rejects.toThrow(
        'mapped',
      );
      expect(seen[0]).toMatchObject({ name: 'SqliteError', code: 'SQLITE_BUSY' });
    } finally {
      other.exec('ROLLBACK');
    }
    expect(count()).toBe(0);
  });

  it('rejects writes once the connection is closed', async () => {
    const group = new GroupCommit(db, (e) => e, { busyTimeoutMs: 100 });
    const write = group.write(() => 1);
    db.close();
    await expect(write).rejects.toThrow('the store is closed');
    db = open(); // for afterEach
  });

  it('rolls back the whole batch and rejects every caller when the store is full', async () => {
    const group = new GroupCommit(db, (e) => e, { busyTimeoutMs: 1000 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    await group.write(() => insert.run('before'));
    // No page may be added: a write that needs one fails with SQLITE_FULL, as on a full disk.
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const results = await Promise.allSettled([
      group.write(() => db.prepare('UPDATE t SET v = ? WHERE v = ?').run('changed', 'before')),
      group.write(() => insert.run('x'.repeat(64 * 1024))),
      group.write(() => insert.run('small')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_FULL' });
    expect(other.prepare('SELECT v FROM t ORDER BY id').all()).toEqual([{ v: 'before' }]);
    // Space again: the next writes commit.
    db.pragma('max_page_count = 1073741823');
    await group.write(() => insert.run('after'));
    expect(count()).toBe(2);
  });
});
