/** Workflows, their steps and their event log in the mssql adapter: one batch per call. Twin of `sqlite/workflows.ts`. */
import { ConflictError } from '../../domain/errors';
import { workflowIdempotencyConflictMessage } from '../../domain/storeRules';
import type { WorkflowEvent, WorkflowRecord, WorkflowSummary } from '../../domain/workflow';
import type { NewWorkflow, WorkflowChange, WorkflowFilter, WorkflowStore } from '../workflowPort';
import {
  nullableJson,
  stepParams,
  workflowMappers,
  type WorkflowEventRowOf,
  type WorkflowRowOf,
  type WorkflowStepRowOf,
  type WorkflowSummaryRowOf,
} from '../workflowRows';
import type { SqlClient } from './client';
import { COLUMNS, fromBigint, toIsoMs } from './rows';
import * as statements from './statements/workflows';

const map = workflowMappers(COLUMNS);
type WorkflowRow = WorkflowRowOf<Date, boolean>;
type StepRow = WorkflowStepRowOf<Date>;
type EventRow = WorkflowEventRowOf<Date, string | number>;

export class MssqlWorkflows implements WorkflowStore {
  constructor(private readonly db: SqlClient) {}

  async insertWorkflow(w: NewWorkflow): Promise<{ workflow: WorkflowRecord; created: boolean }> {
    const [outcomes = [], rows = [], steps = []] = await this.db.run(statements.INSERT_WORKFLOW, {
      id: w.id,
      name: w.name,
      submittedBy: w.submittedBy,
      idempotencyKey: w.idempotencyKey,
      requestHash: w.requestHash,
      spec: JSON.stringify(w.spec),
      steps: JSON.stringify(w.spec.map((step, ord) => ({ ord, id: step.id }))),
      createdAt: w.createdAt,
    });
    const outcome = outcomes[0] as { id: string; outcome: 'created' | 'replay' | 'conflict' } | undefined;
    if (outcome?.outcome === 'conflict') {
      throw new ConflictError(workflowIdempotencyConflictMessage(w.idempotencyKey ?? '', outcome.id));
    }
    const row = rows[0] as WorkflowRow | undefined;
    if (!outcome || !row) throw new Error(`mssql: INSERT_WORKFLOW answered no workflow for ${w.id}`);
    return { workflow: map.toWorkflow(row, steps as unknown as StepRow[]), created: outcome.outcome === 'created' };
  }

  async getWorkflow(id: string): Promise<WorkflowRecord | null> {
    // An id longer than the column cannot be a workflow's (and would not bind).
    if (id.length > 64) return null;
    const [rows = [], steps = []] = await this.db.run(statements.SELECT_WORKFLOW, { id });
    const row = rows[0] as WorkflowRow | undefined;
    return row ? map.toWorkflow(row, steps as unknown as StepRow[]) : null;
  }

  async listWorkflows(filter: WorkflowFilter): Promise<WorkflowSummary[]> {
    const rows = await this.db.all<string, WorkflowSummaryRowOf<Date, boolean>>(statements.SELECT_WORKFLOWS, {
      state: filter.state ?? null,
      submittedBy: filter.submittedBy ?? null,
      beforeId: filter.beforeId ?? null,
      limit: filter.limit,
    });
    return rows.map(map.toSummary);
  }

  async listWorkflowEvents(opts: { workflowId: string; afterSeq: number; limit: number }): Promise<WorkflowEvent[]> {
    if (opts.workflowId.length > 64) return [];
    return (await this.db.all<string, EventRow>(statements.SELECT_WORKFLOW_EVENTS, opts)).map(map.toEvent);
  }

  async listWorkflowEventsOfKinds(
    opts: Parameters<WorkflowStore['listWorkflowEventsOfKinds']>[0],
  ): Promise<WorkflowEvent[]> {
    const { afterSeq, upToSeq, limit } = opts;
    const rows = await this.db.all<string, EventRow>(statements.SELECT_WORKFLOW_EVENTS_OF_KINDS, {
      afterSeq,
      upToSeq,
      kinds: JSON.stringify(opts.kinds),
      limit,
    });
    return rows.map(map.toEvent);
  }

  async lastWorkflowEventSeq(): Promise<number> {
    const row = await this.db.one<never, { seq: string | number }>(statements.SELECT_LAST_WORKFLOW_EVENT_SEQ, {});
    return row ? fromBigint(row.seq) : 0;
  }

  async applyWorkflowChange(change: WorkflowChange): Promise<boolean> {
    const sets = await this.db.run(statements.APPLY_WORKFLOW_CHANGE, {
      id: change.workflowId,
      expectedVersion: change.expectedVersion,
      state: change.state,
      error: nullableJson(change.error),
      finishedAt: change.finishedAt,
      dirty: change.dirty,
      now: change.now,
      steps: JSON.stringify(
        change.steps.map((step) => {
          const params = stepParams(step);
          return { ...params, updatedAt: toIsoMs(params.updatedAt) };
        }),
      ),
      events: JSON.stringify(
        change.events.map((event, ord) => ({
          ord,
          at: toIsoMs(event.at),
          kind: event.kind,
          step: event.step,
          round: event.round,
          data: nullableJson(event.data),
        })),
      ),
    });
    return Number((sets.at(-1)?.[0] as { changed?: number } | undefined)?.changed ?? 0) === 1;
  }

  async listWorkflowsToAdvance(limit: number): Promise<string[]> {
    const rows = await this.db.all<'limit', { id: string }>(statements.SELECT_WORKFLOWS_TO_ADVANCE, { limit });
    return rows.map((row) => row.id);
  }

  async purgeWorkflows(before: number, limit: number): Promise<number> {
    const sets = await this.db.run(statements.PURGE_WORKFLOWS, { before, limit });
    return Number((sets.at(-1)?.[0] as { deleted?: number } | undefined)?.deleted ?? 0);
  }
}
