/**
 * Rows as tedious returns them, mapped to the domain records by the shared mapping (../rowMapping.ts).
 *
 * Times: the port speaks epoch milliseconds; the columns are datetime2(3) in UTC. With `useUTC` (set in
 * connection.ts) tedious sends a Date as UTC and reads datetime2 back as a UTC Date, both at millisecond
 * precision, so `new Date(ms)` → datetime2(3) → `getTime()` returns `ms` exactly. A fractional millisecond (the
 * port never makes one) would be truncated.
 *
 * bigint columns (event and audit sequence numbers) arrive as strings; they stay far below 2^53.
 */
import type * as agentRows from '../agentRows';
export { registrationParams } from '../agentRows';
import * as rowMapping from '../rowMapping';

export function toDate(ms: number): Date {
  return new Date(ms);
}

/** 'YYYY-MM-DDTHH:mm:ss.fff' (UTC, no zone): the form OPENJSON … WITH (x datetime2(3)) converts exactly. */
export function toIsoMs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23);
}

export function fromDate(value: Date): number;
export function fromDate(value: Date | null): number | null;
export function fromDate(value: Date | null): number | null {
  return value === null ? null : value.getTime();
}

/** A bigint column (tedious returns it as a string). */
export function fromBigint(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

export {
  fromJson,
  poolParams,
  toJson,
  toLease,
  toRoute,
  toTaskHead,
  type LeaseDbRow,
  type RouteRow,
  type TaskHeadRow,
} from '../rowMapping';

/** tedious returns datetime2 as UTC Dates, bit as booleans and bigint as strings. */
export const COLUMNS: rowMapping.ColumnTypes<Date, boolean, string | number> = {
  time: fromDate,
  flag: (v) => v,
  seq: fromBigint,
};

export type TaskRow = rowMapping.TaskRowOf<Date, boolean>;
export type TaskEventRow = rowMapping.TaskEventRowOf<Date, string | number>;
export type DispatchDbRow = rowMapping.DispatchRowOf<Date>;
export type AgentRow = agentRows.AgentRowOf<Date>;
export type AgentSampleRow = agentRows.AgentSampleRowOf<Date>;
export type AgentEventRow = agentRows.AgentEventRowOf<Date, string | number>;
export type ApiKeyRow = rowMapping.ApiKeyRowOf<Date>;
export type AuditRow = rowMapping.AuditRowOf<Date, string | number>;

export type RouteStatsRow = rowMapping.RouteStatsRowOf<Date>;
export type AgentRunRow = agentRows.AgentRunRowOf<Date>;
export type PoolRow = rowMapping.PoolRowOf<Date>;

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
