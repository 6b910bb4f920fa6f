/**
 * The retention purge: deletes finished tasks, stopped or failed agents, audit entries, route events, route minutes
 * and finished workflows past their retention (TASKFLEET_RETENTION_*), in batches of TASKFLEET_PURGE_BATCH rows,
 * each batch its own short transaction, with TASKFLEET_PURGE_PAUSE_MS between batches so other writers get the
 * store, until nothing is due.
 *
 * Safe with several supervisors: a delete is conditional on status (or state) and age, so two purges only share
 * the rows; each counts what its own deletes removed. A kind whose delete fails (on Azure SQL, an identity
 * without the maintenance role) is logged and the others still run.
 */
import type { Logger } from 'pino';
import type { RetentionConfig } from '../config/config';
import type { AgentState } from '../domain/agent';
import type { Clock } from '../domain/clock';
import type { TaskStatus } from '../domain/task';
import type { Store } from '../store/port';

export const PURGE_KINDS = ['tasks', 'agents', 'audit', 'routeEvents', 'routeMinutes', 'workflows'] as const;
export type PurgeKind = (typeof PURGE_KINDS)[number];
export type PurgeCounts = Record<PurgeKind, number>;

/** Tasks kept for TASKFLEET_RETENTION_SUCCEEDED; dead ones have their own retention. */
const SUCCEEDED_LIKE: TaskStatus[] = ['succeeded', 'cancelled', 'expired'];
const GONE_AGENTS: AgentState[] = ['stopped', 'failed'];

/**
 * Finished workflows, with their steps and events, are kept as long as the longer of the two task retentions, so
 * a workflow (failed ones too) is never purged before its steps' tasks; either kept for ever (0) keeps them for ever.
 */
export function workflowRetentionMs(s: Pick<RetentionConfig, 'succeededMs' | 'deadMs'>): number {
  return s.succeededMs === 0 || s.deadMs === 0 ? 0 : Math.max(s.succeededMs, s.deadMs);
}

interface Job {
  kind: PurgeKind;
  name: string;
  retentionMs: number;
  /** Deletes one batch of what ended before `cutoff`. */
  batch: (cutoff: number, limit: number) => Promise<number>;
}

export class RetentionPurge {
  /** Rows this supervisor deleted since it started, per kind (`/v1/stats` → purged). */
  readonly purged: PurgeCounts = { tasks: 0, agents: 0, audit: 0, routeEvents: 0, routeMinutes: 0, workflows: 0 };
  private stopping = false;
  private readonly jobs: Job[];

  constructor(
    store: Store,
    private readonly settings: RetentionConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Told of every batch (the `/metrics` counters). */
    private readonly onPurged: (kind: PurgeKind, rows: number) => void = () => undefined,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.jobs = [
      {
        kind: 'tasks',
        name: 'succeeded, cancelled and expired tasks',
        retentionMs: settings.succeededMs,
        batch: (cutoff, limit) => store.purgeTasks({ statuses: SUCCEEDED_LIKE, finishedBefore: cutoff, limit }),
      },
      {
        kind: 'tasks',
        name: 'dead tasks',
        retentionMs: settings.deadMs,
        batch: (cutoff, limit) => store.purgeTasks({ statuses: ['dead'], finishedBefore: cutoff, limit }),
      },
      {
        kind: 'agents',
        name: 'stopped and failed agents',
        retentionMs: settings.agentsMs,
        batch: (cutoff, limit) => store.purgeAgents({ states: GONE_AGENTS, before: cutoff, limit }),
      },
      {
        kind: 'audit',
        name: 'audit entries',
        retentionMs: settings.auditMs,
        batch: (cutoff, limit) => store.purgeAudit({ before: cutoff, limit }),
      },
      {
        // Pauses, limits and circuit changes: kept as long as the audit log that records the admins' changes.
        kind: 'routeEvents',
        name: 'route events',
        retentionMs: settings.auditMs,
        batch: (cutoff, limit) => store.purgeRouteEvents({ before: cutoff, limit }),
      },
      {
        // Each route's counts per minute (the console's charts): kept as long as the succeeded tasks they count.
        kind: 'routeMinutes',
        name: 'route minutes',
        retentionMs: settings.succeededMs,
        batch: (cutoff, limit) => store.purgeRouteMinutes({ before: cutoff, limit }),
      },
      {
        kind: 'workflows',
        name: 'finished workflows',
        retentionMs: workflowRetentionMs(settings),
        batch: (cutoff, limit) => store.purgeWorkflows(cutoff, limit),
      },
    ];
  }

  /** One pass: every kind with a retention, batch after batch until a batch comes back short. Answers the rows deleted. */
  async pass(): Promise<PurgeCounts> {
    const deleted: PurgeCounts = { tasks: 0, agents: 0, audit: 0, routeEvents: 0, routeMinutes: 0, workflows: 0 };
    for (const job of this.jobs) {
      if (job.retentionMs === 0 || this.stopping) continue;
      try {
        deleted[job.kind] += await this.drain(job);
      } catch (err) {
        this.log.warn({ err, purge: job.name }, 'retention purge failed; the next pass tries again');
      }
    }
    const total = Object.values(deleted).reduce((a, b) => a + b, 0);
    if (total > 0) this.log.info({ purged: deleted }, 'purged rows past their retention');
    return deleted;
  }

  /** Ends a running pass after its current batch (a pass over a large backlog may run for minutes). */
  stop(): void {
    this.stopping = true;
  }

  private async drain(job: Job): Promise<number> {
    // One cutoff per pass: rows finishing while it runs wait for the next pass, so the pass ends.
    const cutoff = this.clock.now() - job.retentionMs;
    const limit = this.settings.batch;
    let total = 0;
    while (!this.stopping) {
      const rows = await job.batch(cutoff, limit);
      total += rows;
      this.purged[job.kind] += rows;
      if (rows > 0) this.onPurged(job.kind, rows);
      if (rows < limit) break;
      if (this.settings.pauseMs > 0) await this.sleep(this.settings.pauseMs);
    }
    return total;
  }
}
