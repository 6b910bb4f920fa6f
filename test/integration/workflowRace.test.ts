/**
 * Two supervisors' workflow engines on one store, racing for every pass of the same workflows (a supervisor in
 * this process, loops off, and a second WorkflowEngine over its store and dispatcher, as a second supervisor
 * process would have): each step's round is released once, each result recorded once, whoever wins each apply.
 * The tasks are run through the store as a worker's claim and result do, so the test decides every interleaving.
 */
import pino from 'pino';
import { systemClock } from '../../src/domain/clock';
import type { Store } from '../../src/store/port';
import { WorkflowEngine } from '../../src/supervisor/workflowEngine';
import { fileInspector, fleetFor } from '../helpers/fleet';

const redis = fileInspector();

/** Claims and completes every queued task of the workflow, as a worker would. */
async function runQueued(store: Store, taskIds: string[], result: (type: string, round: number) => unknown) {
  for (const id of taskIds) {
    const task = (await store.getTask(id))!;
    if (task.status !== 'queued') continue;
    const now = Date.now();
    const claim = await store.claimTask({ taskId: id, attempt: task.attempt, agentId: 'race', now, leaseMs: 30_000 });
    if (!claim.claimed) throw new Error(`claim of ${id} lost`);
    await store.completeTask({
      taskId: id,
      attempt: claim.task.attempt,
      agentId: 'race',
      now: Date.now(),
      result: result(task.type, task.workflow?.round ?? 0),
    });
  }
}

describe('two workflow engines racing on one store', () => {
  const fleet = fleetFor(redis);

  it('release each round once and record each result once', async () => {
    const store = fleet().sup.store;
    const engines = [
      fleet().sup.workflows,
      new WorkflowEngine({
        store,
        dispatcher: fleet().sup.dispatcher,
        clock: systemClock,
        log: pino({ level: 'silent' }),
        defaultMaxAttempts: 3,
      }),
    ];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fleet().request('POST', '/v1/workflows', {
        steps: [
          { id: 'a', task: { type: 'echo', payload: i } },
          { id: 'b', needs: ['a'], task: { type: 'echo' } },
          { id: 'c', needs: ['a'], task: { type: 'echo' } },
          { id: 'gate', validates: 'b', needs: ['c'], task: { type: 'judge', payload: { approveFromRound: 2 } } },
          { id: 'd', needs: ['b', 'c'], task: { type: 'echo' } },
        ],
      });
      ids.push(res.body.id as string);
    }
    const judge = (type: string, round: number) =>
      type === 'judge' ? (round >= 2 ? { approved: true } : { approved: false, feedback: round }) : { type, round };
    for (let pass = 0; pass < 12; pass++) {
      for (const id of ids) {
        const wf = (await store.getWorkflow(id))!;
        await runQueued(
          store,
          wf.steps.flatMap((s) => s.taskIds),
          judge,
        );
        // Both engines plan the same pass from the same version: one apply wins, the other reads again.
        await Promise.all(engines.map((e) => e.advance(id)));
      }
    }
    // Not one task more than the rounds released: the losing engine's submits answered the winner's tasks.
    expect(await fleet().storedTaskCount()).toBe(ids.length * 7);
    for (const id of ids) {
      const wf = (await store.getWorkflow(id))!;
      expect(wf.state).toBe('succeeded');
      expect(Object.fromEntries(wf.steps.map((s) => [s.id, s.taskIds.length]))).toEqual({
        a: 1,
        b: 2,
        c: 1,
        gate: 2,
        d: 1,
      });
      const events = await store.listWorkflowEvents({ workflowId: id, afterSeq: 0, limit: 1000 });
      const count = (kind: string) => {
        const seen = new Map<string, number>();
        for (const e of events.filter((x) => x.kind === kind)) {
          const key = `${e.step}#${e.round}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        return seen;
      };
      for (const kind of ['step_released', 'step_succeeded']) {
        expect([...count(kind).values()].every((n) => n === 1)).toBe(true);
      }
      expect(count('step_released').size).toBe(7);
      expect(events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
      // One task per (step, round): the keyed submit gave the losing engine the winner's task.
      const tasks = await Promise.all(wf.steps.flatMap((s) => s.taskIds).map((t) => store.getTask(t)));
      expect(new Set(tasks.map((t) => t!.idempotencyKey)).size).toBe(7);
      // d started only after the gate approved b's second round.
      const gate = wf.steps.find((s) => s.id === 'gate')!;
      const approved = (await store.getTask(gate.taskIds[1]!))!;
      const d = (await store.getTask(wf.steps.find((s) => s.id === 'd')!.taskIds[0]!))!;
      expect(d.createdAt).toBeGreaterThanOrEqual(approved.finishedAt!);
    }
  });
});
