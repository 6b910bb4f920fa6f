/** The retention purge of the SQLite adapter (src/store/purgePort.ts). Twin of `mssql/purge.ts`. */
import type { AgentState } from '../../domain/agent';
import type { TaskStatus } from '../../domain/task';
import type { SqliteStatements } from './statements';

/** Runs inside one write transaction: the select and the deletes see the same rows. */
export function purgeTasks(
  statements: SqliteStatements,
  opts: { statuses: TaskStatus[]; finishedBefore: number; limit: number },
): number {
  const statuses = JSON.stringify(opts.statuses);
  const { finishedBefore, limit } = opts;
  const ids = statements.purge.selectTasks.all({ statuses, finishedBefore, limit }).map((r) => r.id);
  if (ids.length === 0) return 0;
  const idList = JSON.stringify(ids);
  statements.purge.deleteWebhookDeliveries.run({ ids: idList });
  return statements.purge.deleteTasks.run({ ids: idList, statuses, finishedBefore }).changes;
}

export function purgeAgents(
  statements: SqliteStatements,
  opts: { states: AgentState[]; before: number; limit: number },
): number {
  return statements.purge.deleteAgents.run({
    states: JSON.stringify(opts.states),
    before: opts.before,
    limit: opts.limit,
  }).changes;
}

export function purgeAudit(statements: SqliteStatements, opts: { before: number; limit: number }): number {
  return statements.purge.deleteAudit.run(opts).changes;
}
