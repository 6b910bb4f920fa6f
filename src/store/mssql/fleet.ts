/**
 * Fleet control and stats of the mssql adapter (twin of `sqlite/fleet.ts`): the rows of
 * `statements/fleet.ts` as the port's records.
 */
import type { AgentRun, RouteStats } from '../port';
import { fromDate } from './rows';

export type AgentRunRow = { at: Date; kind: string; run_ms: string | null };

export type RouteStatsRow = {
  type: string;
  capabilities: string;
  queued: number;
  delayed: number;
  running: number;
  dead: number;
  oldest_queued_at: Date | null;
};

/** JSON_VALUE returns text: a run time that is missing or not a number (an event written before runMs) is null. */
export function toAgentRun(row: AgentRunRow): AgentRun {
  const runMs = row.run_ms === null ? NaN : Number(row.run_ms);
  return {
    at: fromDate(row.at),
    outcome: row.kind as AgentRun['outcome'],
    runMs: Number.isFinite(runMs) ? runMs : null,
  };
}

export function toRouteStats(row: RouteStatsRow): RouteStats {
  return {
    type: row.type,
    capabilities: JSON.parse(row.capabilities) as string[],
    queued: row.queued,
    delayed: row.delayed,
    running: row.running,
    dead: row.dead,
    oldestQueuedAt: fromDate(row.oldest_queued_at),
  };
}
