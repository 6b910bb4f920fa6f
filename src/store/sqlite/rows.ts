/** Rows as SQLite returns them, mapped to the domain records by the shared mapping (../rowMapping.ts). */

/**
 * Whether `err` is an error from SQLite, with its code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, …).
 * Checked by shape rather than `instanceof Database.SqliteError`: the native addon keeps the error class of
 * the first copy of better-sqlite3 loaded in a process, so under several module registries (jest) the class
 * differs from the one this module sees.
 */
export function sqliteErrorCode(err: unknown): string | null {
  // Not even `instanceof Error`: under jest the addon's errors come from another realm.
  if (typeof err !== 'object' || err === null) return null;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name === 'SqliteError' && typeof code === 'string' ? code : null;
}
import type * as agentRows from '../agentRows';
export { registrationParams } from '../agentRows';
import * as rowMapping from '../rowMapping';

export {
  fromJson,
  poolParams,
  toJson,
  toLease,
  toRoute,
  toTaskHead,
  type LeaseDbRow,
  type RouteRow,
} from '../rowMapping';

/** SQLite returns times as epoch ms (INTEGER), flags as 0/1 and sequence numbers as numbers. */
const COLUMNS: rowMapping.ColumnTypes<number, number, number> = {
  time: (v) => v,
  flag: (v) => v !== 0,
  seq: (v) => v,
};

export interface TaskRow extends rowMapping.TaskRowOf<number, number> {
  route_key: string;
  dispatched_at: number;
}
export type TaskEventRow = rowMapping.TaskEventRowOf<number, number>;
export type DispatchDbRow = rowMapping.DispatchRowOf<number>;
export type AgentRow = agentRows.AgentRowOf<number>;
export type AgentSampleRow = agentRows.AgentSampleRowOf<number>;
export type AgentEventRow = agentRows.AgentEventRowOf<number, number>;
export type ApiKeyRow = rowMapping.ApiKeyRowOf<number>;
export type AuditRow = rowMapping.AuditRowOf<number, number>;

export type RouteStatsRow = rowMapping.RouteStatsRowOf<number>;
export type AgentRunRow = agentRows.AgentRunRowOf<number>;
export type PoolRow = rowMapping.PoolRowOf<number>;

export const {
  toTask,
  toTaskEvent,
  toDispatch,
  toAgent,
  toAgentEvent,
  toAgentSample,
  toApiKey,
  toAuditEntry,
  toRouteStats,
  toAgentRun,
  toPool,
} = rowMapping.rowMappers(COLUMNS);
