/**
 * Workflows over real HTTP with real worker processes (the built CLI) against a real supervisor, SQLite file
 * and Redis. Background loops are off: every step is moved on by its task's doorbell (TaskWatcher.onRing) or
 * by the request that decides, which is the path an idle fleet takes.
 */
import type { TaskRecord } from '../../src/domain/task';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor, waitFor, type Fleet } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const redis = fileInspector();

interface StepView {
  id: string;
  state: string;
  round: number;
  taskIds: string[];
  result: unknown;
  error: { kind: string; message: string } | null;
}

async function submit(fleet: Fleet, body: unknown, key?: string, headers: Record<string, string> = {}) {
  const res = await fleet.request('POST', '/v1/workflows', body, headers, key ? { key } : {});
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; state: string; steps: StepView[] };
}

async function settled(fleet: Fleet, id: string, states = ['succeeded', 'failed', 'cancelled'], timeoutMs = 20_000) {
  let body: { id: string; state: string; steps: StepView[]; error: unknown } | undefined;
  await waitFor(
    async () => {
      body = (await fleet.request('GET', `/v1/workflows/${id}`)).body;
      return states.includes(body!.state);
    },
    timeoutMs,
    `workflow ${id} in ${states.join(' or ')}`,
  );
  return body!;
}

const step = (wf: { steps: StepView[] }, id: string) => wf.steps.find((s) => s.id === id)!;

function time(ms: number | null): number {
  if (ms === null) throw new Error('no time recorded');
  return ms;
}

async function tasksOf(fleet: Fleet, wf: { steps: StepView[] }, id: string): Promise<TaskRecord[]> {
  return Promise.all(step(wf, id).taskIds.map(async (t) => (await fleet.sup.store.getTask(t))!));
}

