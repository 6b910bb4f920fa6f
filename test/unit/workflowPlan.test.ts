import { ConflictError, ValidationError } from '../../src/domain/errors';
import type { StepRecord, WorkflowRecord } from '../../src/domain/workflow';
import { planWorkflow, type StepTaskOutcome, type WorkflowPlan } from '../../src/domain/workflowPlan';
import { parseWorkflowSteps } from '../../src/domain/workflowSubmission';

const task = (type = 'echo') => ({ task: { type } });

function workflow(steps: unknown[]): WorkflowRecord {
  const spec = parseWorkflowSteps(steps);
  return {
    id: 'wf1',
    name: null,
    state: 'running',
    version: 0,
    submittedBy: 'k1',
    idempotencyKey: null,
    requestHash: null,
    spec,
    steps: spec.map((s): StepRecord => ({
      id: s.id,
      state: 'pending',
      round: 0,
      taskIds: [],
      result: null,
      error: null,
      feedback: null,
      updatedAt: 0,
    })),
    error: null,
    createdAt: 0,
    updatedAt: 0,
    finishedAt: null,
  };
}

/** Applies a plan the way the engine does, giving each release the task id `<step>#<round>`. */
function apply(wf: WorkflowRecord, plan: WorkflowPlan | null): WorkflowRecord {
  if (!plan) return wf;
  for (const r of plan.releases) plan.steps.find((s) => s.id === r.step)!.taskIds.push(`${r.step}#${r.round}`);
  const steps = wf.steps.map((s) => plan.steps.find((p) => p.id === s.id) ?? s);
  return { ...wf, state: plan.state, error: plan.error, finishedAt: plan.finishedAt, steps, version: wf.version + 1 };
}

const ok = (result: unknown = null): StepTaskOutcome => ({ status: 'succeeded', result, error: null });
const dead: StepTaskOutcome = { status: 'dead', result: null, error: { kind: 'handler', message: 'boom' } };
const state = (wf: WorkflowRecord) => Object.fromEntries(wf.steps.map((s) => [s.id, `${s.state}/${s.round}`]));

/** One pass with these task outcomes (by task id). */
function pass(wf: WorkflowRecord, outcomes: Record<string, StepTaskOutcome> = {}) {
  const plan = planWorkflow(wf, new Map(Object.entries(outcomes)), 1);
  return { plan, wf: apply(wf, plan) };
}

