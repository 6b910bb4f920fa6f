/**
 * Keeps Redis in step with SQL, cheaply when nothing is wrong.
 *
 * A sentinel key marks a Redis that has seen a full pass. When it is missing (FLUSHALL, a restarted
 * Redis without persistence, a failover to an empty replica) every queued task is re-sent. Otherwise only
 * queued tasks whose last dispatch is older than the grace period are checked, and the ones whose job is
 * missing are re-sent: that covers a supervisor that crashed between commit and enqueue, an enqueue that
 * failed on a dead Redis, and a job lost without a claim. A task sent in a dispatch batch counts as present
 * while its batch's job is (Dispatcher.missing follows its marker). Re-sending is harmless: a claim is
 * conditional on the attempt, so a second dispatch of one attempt runs nothing twice.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import type { Store } from '../store/port';
import type { Dispatcher } from './dispatcher';

export interface ReconcileResult {
  mode: 'full' | 'stale';
  checked: number;
  sent: number;
}

export class Reconciler {
  private readonly sentinelKey: string;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly opts: { graceMs: number; batchSize?: number; maxBatchesPerPass?: number },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.sentinelKey = `${dispatcher.prefix}:reconciler:sentinel`;
  }

  async reconcile(): Promise<ReconcileResult> {
    const full = (await this.dispatcher.redis.exists(this.sentinelKey)) === 0;
    const result = full ? await this.fullPass() : await this.stalePass();
    if (full) {
      await this.dispatcher.redis.set(this.sentinelKey, String(this.clock.now()));
      this.log.info(result, 'reconciler: Redis had no sentinel (new, flushed or replaced); re-sent every queued task');
    } else if (result.sent > 0) {
      this.log.warn(result, 'reconciler: re-sent queued tasks that were missing from Redis');
    }
    return result;
  }

  private async fullPass(): Promise<ReconcileResult> {
    const batchSize = this.opts.batchSize ?? 500;
    let afterId: string | undefined;
    let sent = 0;
    for (;;) {
      const rows = await this.store.listQueuedForDispatch({ ...(afterId ? { afterId } : {}), limit: batchSize });
      if (rows.length === 0) break;
      const now = this.clock.now();
      await this.dispatcher.send(rows, now);
      await this.store.markDispatched(
        rows.map((r) => r.id),
        now,
      );
      sent += rows.length;
      afterId = rows[rows.length - 1]?.id;
      if (rows.length < batchSize) break;
    }
    return { mode: 'full', checked: sent, sent };
  }

  private async stalePass(): Promise<ReconcileResult> {
    const batchSize = this.opts.batchSize ?? 500;
    const maxBatches = this.opts.maxBatchesPerPass ?? 20;
    let checked = 0;
    let sent = 0;
    let afterId: string | undefined;
    for (let i = 0; i < maxBatches; i++) {
      const now = this.clock.now();
      const rows = await this.store.listQueuedForDispatch({
        ...(afterId ? { afterId } : {}),
        dueBefore: now - this.opts.graceMs,
        limit: batchSize,
      });
      if (rows.length === 0) break;
      const missing = await this.dispatcher.missing(rows);
      if (missing.length > 0) await this.dispatcher.send(missing, now);
      await this.store.markDispatched(
        rows.map((r) => r.id),
        now,
      );
      checked += rows.length;
      sent += missing.length;
      afterId = rows[rows.length - 1]?.id;
      if (rows.length < batchSize) break;
    }
    return { mode: 'stale', checked, sent };
  }
}
