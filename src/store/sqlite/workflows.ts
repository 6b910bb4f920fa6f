/** Workflows, their steps and their event log in the SQLite adapter. Twin of `mssql/workflows.ts`. */
import { ConflictError } from '../../domain/errors';
import { workflowIdempotencyConflictMessage, workflowUnknownStepMessage } from '../../domain/storeRules';
import type { NewWorkflowEvent, WorkflowEvent, WorkflowRecord, WorkflowSummary } from '../../domain/workflow';
import type { NewWorkflow, WorkflowChange, WorkflowFilter, WorkflowStore } from '../workflowPort';
import { nullableJson, stepParams, workflowMappers } from '../workflowRows';
import type { SqliteRunners } from './schedules';
import type { SqliteStatements } from './statements';

const map = workflowMappers<number, number, number>({ time: (v) => v, flag: (v) => v !== 0, seq: (v) => v });

export class SqliteWorkflows implements WorkflowStore {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  /**
   * Inside one write transaction (BEGIN IMMEDIATE): the key read is the row the insert competes with, so of two
   * inserts with the same key one inserts and the other answers it (or conflicts).
   */
  insertWorkflow(w: NewWorkflow): Promise<{ workflow: WorkflowRecord; created: boolean }> {
    return this.runners.write(() => {
      const sql = this.statements.workflows;
      if (w.idempotencyKey !== null) {
        const existing = sql.selectByKey.get({ key: w.idempotencyKey });
        if (existing) {
          if (existing.request_hash !== w.requestHash) {
            throw new ConflictError(workflowIdempotencyConflictMessage(w.idempotencyKey, existing.id));
          }
          return {
            workflow: map.toWorkflow(existing, sql.selectSteps.all({ workflowId: existing.id })),
            created: false,
          };
        }
      }
      sql.insertWorkflow.run({
        id: w.id,
        name: w.name,
        submittedBy: w.submittedBy,
        idempotencyKey: w.idempotencyKey,
        requestHash: w.requestHash,
        spec: JSON.stringify(w.spec),
        createdAt: w.createdAt,
      });
      w.spec.forEach((step, ord) => sql.insertStep.run({ workflowId: w.id, stepId: step.id, ord, now: w.createdAt }));
      this.appendEvent(w.id, { at: w.createdAt, kind: 'submitted', step: null, round: null, data: null });
      const workflow = this.readWorkflow(w.id);
      if (!workflow) throw new Error(`workflow ${w.id} was inserted but cannot be read back`);
      return { workflow, created: true };
    });
  }

  getWorkflow(id: string): Promise<WorkflowRecord | null> {
    return this.runners.read(() => this.readWorkflow(id));
  }

  listWorkflows(filter: WorkflowFilter): Promise<WorkflowSummary[]> {
    return this.runners.read(() => {
      const sql = this.statements.workflows;
      const params = {
        state: filter.state ?? null,
        submittedBy: filter.submittedBy ?? null,
        beforeId: filter.beforeId ?? null,
        limit: filter.limit,
      };
      const statement =
        params.submittedBy !== null
          ? sql.selectWorkflowsBySubmitter
          : params.state !== null
            ? sql.selectWorkflowsByState
            : sql.selectWorkflows;
      return statement.all(params).map(map.toSummary);
    });
  }

  listWorkflowEvents(opts: { workflowId: string; afterSeq: number; limit: number }): Promise<WorkflowEvent[]> {
    return this.runners.read(() => this.statements.workflows.selectEvents.all(opts).map(map.toEvent));
  }

  listWorkflowEventsOfKinds(opts: Parameters<WorkflowStore['listWorkflowEventsOfKinds']>[0]): Promise<WorkflowEvent[]> {
    const { afterSeq, upToSeq, limit } = opts;
    return this.runners.read(() =>
      this.statements.workflows.selectEventsOfKinds
        .all({ afterSeq, upToSeq, limit, kinds: JSON.stringify(opts.kinds) })
        .map(map.toEvent),
    );
  }

  lastWorkflowEventSeq(): Promise<number> {
    return this.runners.read(() => this.statements.workflows.selectLastEventSeq.get()?.seq ?? 0);
  }

  /** Inside one write transaction: the steps and events are written only when the version was still expected. */
  applyWorkflowChange(change: WorkflowChange): Promise<boolean> {
    return this.runners.write(() => {
      const sql = this.statements.workflows;
      const applied = sql.applyChange.run({
        id: change.workflowId,
        expectedVersion: change.expectedVersion,
        state: change.state,
        error: nullableJson(change.error),
        finishedAt: change.finishedAt,
        dirty: change.dirty ? 1 : 0,
        now: change.now,
      });
      if (applied.changes !== 1) return false;
      for (const step of change.steps) {
        if (sql.updateStep.run({ workflowId: change.workflowId, ...stepParams(step) }).changes !== 1) {
          // A plan naming a step the workflow lacks is a bug: throwing rolls the whole change back.
          throw new Error(workflowUnknownStepMessage(change.workflowId, step.id));
        }
      }
      for (const event of change.events) this.appendEvent(change.workflowId, event);
      return true;
    });
  }

  listWorkflowsToAdvance(limit: number): Promise<string[]> {
    return this.runners.read(() => this.statements.workflows.selectToAdvance.all({ limit }).map((row) => row.id));
  }

  /** Inside one write transaction: the select and the deletes see the same rows; children first (foreign keys). */
  purgeWorkflows(before: number, limit: number): Promise<number> {
    return this.runners.write(() => {
      const sql = this.statements.workflows;
      const ids = sql.purgeSelect.all({ before, limit }).map((row) => row.id);
      if (ids.length === 0) return 0;
      const idList = JSON.stringify(ids);
      sql.purgeEvents.run({ ids: idList });
      sql.purgeSteps.run({ ids: idList });
      return sql.purgeWorkflows.run({ ids: idList, before }).changes;
    });
  }

  private readWorkflow(id: string): WorkflowRecord | null {
    const row = this.statements.workflows.selectWorkflow.get({ id });
    return row ? map.toWorkflow(row, this.statements.workflows.selectSteps.all({ workflowId: id })) : null;
  }

  private appendEvent(workflowId: string, event: NewWorkflowEvent): void {
    this.statements.workflows.insertEvent.run({
      workflowId,
      at: event.at,
      kind: event.kind,
      stepId: event.step,
      round: event.round,
      data: nullableJson(event.data),
    });
  }
}
