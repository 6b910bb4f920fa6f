/** The retention purge of the mssql adapter (src/store/purgePort.ts): one statement per batch. Twin of `sqlite/purge.ts`. */
import type { AgentState } from '../../domain/agent';
import type { TaskStatus } from '../../domain/task';
import type { PurgeStore } from '../purgePort';
import type { SqlClient } from './client';
import * as statements from './statements/purge';

const deleted = (row: { deleted?: number | null } | null) => Number(row?.deleted ?? 0);

export class MssqlPurge implements PurgeStore {
  constructor(private readonly db: SqlClient) {}

  async purgeTasks(opts: { statuses: TaskStatus[]; finishedBefore: number; limit: number }): Promise<number> {
    if (opts.statuses.length === 0) return 0;
    return deleted(
      await this.db.one<string, { deleted: number }>(statements.PURGE_TASKS, {
        statuses: JSON.stringify(opts.statuses),
        finishedBefore: opts.finishedBefore,
        limit: opts.limit,
      }),
    );
  }

  async purgeAgents(opts: { states: AgentState[]; before: number; limit: number }): Promise<number> {
    if (opts.states.length === 0) return 0;
    return deleted(
      await this.db.one<string, { deleted: number }>(statements.PURGE_AGENTS, {
        states: JSON.stringify(opts.states),
        before: opts.before,
        limit: opts.limit,
      }),
    );
  }

  async purgeAudit(opts: { before: number; limit: number }): Promise<number> {
    return deleted(await this.db.one<string, { deleted: number }>(statements.PURGE_AUDIT, opts));
  }
}
