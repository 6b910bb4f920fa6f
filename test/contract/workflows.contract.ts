/**
 * Contract: workflows, the state of their steps and their event log (src/store/workflowPort.ts): the insert with
 * its idempotency, the version-conditional change, what needs a pass, the lists, and the purge.
 */
import { v7 as uuidv7 } from 'uuid';
import { ConflictError } from '../../src/domain/errors';
import type { StepRecord, StepSpec, WorkflowTaskContext } from '../../src/domain/workflow';
import { DataKeyRing } from '../../src/security/dataKeys';
import type { Store } from '../../src/store/port';
import { sealStore } from '../../src/store/sealedStore';
import type { NewWorkflow, WorkflowChange } from '../../src/store/workflowPort';
import type { CurrentStore } from './store.contract';
import { claim, leaseOf, mustGet, newTask, submit, T0 } from './fixtures';

const SPEC: StepSpec[] = [
  {
    id: 'build',
    task: { type: 'echo', requiredCapabilities: [], priority: 'normal', payload: { n: 1 } },
    needs: [],
    maxRounds: 3,
    onExhausted: 'fail',
    onFailure: 'fail',
  },
  {
    id: 'review',
    task: { type: 'echo', requiredCapabilities: [], priority: 'normal', payload: { review: true } },
    needs: ['build'],
    validates: 'build',
    maxRounds: 2,
    onExhausted: 'approval',
    onFailure: 'fail',
  },
  {
    id: 'ship',
    approval: { role: 'admin', note: 'last look' },
    needs: ['review'],
    maxRounds: 3,
    onExhausted: 'fail',
    onFailure: 'continue',
  },
];

function newWorkflow(overrides: Partial<NewWorkflow> = {}): NewWorkflow {
  return {
    id: uuidv7(),
    name: 'release',
    submittedBy: 'key-a',
    idempotencyKey: null,
    requestHash: null,
    spec: SPEC,
    createdAt: T0,
    ...overrides,
  };
}

const pending = (id: string): StepRecord => ({
  id,
  state: 'pending',
  round: 0,
  taskIds: [],
  result: null,
  error: null,
  feedback: null,
  updatedAt: T0,
});

/** A change of `workflowId` from `expectedVersion` that only marks it clean (the engine's pass with nothing to do). */
function change(workflowId: string, expectedVersion: number, overrides: Partial<WorkflowChange> = {}): WorkflowChange {
  return {
    workflowId,
    expectedVersion,
    state: 'running',
    error: null,
    finishedAt: null,
    steps: [],
    events: [],
    dirty: false,
    now: T0 + 1_000,
    ...overrides,
  };
}

async function insert(store: Store, overrides: Partial<NewWorkflow> = {}) {
  return (await store.insertWorkflow(newWorkflow(overrides))).workflow;
}

/** Releases `build` on a task (round 1, running) and marks the workflow clean: the engine's first pass. */
async function release(store: Store, workflowId: string, taskId: string, version = 0): Promise<void> {
  const running: StepRecord = { ...pending('build'), state: 'running', round: 1, taskIds: [taskId], updatedAt: T0 + 1 };
  const events = [{ at: T0 + 1, kind: 'step_released' as const, step: 'build', round: 1, data: { taskId } }];
  expect(await store.applyWorkflowChange(change(workflowId, version, { steps: [running], events }))).toBe(true);
}