describe('workflow submission checks', () => {
  it.each([
    [
      [
        { id: 'a', ...task() },
        { id: 'a', ...task() },
      ],
      'duplicate step id a',
    ],
    [[{ id: 'a', ...task(), needs: ['b'] }], 'step a needs unknown step b'],
    [[{ id: 'a', ...task(), validates: 'zz' }], 'step a validates unknown step zz'],
    [
      [
        { id: 'a', ...task(), needs: ['b'] },
        { id: 'b', ...task(), needs: ['a'] },
      ],
      'form a cycle',
    ],
    [[{ id: 'a', ...task(), maxRounds: 2 }], 'applies to a gate only'],
    [[{ id: 'a' }], 'either a task or an approval'],
    [[{ id: 'a', approval: {}, ...task() }], 'either a task or an approval'],
    [[{ id: 'a', task: { type: 'echo', sensitive: true } }], 'sensitive'],
    [
      [
        { id: 'a', ...task() },
        { id: 'g1', ...task('judge'), validates: 'a' },
        { id: 'g2', ...task('judge'), validates: 'a' },
      ],
      'has two gates',
    ],
    [
      [
        { id: 'a', ...task(), needs: ['g'] },
        { id: 'g', ...task('judge'), validates: 'a' },
      ],
      'form a cycle',
    ],
  ])('refuses %j (%s)', (steps, message) => {
    let error: unknown;
    try {
      parseWorkflowSteps(steps);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(JSON.stringify((error as ValidationError).issues)).toContain(message);
  });

  it('applies the defaults', () => {
    const [a, g] = parseWorkflowSteps([
      { id: 'a', ...task() },
      { id: 'g', ...task('judge'), validates: 'a' },
    ]);
    expect(a).toMatchObject({ needs: [], onFailure: 'fail' });
    expect(g).toMatchObject({ validates: 'a', maxRounds: 3, onExhausted: 'fail' });
  });
});

describe('planWorkflow', () => {
  it('runs a diamond in order, each step once, with its inputs', () => {
    let wf = workflow([
      { id: 'a', ...task() },
      { id: 'b', ...task(), needs: ['a'] },
      { id: 'c', ...task(), needs: ['a'] },
      { id: 'd', ...task(), needs: ['b', 'c'] },
    ]);
    let r = pass(wf);
    expect(r.plan!.releases.map((x) => x.step)).toEqual(['a']);
    wf = r.wf;
    expect(pass(wf).plan).toBeNull();
    r = pass(wf, { 'a#1': ok({ a: 1 }) });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs])).toEqual([
      ['b', { a: { a: 1 } }],
      ['c', { a: { a: 1 } }],
    ]);
    wf = r.wf;
    r = pass(wf, { 'b#1': ok('B') });
    expect(r.plan!.releases).toEqual([]);
    wf = r.wf;
    r = pass(wf, { 'c#1': ok('C') });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs])).toEqual([['d', { b: 'B', c: 'C' }]]);
    wf = pass(r.wf, { 'd#1': ok('D') }).wf;
    expect(wf.state).toBe('succeeded');
    expect(state(wf)).toEqual({ a: 'succeeded/1', b: 'succeeded/1', c: 'succeeded/1', d: 'succeeded/1' });
  });

  it('sends a gated step back with the feedback until the gate approves; its dependents wait for the gate', () => {
    let wf = workflow([
      { id: 'fix', ...task() },
      { id: 'check', ...task('judge'), validates: 'fix' },
      { id: 'ship', ...task(), needs: ['fix'] },
    ]);
    wf = pass(wf).wf;
    let r = pass(wf, { 'fix#1': ok('v1') });
    expect(r.plan!.releases.map((x) => [x.step, x.round, x.context.inputs])).toEqual([['check', 1, { fix: 'v1' }]]);
    r = pass(r.wf, { 'check#1': ok({ approved: false, feedback: 'more tests' }) });
    expect(r.plan!.releases.map((x) => [x.step, x.round, x.context.feedback])).toEqual([['fix', 2, 'more tests']]);
    expect(r.plan!.events.map((e) => e.kind)).toContain('gate_rejected');
    r = pass(r.wf, { 'fix#2': ok('v2') });
    expect(r.plan!.releases.map((x) => [x.step, x.round, x.context.inputs])).toEqual([['check', 2, { fix: 'v2' }]]);
    r = pass(r.wf, { 'check#2': ok({ approved: true }) });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs])).toEqual([['ship', { fix: 'v2' }]]);
    wf = pass(r.wf, { 'ship#1': ok() }).wf;
    expect(wf.state).toBe('succeeded');
    expect(wf.steps.find((s) => s.id === 'fix')!.taskIds).toEqual(['fix#1', 'fix#2']);
  });

  it('sends the steps between the gated step and its gate back too (fix → test → validate on fix)', () => {
    let wf = workflow([
      { id: 'fix', ...task() },
      { id: 'test', ...task(), needs: ['fix'] },
      { id: 'validate', ...task('judge'), validates: 'fix', needs: ['test'] },
      { id: 'integrate', ...task(), needs: ['test'] },
    ]);
    wf = pass(pass(wf).wf, { 'fix#1': ok('f1') }).wf;
    expect(state(wf)).toMatchObject({ test: 'running/1', validate: 'pending/0', integrate: 'pending/0' });
    let r = pass(wf, { 'test#1': ok('t1') });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs])).toEqual([['validate', { test: 't1', fix: 'f1' }]]);
    r = pass(r.wf, { 'validate#1': ok({ approved: false, feedback: 'flaky' }) });
    expect(r.plan!.releases.map((x) => [x.step, x.round])).toEqual([['fix', 2]]);
    expect(state(r.wf)).toMatchObject({ test: 'pending/1', validate: 'pending/1', integrate: 'pending/0' });
    r = pass(r.wf, { 'fix#2': ok('f2') });
    expect(r.plan!.releases.map((x) => [x.step, x.round, x.context.inputs])).toEqual([['test', 2, { fix: 'f2' }]]);
    r = pass(r.wf, { 'test#2': ok('t2') });
    r = pass(r.wf, { 'validate#2': ok({ approved: true }) });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs])).toEqual([['integrate', { test: 't2' }]]);
  });

  it('fails the workflow when the rounds are spent, or waits for a person with onExhausted: approval', () => {
    const steps = (extra: object) => [
      { id: 'fix', ...task() },
      { id: 'check', ...task('judge'), validates: 'fix', maxRounds: 1, ...extra },
      { id: 'later', ...task(), needs: ['check'] },
    ];
    const reject = { 'check#1': ok({ approved: false }) };
    let wf = pass(pass(workflow(steps({}))).wf, { 'fix#1': ok() }).wf;
    wf = pass(wf, reject).wf;
    expect(wf.state).toBe('failed');
    expect(wf.error?.message).toContain('rejected in all 1 rounds');
    expect(state(wf).later).toBe('cancelled/0');

    wf = pass(pass(workflow(steps({ onExhausted: 'approval' }))).wf, { 'fix#1': ok() }).wf;
    wf = pass(wf, reject).wf;
    expect(wf.state).toBe('waiting_approval');
    expect(state(wf).check).toBe('waiting_approval/1');
    const approved = planWorkflow(wf, new Map(), 2, { kind: 'approve', step: 'check', by: 'ops' });
    expect(approved!.releases.map((x) => x.step)).toEqual(['later']);
  });

  it('waits for an approval step; a reject fails the workflow; a decision on another step is a conflict', () => {
    let wf = workflow([
      { id: 'a', ...task() },
      { id: 'ok', approval: { note: 'look' }, needs: ['a'] },
      { id: 'b', ...task(), needs: ['ok'] },
    ]);
    wf = pass(pass(wf).wf, { 'a#1': ok() }).wf;
    expect(wf.state).toBe('waiting_approval');
    expect(() => planWorkflow(wf, new Map(), 2, { kind: 'approve', step: 'b', by: 'x' })).toThrow(ConflictError);
    const rejected = apply(wf, planWorkflow(wf, new Map(), 2, { kind: 'reject', step: 'ok', by: 'x', comment: 'no' }));
    expect(rejected.state).toBe('failed');
    expect(state(rejected)).toEqual({ a: 'succeeded/1', ok: 'failed/1', b: 'cancelled/0' });
    const approved = planWorkflow(wf, new Map(), 2, { kind: 'approve', step: 'ok', by: 'x' });
    expect(approved!.releases.map((x) => x.step)).toEqual(['b']);
  });

  it('onFailure: continue runs the dependents with the failure; fail cancels the rest and the running tasks', () => {
    let wf = workflow([
      { id: 'a', ...task(), onFailure: 'continue' },
      { id: 'b', ...task(), needs: ['a'] },
    ]);
    wf = pass(wf).wf;
    const r = pass(wf, { 'a#1': dead });
    expect(r.plan!.releases.map((x) => [x.step, x.context.inputs, x.context.failed])).toEqual([
      ['b', {}, { a: { kind: 'handler', message: 'boom' } }],
    ]);

    wf = pass(
      workflow([
        { id: 'x', ...task() },
        { id: 'y', ...task() },
        { id: 'z', ...task(), needs: ['x', 'y'] },
      ]),
    ).wf;
    const failed = pass(wf, { 'x#1': dead });
    expect(failed.wf.state).toBe('failed');
    expect(failed.plan!.cancelTasks).toEqual(['y#1']);
    expect(state(failed.wf)).toEqual({ x: 'failed/1', y: 'running/1', z: 'cancelled/0' });
    // The running step's outcome is still recorded once its task ends.
    expect(state(pass(failed.wf, { 'y#1': { status: 'cancelled', result: null, error: null } }).wf).y).toBe(
      'cancelled/1',
    );
  });

  it('cancel ends the workflow once; a gate answering something else fails its step', () => {
    const wf = pass(workflow([{ id: 'a', ...task() }])).wf;
    const cancelled = apply(wf, planWorkflow(wf, new Map(), 2, { kind: 'cancel', by: 'me' }));
    expect(cancelled.state).toBe('cancelled');
    expect(() => planWorkflow(cancelled, new Map(), 3, { kind: 'cancel', by: 'me' })).toThrow(ConflictError);

    let g = pass(
      workflow([
        { id: 'a', ...task() },
        { id: 'g', ...task('judge'), validates: 'a' },
      ]),
    ).wf;
    g = pass(pass(g, { 'a#1': ok() }).wf, { 'g#1': ok('yes') }).wf;
    expect(g.state).toBe('failed');
    expect(g.steps[1]!.error?.kind).toBe('gate_result');
  });
});
