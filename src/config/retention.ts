/**
 * The retention part of the configuration: how long finished rows are kept and how the supervisor's purge deletes
 * them (src/supervisor/purge.ts). Its variables are merged into the schema of config.ts, as mssql.ts's are.
 */
import type { z } from 'zod';
import { duration, int } from './values';

export const retentionVariables = {
  TASKFLEET_RETENTION_SUCCEEDED: duration.default(7 * 86_400_000),
  TASKFLEET_RETENTION_DEAD: duration.default(30 * 86_400_000),
  TASKFLEET_RETENTION_AGENTS: duration.default(7 * 86_400_000),
  TASKFLEET_RETENTION_AUDIT: duration.default(365 * 86_400_000),
  TASKFLEET_PURGE_BATCH: int(1, 100_000).default(1_000),
  TASKFLEET_PURGE_PAUSE_MS: int(0).default(100),
  TASKFLEET_PURGE_INTERVAL_MS: int(100).default(60_000),
};

type RetentionEnv = z.output<z.ZodObject<typeof retentionVariables>>;

export interface RetentionConfig {
  /** Tasks that succeeded, were cancelled or expired. */
  succeededMs: number;
  deadMs: number;
  /** Stopped or failed agents (from their last heartbeat), with their events. */
  agentsMs: number;
  auditMs: number;
  /** Rows per delete (one short transaction). */
  batch: number;
  /** Between two batches of one pass. */
  pauseMs: number;
  /** Between passes. */
  intervalMs: number;
}

export function toRetentionConfig(e: RetentionEnv): RetentionConfig {
  return {
    succeededMs: e.TASKFLEET_RETENTION_SUCCEEDED,
    deadMs: e.TASKFLEET_RETENTION_DEAD,
    agentsMs: e.TASKFLEET_RETENTION_AGENTS,
    auditMs: e.TASKFLEET_RETENTION_AUDIT,
    batch: e.TASKFLEET_PURGE_BATCH,
    pauseMs: e.TASKFLEET_PURGE_PAUSE_MS,
    intervalMs: e.TASKFLEET_PURGE_INTERVAL_MS,
  };
}

/** The variables that configure `r`: durations written in milliseconds, which the parser reads back exactly. */
export function retentionToEnv(r: RetentionConfig): Record<string, string> {
  return {
    TASKFLEET_RETENTION_SUCCEEDED: `${r.succeededMs}ms`,
    TASKFLEET_RETENTION_DEAD: `${r.deadMs}ms`,
    TASKFLEET_RETENTION_AGENTS: `${r.agentsMs}ms`,
    TASKFLEET_RETENTION_AUDIT: `${r.auditMs}ms`,
    TASKFLEET_PURGE_BATCH: String(r.batch),
    TASKFLEET_PURGE_PAUSE_MS: String(r.pauseMs),
    TASKFLEET_PURGE_INTERVAL_MS: String(r.intervalMs),
  };
}