describe('workflows, with one worker', () => {
  const fleet = fleetFor(redis);
  let keys: Keys;

  beforeAll(async () => {
    await fleet().spawnWorker({ id: 'wf-w1', concurrency: 8 });
    keys = await makeKeys(fleet());
  });

  it('runs a diamond: each step once, in order, each with the results it needs', async () => {
    const wf = await submit(fleet(), {
      name: 'diamond',
      steps: [
        { id: 'a', task: { type: 'echo', payload: { a: 1 } } },
        { id: 'b', needs: ['a'], task: { type: 'sleep', payload: { ms: 50 } } },
        { id: 'c', needs: ['a'], task: { type: 'echo', payload: 'c' } },
        { id: 'd', needs: ['b', 'c'], task: { type: 'echo', payload: 'd' } },
      ],
    });
    expect(wf.state).toBe('running');
    expect(step(wf, 'a')).toMatchObject({ state: 'running', round: 1 });
    expect(step(wf, 'd')).toMatchObject({ state: 'pending', round: 0, taskIds: [] });
    const done = await settled(fleet(), wf.id);
    expect(done.state).toBe('succeeded');
    for (const id of ['a', 'b', 'c', 'd']) expect(step(done, id)).toMatchObject({ state: 'succeeded', round: 1 });
    expect(step(done, 'a').result).toEqual({ a: 1 });
    const [a, b, c, d] = (await Promise.all(['a', 'b', 'c', 'd'].map((id) => tasksOf(fleet(), done, id)))).map(
      (tasks) => tasks[0]!,
    );
    for (const t of [b!, c!]) expect(time(t.startedAt)).toBeGreaterThanOrEqual(time(a!.finishedAt));
    expect(time(d!.startedAt)).toBeGreaterThanOrEqual(Math.max(time(b!.finishedAt), time(c!.finishedAt)));
    expect(d!.workflow).toEqual({
      id: wf.id,
      step: 'd',
      round: 1,
      inputs: { b: { sleptMs: expect.any(Number) }, c: 'c' },
    });
    expect(d!.payload).toBe('d');
    // Each step's task was released once: one task per step, and one step_released event each.
    const events = (await fleet().request('GET', `/v1/workflows/${wf.id}/events`)).body.events;
    expect(events.filter((e: { kind: string }) => e.kind === 'step_released')).toHaveLength(4);
    expect(events[0]).toMatchObject({ kind: 'submitted', step: null });
    expect(events.at(-1)).toMatchObject({ kind: 'succeeded', step: null });
  });

  it('a gate that rejects twice sends its step back twice with the feedback; the next step starts after approval', async () => {
    const wf = await submit(fleet(), {
      steps: [
        { id: 'fix', task: { type: 'echo', payload: 'patch' } },
        { id: 'test', needs: ['fix'], task: { type: 'echo', payload: 'tests' } },
        { id: 'review', validates: 'fix', needs: ['test'], task: { type: 'judge', payload: { approveFromRound: 3 } } },
        { id: 'ship', needs: ['fix'], task: { type: 'echo', payload: 'ship' } },
      ],
    });
    const done = await settled(fleet(), wf.id);
    expect(done.state).toBe('succeeded');
    expect(step(done, 'fix')).toMatchObject({ round: 3, state: 'succeeded' });
    expect(step(done, 'test')).toMatchObject({ round: 3, state: 'succeeded' });
    expect(step(done, 'review')).toMatchObject({ round: 3, state: 'succeeded', result: { approved: true } });
    expect(step(done, 'ship')).toMatchObject({ round: 1, state: 'succeeded' });
    const fixes = await tasksOf(fleet(), done, 'fix');
    expect(fixes.map((t) => t.workflow?.feedback)).toEqual([
      undefined,
      { round: 1, message: 'round 1 rejected: try again' },
      { round: 2, message: 'round 2 rejected: try again' },
    ]);
    const reviews = await tasksOf(fleet(), done, 'review');
    const [ship] = await tasksOf(fleet(), done, 'ship');
    expect(time(ship!.startedAt)).toBeGreaterThanOrEqual(time(reviews[2]!.finishedAt));
    const events = (await fleet().request('GET', `/v1/workflows/${wf.id}/events`)).body.events;
    expect(events.filter((e: { kind: string }) => e.kind === 'gate_rejected')).toHaveLength(2);
  });

  it('maxRounds spent fails the workflow, or waits for a person with onExhausted: approval', async () => {
    const steps = (extra: object) => [
      { id: 'fix', task: { type: 'echo' } },
      {
        id: 'check',
        validates: 'fix',
        maxRounds: 2,
        task: { type: 'judge', payload: { approveFromRound: 9 } },
        ...extra,
      },
      { id: 'after', needs: ['fix'], task: { type: 'echo' } },
    ];
    const failed = await settled(fleet(), (await submit(fleet(), { steps: steps({}) })).id);
    expect(failed.state).toBe('failed');
    expect(step(failed, 'check').error).toMatchObject({ kind: 'rounds_exhausted' });
    expect(step(failed, 'after')).toMatchObject({ state: 'cancelled', taskIds: [] });

    const waiting = await submit(fleet(), { steps: steps({ onExhausted: 'approval' }) });
    const held = await settled(fleet(), waiting.id, ['waiting_approval']);
    expect(step(held, 'check')).toMatchObject({ state: 'waiting_approval', round: 2 });
    expect(step(held, 'after').state).toBe('pending');
    const res = await fleet().request('POST', `/v1/workflows/${waiting.id}/steps/check/approve`, { comment: 'fine' });
    expect(res.status).toBe(200);
    const done = await settled(fleet(), waiting.id);
    expect(done.state).toBe('succeeded');
    expect(step(done, 'check').result).toMatchObject({ approved: true, comment: 'fine' });
  });

  it('an approval step waits for its approve call (submitter or admin only); a reject fails the workflow', async () => {
    const body = {
      steps: [
        { id: 'build', task: { type: 'echo' } },
        { id: 'sign-off', needs: ['build'], approval: { note: 'look at it' } },
        { id: 'deploy', needs: ['sign-off'], task: { type: 'echo' } },
      ],
    };
    const wf = await submit(fleet(), body, keys.submitter.key);
    const held = await settled(fleet(), wf.id, ['waiting_approval']);
    expect(step(held, 'deploy').state).toBe('pending');
    const approve = `/v1/workflows/${wf.id}/steps/sign-off/approve`;
    expectProblem(await fleet().request('POST', approve, {}, {}, { key: keys.reader.key }), 403);
    expectProblem(await fleet().request('POST', approve, {}, {}, { key: keys.submitter2.key }), 404);
    expectProblem(await fleet().request('POST', `/v1/workflows/${wf.id}/steps/deploy/approve`, {}), 409);
    expect((await fleet().request('POST', approve, {}, {}, { key: keys.submitter.key })).status).toBe(200);
    expect((await settled(fleet(), wf.id)).state).toBe('succeeded');
    const audit = await fleet().sup.store.listAudit({ limit: 10, action: 'workflow.approve' });
    expect(audit.map((a) => a.target)).toContain(`workflow:${wf.id}`);

    const other = await submit(fleet(), body);
    await settled(fleet(), other.id, ['waiting_approval']);
    const rejected = await fleet().request('POST', `/v1/workflows/${other.id}/steps/sign-off/reject`, {
      comment: 'not yet',
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body.state).toBe('failed');
    expect(step(rejected.body, 'sign-off').error?.message).toContain('not yet');
    expect(step(rejected.body, 'deploy')).toMatchObject({ state: 'cancelled', taskIds: [] });
  });

  it('onFailure: continue runs the dependents, which see the failure', async () => {
    const wf = await submit(fleet(), {
      steps: [
        { id: 'flaky', onFailure: 'continue', task: { type: 'fail', payload: { times: 5 }, maxAttempts: 1 } },
        { id: 'report', needs: ['flaky'], task: { type: 'echo' } },
      ],
    });
    const done = await settled(fleet(), wf.id);
    expect(done.state).toBe('succeeded');
    expect(step(done, 'flaky')).toMatchObject({ state: 'failed' });
    const [report] = await tasksOf(fleet(), done, 'report');
    expect(report!.workflow).toMatchObject({ inputs: {}, failed: { flaky: { message: expect.any(String) } } });
  });

  it('cancel cascades: the running step is asked to cancel, the pending ones are cancelled', async () => {
    const wf = await submit(fleet(), {
      steps: [
        { id: 'long', task: { type: 'sleep', payload: { ms: 60_000 } } },
        { id: 'next', needs: ['long'], task: { type: 'echo' } },
      ],
    });
    const [long] = await tasksOf(fleet(), wf, 'long');
    await waitFor(async () => (await fleet().sup.store.getTask(long!.id))!.status === 'running', 10_000, 'running');
    const res = await fleet().request('POST', `/v1/workflows/${wf.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('cancelled');
    expect(step(res.body, 'next')).toMatchObject({ state: 'cancelled', taskIds: [] });
    await waitFor(async () => (await fleet().sup.store.getTask(long!.id))!.status === 'cancelled', 10_000, 'cancel');
    await waitFor(async () => step(await settled(fleet(), wf.id), 'long').state === 'cancelled', 10_000, 'step');
    expectProblem(await fleet().request('POST', `/v1/workflows/${wf.id}/cancel`), 409);
  });

  it("hands an HTTP agent the step's place with the claimed task, and its result moves the workflow on", async () => {
    const call = (path: string, body: unknown) => fleet().request('POST', path, body, {}, { key: keys.agent.key });
    const reg = { capabilities: ['wf-http'], types: ['review'], concurrency: 1 };
    expect((await call('/v1/agents/sec-wf/register', reg)).status).toBe(200);
    const wf = await submit(fleet(), {
      steps: [
        { id: 'draft', task: { type: 'echo', payload: { text: 'v1' } } },
        { id: 'review', needs: ['draft'], task: { type: 'review', requiredCapabilities: ['wf-http'], payload: 'p' } },
      ],
    });
    let claimed: any[] = [];
    await waitFor(
      async () => (claimed = (await call('/v1/agents/sec-wf/claim', { max: 1, waitSeconds: 1 })).body.tasks).length > 0,
      15_000,
      'the review step to be claimable',
    );
    expect(claimed[0]).toMatchObject({
      type: 'review',
      payload: 'p',
      workflow: { id: wf.id, step: 'review', round: 1, inputs: { draft: { text: 'v1' } } },
    });
    const done = await call(`/v1/tasks/${claimed[0].id}/complete`, {
      agentId: 'sec-wf',
      attempt: claimed[0].attempt,
      result: { ok: true },
    });
    expect(done.status).toBe(200);
    const after = await settled(fleet(), wf.id);
    expect(after.state).toBe('succeeded');
    expect(step(after, 'review').result).toEqual({ ok: true });
    await call('/v1/agents/sec-wf/stop', {});
  });

  it('refuses a bad workflow naming the step, and writes nothing', async () => {
    const before = await fleet().storedTaskCount();
    const listed = (await fleet().request('GET', '/v1/workflows?limit=500')).body.workflows.length;
    const cases: Array<[unknown, string]> = [
      [{ steps: [{ id: 'a', needs: ['b'], task: { type: 'echo' } }] }, 'step a needs unknown step b'],
      [
        {
          steps: [
            { id: 'a', needs: ['b'], task: { type: 'echo' } },
            { id: 'b', needs: ['a'], task: { type: 'echo' } },
          ],
        },
        'cycle',
      ],
      [
        {
          steps: [
            { id: 'a', task: { type: 'echo' } },
            { id: 'a', task: { type: 'echo' } },
          ],
        },
        'duplicate step id a',
      ],
      [{ steps: Array.from({ length: 201 }, (_, i) => ({ id: `s${i}`, task: { type: 'echo' } })) }, 'at most 200'],
      [{ steps: [{ id: 'a', validates: 'nope', task: { type: 'judge' } }] }, 'unknown step nope'],
      [{ steps: [{ id: 'a', task: { type: 'echo', priority: 'urgent' } }] }, 'steps[0].task.priority'],
    ];
    for (const [body, message] of cases) {
      const res = await fleet().request('POST', '/v1/workflows', body);
      expectProblem(res, 400);
      expect(JSON.stringify(res.body)).toContain(message);
    }
    expect(await fleet().storedTaskCount()).toBe(before);
    expect((await fleet().request('GET', '/v1/workflows?limit=500')).body.workflows).toHaveLength(listed);
  });

  it('an Idempotency-Key replays the same workflow; another body under it is a conflict', async () => {
    const body = { steps: [{ id: 'only', task: { type: 'echo' } }] };
    const first = await fleet().request('POST', '/v1/workflows', body, { 'Idempotency-Key': 'wf-key-1' });
    expect(first.status).toBe(201);
    const again = await fleet().request('POST', '/v1/workflows', body, { 'Idempotency-Key': 'wf-key-1' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await fleet().request(
      'POST',
      '/v1/workflows',
      { steps: [{ id: 'x', task: { type: 'echo' } }] },
      {
        'Idempotency-Key': 'wf-key-1',
      },
    );
    expectProblem(other, 409);
    await settled(fleet(), first.body.id);
    expect(step(await settled(fleet(), first.body.id), 'only').taskIds).toHaveLength(1);
  });

  it('lists a submitter its own workflows only, and follows events as a stream until the end', async () => {
    const mine = await submit(fleet(), { steps: [{ id: 's', task: { type: 'echo' } }] }, keys.submitter2.key);
    const list = (await fleet().request('GET', '/v1/workflows', undefined, {}, { key: keys.submitter2.key })).body;
    expect(list.workflows.map((w: { id: string }) => w.id)).toEqual([mine.id]);
    expectProblem(
      await fleet().request('GET', `/v1/workflows/${mine.id}`, undefined, {}, { key: keys.submitter.key }),
      404,
    );
    const res = await fetch(`${fleet().url}/v1/workflows/${mine.id}/events?follow=true`, {
      headers: { authorization: `Bearer ${keys.submitter2.key}` },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text(); // the stream ends after the workflow's end
    expect(text).toMatch(/event: submitted/);
    expect(text).toMatch(/event: succeeded/);
    // Resumed with Last-Event-ID: only what came after it.
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const resumed = await fetch(`${fleet().url}/v1/workflows/${mine.id}/events?follow=true`, {
      headers: { authorization: `Bearer ${keys.submitter2.key}`, 'Last-Event-ID': String(ids.at(-2)) },
    });
    const rest = [...(await resumed.text()).matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(rest).toEqual([ids.at(-1)]);
  });
});