export function workflowsContract(store: CurrentStore): void {
  describe('workflows', () => {
    it('inserts a workflow with every step pending at round 0 and a submitted event, and reads it back', async () => {
      const w = newWorkflow({ idempotencyKey: 'key-a:release-1', requestHash: 'h1' });
      const { workflow, created } = await store().insertWorkflow(w);
      expect(created).toBe(true);
      const expected = {
        id: w.id,
        name: 'release',
        state: 'running',
        version: 0,
        submittedBy: 'key-a',
        idempotencyKey: 'key-a:release-1',
        requestHash: 'h1',
        spec: SPEC,
        steps: [pending('build'), pending('review'), pending('ship')],
        error: null,
        createdAt: T0,
        updatedAt: T0,
        finishedAt: null,
      };
      expect(workflow).toEqual(expected);
      expect(await store().getWorkflow(w.id)).toEqual(expected);
      expect(await store().getWorkflow('unknown')).toBeNull();
      const events = await store().listWorkflowEvents({ workflowId: w.id, afterSeq: 0, limit: 10 });
      expect(events).toEqual([
        { seq: expect.any(Number), workflowId: w.id, at: T0, kind: 'submitted', step: null, round: null, data: null },
      ]);
      // A new workflow needs a pass: its first steps are not released yet.
      expect(await store().listWorkflowsToAdvance(10)).toEqual([w.id]);
    });

    it('answers the same idempotency key and hash with the stored workflow, and another hash with a conflict', async () => {
      const first = await insert(store(), { idempotencyKey: 'k1', requestHash: 'h1' });
      const again = await store().insertWorkflow(newWorkflow({ idempotencyKey: 'k1', requestHash: 'h1', name: 'x' }));
      expect(again).toEqual({ workflow: first, created: false });
      const other = newWorkflow({ idempotencyKey: 'k1', requestHash: 'h2' });
      await expect(store().insertWorkflow(other)).rejects.toBeInstanceOf(ConflictError);
      await expect(store().insertWorkflow(other)).rejects.toThrow(first.id);
      // Nothing of the refused insert was written.
      expect(await store().getWorkflow(other.id)).toBeNull();
      expect(await store().listWorkflows({ limit: 10 })).toHaveLength(1);
      expect(await store().lastWorkflowEventSeq()).toBe(
        (await store().listWorkflowEvents({ workflowId: first.id, afterSeq: 0, limit: 10 }))[0]?.seq,
      );
    });

    it('inserts one workflow when two inserts with the same key race', async () => {
      const [a, b] = await Promise.all([
        store().insertWorkflow(newWorkflow({ idempotencyKey: 'race', requestHash: 'h' })),
        store().insertWorkflow(newWorkflow({ idempotencyKey: 'race', requestHash: 'h' })),
      ]);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      expect(a.workflow.id).toBe(b.workflow.id);
      expect(await store().listWorkflows({ limit: 10 })).toHaveLength(1);
    });

    it('applies a change at the expected version: state, steps and events in one write, the version bumped', async () => {
      const w = await insert(store());
      const task = await submit(store());
      const build: StepRecord = {
        id: 'build',
        state: 'succeeded',
        round: 2,
        taskIds: ['t-1', task.id],
        result: { artifact: 'a.tgz' },
        error: null,
        feedback: { fix: 'tests' },
        updatedAt: T0 + 2_000,
      };
      const review: StepRecord = {
        ...pending('review'),
        state: 'failed',
        round: 1,
        taskIds: ['t-2'],
        error: { message: 'no', kind: 'handler' },
        updatedAt: T0 + 2_000,
      };
      const events = [
        { at: T0 + 2_000, kind: 'step_succeeded' as const, step: 'build', round: 2, data: { taskId: task.id } },
        { at: T0 + 2_001, kind: 'failed' as const, step: null, round: null, data: null },
      ];
      const failed = change(w.id, 0, {
        state: 'failed',
        error: { message: 'review failed', kind: 'step_failed' },
        finishedAt: T0 + 2_001,
        steps: [build, review],
        events,
        now: T0 + 2_001,
      });
      expect(await store().applyWorkflowChange(failed)).toBe(true);
      expect(await store().getWorkflow(w.id)).toEqual({
        ...w,
        state: 'failed',
        version: 1,
        error: { message: 'review failed', kind: 'step_failed' },
        updatedAt: T0 + 2_001,
        finishedAt: T0 + 2_001,
        steps: [build, review, pending('ship')],
      });
      const log = await store().listWorkflowEvents({ workflowId: w.id, afterSeq: 0, limit: 10 });
      expect(log.map((e) => [e.kind, e.step, e.round, e.data])).toEqual([
        ['submitted', null, null, null],
        ['step_succeeded', 'build', 2, { taskId: task.id }],
        ['failed', null, null, null],
      ]);
      expect(log.map((e) => e.seq)).toEqual([...log.map((e) => e.seq)].sort((x, y) => x - y));
    });

    it('refuses a change at a stale version and writes nothing of it', async () => {
      const w = await insert(store());
      expect(await store().applyWorkflowChange(change(w.id, 0))).toBe(true);
      const before = await store().getWorkflow(w.id);
      const stale = change(w.id, 0, {
        state: 'cancelled',
        finishedAt: T0 + 5_000,
        steps: [{ ...pending('build'), state: 'cancelled', updatedAt: T0 + 5_000 }],
        events: [{ at: T0 + 5_000, kind: 'cancelled', step: null, round: null, data: null }],
        dirty: true,
      });
      expect(await store().applyWorkflowChange(stale)).toBe(false);
      expect(await store().getWorkflow(w.id)).toEqual(before);
      expect(before?.version).toBe(1);
      expect(
        (await store().listWorkflowEvents({ workflowId: w.id, afterSeq: 0, limit: 10 })).map((e) => e.kind),
      ).toEqual(['submitted']);
      expect(await store().listWorkflowsToAdvance(10)).toEqual([]);
      expect(await store().applyWorkflowChange(change('unknown', 0))).toBe(false);
    });

    it('applies one of two changes planned from the same version, and only its steps and events', async () => {
      const w = await insert(store());
      const planned = (state: 'succeeded' | 'cancelled') =>
        change(w.id, 0, {
          state,
          finishedAt: T0 + 7,
          steps: [{ ...pending('build'), state: state === 'succeeded' ? 'succeeded' : 'cancelled', updatedAt: T0 + 7 }],
          events: [{ at: T0 + 7, kind: state, step: null, round: null, data: null }],
        });
      const results = await Promise.all([
        store().applyWorkflowChange(planned('succeeded')),
        store().applyWorkflowChange(planned('cancelled')),
      ]);
      expect([...results].sort()).toEqual([false, true]);
      const winner = results[0] ? 'succeeded' : 'cancelled';
      const stored = await store().getWorkflow(w.id);
      expect(stored).toMatchObject({ state: winner, version: 1, steps: [{ state: winner }, {}, {}] });
      const kinds = (await store().listWorkflowEvents({ workflowId: w.id, afterSeq: 0, limit: 10 })).map((e) => e.kind);
      expect(kinds).toEqual(['submitted', winner]);
    });

    it('refuses a change naming a step the workflow does not have, and writes nothing of it', async () => {
      const w = await insert(store());
      const bad = change(w.id, 0, {
        state: 'failed',
        finishedAt: T0 + 1,
        steps: [{ ...pending('build'), state: 'failed', updatedAt: T0 + 1 }, pending('nope')],
        events: [{ at: T0 + 1, kind: 'failed', step: null, round: null, data: null }],
      });
      await expect(store().applyWorkflowChange(bad)).rejects.toThrow(/step/);
      expect(await store().getWorkflow(w.id)).toEqual(w);
      expect(await store().listWorkflowEvents({ workflowId: w.id, afterSeq: 0, limit: 10 })).toHaveLength(1);
    });

    it('lists the workflows that need a pass: dirty and unfinished, or a running step whose task finished', async () => {
      // Dirty (new): listed.
      const fresh = await insert(store());
      // Clean, its running step's task still queued or running: not listed.
      const waiting = await insert(store());
      await release(store(), waiting.id, (await submit(store())).id);
      const busy = await insert(store());
      const busyTask = await claim(store(), await submit(store()));
      await release(store(), busy.id, busyTask.id);
      // Clean, its running step's task succeeded: listed.
      const done = await insert(store());
      const doneTask = await claim(store(), await submit(store()));
      await release(store(), done.id, doneTask.id);
      expect(await store().completeTask({ ...leaseOf(doneTask, T0 + 2_000), result: 1 })).toBe(true);
      // Dirty but finished: not listed.
      const finished = await insert(store());
      expect(
        await store().applyWorkflowChange(
          change(finished.id, 0, { state: 'cancelled', finishedAt: T0 + 1_000, dirty: true }),
        ),
      ).toBe(true);
      // Finished, but a running step's task ended since (cancelled after the workflow was): listed, whatever its state.
      const late = await insert(store());
      const lateTask = await submit(store());
      await release(store(), late.id, lateTask.id);
      expect(await store().applyWorkflowChange(change(late.id, 1, { state: 'cancelled', finishedAt: T0 + 2 }))).toBe(
        true,
      );
      expect((await store().requestCancel(lateTask.id, T0 + 3)).outcome).toBe('cancelled');

      const toAdvance = await store().listWorkflowsToAdvance(10);
      expect([...toAdvance].sort()).toEqual([fresh.id, done.id, late.id].sort());
      for (const id of [waiting.id, busy.id, finished.id]) expect(toAdvance).not.toContain(id);
      expect(await store().listWorkflowsToAdvance(2)).toHaveLength(2);
    });

    it('lists a workflow once when it is dirty and has a finished step task too', async () => {
      const w = await insert(store());
      const task = await claim(store(), await submit(store()));
      await release(store(), w.id, task.id);
      expect(await store().applyWorkflowChange(change(w.id, 1, { dirty: true }))).toBe(true);
      expect(await store().completeTask({ ...leaseOf(task, T0 + 2_000), result: 1 })).toBe(true);
      expect(await store().listWorkflowsToAdvance(10)).toEqual([w.id]);
    });

    it('lists summaries newest first, by state and submitter, in keyset pages', async () => {
      const a = await insert(store(), { submittedBy: 'key-a' });
      const b = await insert(store(), { submittedBy: 'key-b', name: null, spec: SPEC.slice(0, 1) });
      const c = await insert(store(), { submittedBy: 'key-a' });
      expect(await store().applyWorkflowChange(change(c.id, 0, { state: 'succeeded', finishedAt: T0 + 9 }))).toBe(true);
      const all = await store().listWorkflows({ limit: 10 });
      expect(all.map((s) => s.id)).toEqual([c.id, b.id, a.id]);
      const { spec: _spec, steps: _steps, ...head } = b;
      expect(all[1]).toEqual({ ...head, stepCount: 1 });
      expect(all[0]).toMatchObject({ state: 'succeeded', version: 1, finishedAt: T0 + 9, stepCount: 3 });
      expect((await store().listWorkflows({ limit: 2 })).map((s) => s.id)).toEqual([c.id, b.id]);
      expect((await store().listWorkflows({ beforeId: b.id, limit: 2 })).map((s) => s.id)).toEqual([a.id]);
      expect((await store().listWorkflows({ state: 'running', limit: 10 })).map((s) => s.id)).toEqual([b.id, a.id]);
      expect((await store().listWorkflows({ state: 'running', beforeId: b.id, limit: 10 })).map((s) => s.id)).toEqual([
        a.id,
      ]);
      expect((await store().listWorkflows({ submittedBy: 'key-a', limit: 10 })).map((s) => s.id)).toEqual([c.id, a.id]);
      expect(
        (await store().listWorkflows({ submittedBy: 'key-a', state: 'running', limit: 10 })).map((s) => s.id),
      ).toEqual([a.id]);
      expect(
        (await store().listWorkflows({ submittedBy: 'key-a', beforeId: c.id, limit: 10 })).map((s) => s.id),
      ).toEqual([a.id]);
      expect(await store().listWorkflows({ submittedBy: 'key-c', limit: 10 })).toEqual([]);
    });

    it('reads events by workflow after a seq, by kinds in a seq range, and the last seq', async () => {
      expect(await store().lastWorkflowEventSeq()).toBe(0);
      const a = await insert(store());
      const b = await insert(store());
      const at = T0 + 100;
      expect(
        await store().applyWorkflowChange(
          change(a.id, 0, {
            state: 'succeeded',
            finishedAt: at,
            events: [
              { at, kind: 'step_succeeded', step: 'build', round: 1, data: { n: 1 } },
              { at, kind: 'succeeded', step: null, round: null, data: null },
            ],
          }),
        ),
      ).toBe(true);
      const cancelled = { at, kind: 'cancelled' as const, step: null, round: null, data: { by: 'key-a' } };
      expect(
        await store().applyWorkflowChange(change(b.id, 0, { state: 'cancelled', finishedAt: at, events: [cancelled] })),
      ).toBe(true);
      const ofA = await store().listWorkflowEvents({ workflowId: a.id, afterSeq: 0, limit: 10 });
      expect(ofA.map((e) => e.kind)).toEqual(['submitted', 'step_succeeded', 'succeeded']);
      expect(ofA.every((e) => e.workflowId === a.id)).toBe(true);
      const afterFirst = await store().listWorkflowEvents({ workflowId: a.id, afterSeq: ofA[0]!.seq, limit: 1 });
      expect(afterFirst.map((e) => e.kind)).toEqual(['step_succeeded']);
      const last = await store().lastWorkflowEventSeq();
      const ofB = await store().listWorkflowEvents({ workflowId: b.id, afterSeq: 0, limit: 10 });
      expect(last).toBe(ofB.at(-1)?.seq);
      const finished = await store().listWorkflowEventsOfKinds({
        afterSeq: 0,
        upToSeq: last,
        kinds: ['succeeded', 'failed', 'cancelled'],
        limit: 10,
      });
      expect(finished.map((e) => [e.workflowId, e.kind, e.data])).toEqual([
        [a.id, 'succeeded', null],
        [b.id, 'cancelled', { by: 'key-a' }],
      ]);
      const upToA = finished[0]!.seq;
      expect(
        await store().listWorkflowEventsOfKinds({ afterSeq: 0, upToSeq: upToA, kinds: ['cancelled'], limit: 10 }),
      ).toEqual([]);
      expect(
        (
          await store().listWorkflowEventsOfKinds({
            afterSeq: upToA,
            upToSeq: last,
            kinds: ['succeeded', 'cancelled'],
            limit: 10,
          })
        ).map((e) => e.workflowId),
      ).toEqual([b.id]);
      expect(
        await store().listWorkflowEventsOfKinds({ afterSeq: 0, upToSeq: last, kinds: ['submitted'], limit: 1 }),
      ).toHaveLength(1);
    });

    it('keeps a step task’s workflow context through insert, get and claim', async () => {
      const context: WorkflowTaskContext = {
        id: 'wf-1',
        step: 'review',
        round: 2,
        inputs: { build: { artifact: 'a.tgz' } },
        failed: { lint: { message: 'no', kind: 'handler' } },
        feedback: { fix: 'tests' },
      };
      const [outcome] = await store().insertTasks([newTask({ workflow: context })]);
      expect(outcome?.task.workflow).toEqual(context);
      expect((await mustGet(store(), outcome!.task.id)).workflow).toEqual(context);
      expect((await claim(store(), outcome!.task)).workflow).toEqual(context);
      // A task outside any workflow has none.
      const plain = await submit(store());
      expect((await mustGet(store(), plain.id)).workflow ?? null).toBeNull();
    });

    it('passes through the sealing wrapper unchanged, and a sensitive step task keeps its context plain', async () => {
      const sealed = sealStore(store(), DataKeyRing.parse(`k1:${Buffer.alloc(32, 1).toString('base64')}`));
      const { workflow } = await sealed.insertWorkflow(newWorkflow());
      expect(await sealed.getWorkflow(workflow.id)).toEqual(workflow);
      expect(await sealed.listWorkflowsToAdvance(10)).toEqual([workflow.id]);
      expect(await sealed.applyWorkflowChange(change(workflow.id, 0))).toBe(true);
      expect((await sealed.listWorkflows({ limit: 10 }))[0]).toMatchObject({ id: workflow.id, version: 1 });
      const context: WorkflowTaskContext = { id: workflow.id, step: 'build', round: 1, inputs: {} };
      const [outcome] = await sealed.insertTasks([
        newTask({ sensitive: true, payload: { secret: 's' }, workflow: context }),
      ]);
      const running = await claim(sealed, outcome!.task);
      expect(running).toMatchObject({ payload: { secret: 's' }, workflow: context });
      expect((await store().getTask(running.id))?.workflow).toEqual(context);
    });

    it('purges finished workflows older than the cut, oldest first, with their steps and events', async () => {
      const old = await insert(store());
      const older = await insert(store());
      const recent = await insert(store());
      const running = await insert(store());
      const finish = (id: string, at: number) =>
        store().applyWorkflowChange(
          change(id, 0, {
            state: 'succeeded',
            finishedAt: at,
            steps: [{ ...pending('build'), state: 'succeeded', updatedAt: at }],
            events: [{ at, kind: 'succeeded', step: null, round: null, data: null }],
          }),
        );
      expect(await finish(old.id, T0 + 2_000)).toBe(true);
      expect(await finish(older.id, T0 + 1_000)).toBe(true);
      expect(await finish(recent.id, T0 + 9_000)).toBe(true);
      expect(await store().purgeWorkflows(T0 + 5_000, 1)).toBe(1);
      expect(await store().getWorkflow(older.id)).toBeNull();
      expect(await store().listWorkflowEvents({ workflowId: older.id, afterSeq: 0, limit: 10 })).toEqual([]);
      expect(await store().getWorkflow(old.id)).not.toBeNull();
      expect(await store().purgeWorkflows(T0 + 5_000, 10)).toBe(1);
      expect(await store().purgeWorkflows(T0 + 5_000, 10)).toBe(0);
      expect((await store().listWorkflows({ limit: 10 })).map((s) => s.id)).toEqual([running.id, recent.id]);
      expect(await store().getWorkflow(recent.id)).toMatchObject({ steps: [{ state: 'succeeded' }, {}, {}] });
      // The id of a purged workflow can be used again (nothing of it was left behind).
      expect((await store().insertWorkflow(newWorkflow({ id: old.id }))).created).toBe(true);
      expect((await store().getWorkflow(old.id))?.steps).toHaveLength(3);
    });
  });
}
