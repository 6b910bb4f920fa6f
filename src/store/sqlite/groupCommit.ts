/**
 * Group commit: writes asked for within one turn of the event loop share one `BEGIN IMMEDIATE` transaction.
 *
 * Several processes write the same SQLite file and SQLite has one writer at a time. A worker with fifty
 * tasks in flight would otherwise take the write lock twice per task (claim, then result), and every time
 * the lock is busy better-sqlite3 sleeps inside the busy handler with the whole event loop stopped. Taking
 * it once for everything queued since the last flush makes lock waits, commits and WAL appends per batch
 * rather than per task; while one flush waits for the lock, the next batch gathers.
 *
 * The lock is taken without SQLite's busy handler, which would sleep with the event loop stopped: when
 * another process holds it, the flush is tried again a millisecond later while this process goes on with
 * its Redis replies and timers (and gathers more writes). After `busyTimeoutMs` of trying, the waiting
 * writes are rejected with SQLITE_BUSY (an UnavailableError to callers).
 *
 * A write that throws rolls back alone and rejects only its caller: the batch is rolled back and run again
 * with each write in its own savepoint (savepoints cost a little on every write, so only then). If the
 * transaction itself cannot begin or commit, or a write fails for a reason that is the transaction's rather
 * than its own (a full disk, an I/O error: `TRANSACTION_FAULTS`), nothing of the batch is applied and every
 * caller is rejected with that error: running the others again without it would half-write a batch whose
 * other writes may fail the same way an instant later.
 */
import type Database from 'better-sqlite3';
import { sqliteErrorCode } from './rows';

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Failures of the transaction, not of one write: SQLite may already have rolled it back. */
const TRANSACTION_FAULTS = /^SQLITE_(FULL|IOERR|NOMEM|CORRUPT|NOTADB)/;

class TransactionFault extends Error {
  constructor(readonly fault: unknown) {
    super('the transaction failed');
  }
}

type Settled = { ok: true; value: unknown } | { ok: false; err: unknown };

export interface GroupCommitOptions {
  /**
   * How long writes wait for the lock before they fail with SQLITE_BUSY. It must be the connection's
   * busy_timeout, which is restored after each attempt to take the lock.
   */
  busyTimeoutMs: number;
  /** The most writes carried by one transaction. */
  maxBatch?: number;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;
  /** The next flush runs each write in its own savepoint (a write in the last batch threw). */
  private careful = false;
  /** When the oldest pending flush first found the lock busy. */
  private busySince: number | null = null;
  private readonly maxBatch: number;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  /** Transactions committed, writes they carried, and flushes that found the lock busy. */
  readonly counts = { transactions: 0, writes: 0, busy: 0 };

  constructor(
    private readonly db: Database.Database,
    /** Turns a driver error into the error callers see (lock timeouts into UnavailableError, …). */
    private readonly mapError: (err: unknown) => unknown,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /**
   * Queues `fn` for the next flush; resolves with its result once the transaction carrying it committed.
   * `fn` must touch nothing but the database: when another write of its batch throws, it runs again.
   */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      // setImmediate, not a microtask: replies that arrived in the same poll phase get to queue theirs.
      this.schedule(0);
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      this.flush();
    };
    if (delayMs === 0) setImmediate(flush);
    else setTimeout(flush, delayMs);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    if (!this.db.open) return this.rejectAll(this.pending.splice(0), new Error('the store is closed'));
    let begun: boolean;
    try {
      begun = this.tryBegin();
    } catch (err) {
      return this.rejectAll(this.pending.splice(0), err);
    }
    if (!begun) {
      this.counts.busy++;
      const now = Date.now();
      this.busySince ??= now;
      if (now - this.busySince < this.options.busyTimeoutMs) return this.schedule(1);
      this.busySince = null;
      return this.rejectAll(this.pending.splice(0), busyError(this.options.busyTimeoutMs));
    }
    this.busySince = null;
    const careful = this.careful;
    this.careful = false;
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length > 0) this.schedule(0);
    let settled: Settled[] | null;
    try {
      settled = careful ? this.applyEach(batch) : this.applyAll(batch);
      if (settled) this.commit.run();
      else this.rollback.run();
    } catch (err) {
      this.abandon();
      return this.rejectAll(batch, err instanceof TransactionFault ? err.fault : err);
    }
    if (!settled) {
      // A write threw, and nothing of the batch was kept: run it again, each write in its own savepoint.
      this.pending.unshift(...batch);
      this.careful = true;
      return this.schedule(0);
    }
    this.counts.transactions++;
    this.counts.writes += batch.length;
    batch.forEach((p, i) => {
      const s = settled[i]!;
      if (s.ok) p.resolve(s.value);
      else p.reject(this.mapError(s.err));
    });
  }

  /** Every write with no savepoint (the common case, and the cheap one); null as soon as one throws. */
  private applyAll(batch: Pending[]): Settled[] | null {
    const settled: Settled[] = [];
    for (const p of batch) {
      try {
        settled.push({ ok: true, value: p.fn() });
      } catch (err) {
        if (isTransactionFault(err)) throw new TransactionFault(err);
        return null;
      }
    }
    return settled;
  }

  /** Every write in its own savepoint, so one that throws is rolled back alone. */
  private applyEach(batch: Pending[]): Settled[] {
    return batch.map((p): Settled => {
      try {
        // Nested in the open transaction: better-sqlite3 runs it in a savepoint.
        return { ok: true, value: this.db.transaction(p.fn)() };
      } catch (err) {
        if (isTransactionFault(err)) throw new TransactionFault(err);
        return { ok: false, err };
      }
    });
  }

  /** BEGIN IMMEDIATE without waiting: false when another connection holds the write lock. */
  private tryBegin(): boolean {
    // Not a prepared statement: SQLite applies a pragma when it compiles it, not when it runs.
    this.db.pragma('busy_timeout = 0');
    try {
      this.begin.run();
      return true;
    } catch (err) {
      if (sqliteErrorCode(err) === 'SQLITE_BUSY') return false;
      throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${Math.floor(this.options.busyTimeoutMs)}`);
    }
  }

  /** Rolls back what is left of a failed transaction (SQLite may have rolled it back already). */
  private abandon(): void {
    try {
      if (this.db.inTransaction) this.rollback.run();
    } catch {
      // Nothing was committed; the connection ends the transaction when it can.
    }
  }

  private rejectAll(batch: Pending[], err: unknown): void {
    const mapped = this.mapError(err);
    for (const p of batch) p.reject(mapped);
  }
}

function isTransactionFault(err: unknown): boolean {
  return TRANSACTION_FAULTS.test(sqliteErrorCode(err) ?? '');
}

function busyError(ms: number): Error {
  const err = new Error(`database is locked (waited ${ms} ms for the write lock)`);
  return Object.assign(err, { name: 'SqliteError', code: 'SQLITE_BUSY' });
}
