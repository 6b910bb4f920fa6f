/**
 * The HTTP agent protocol over real HTTP against a real supervisor (SQLite file, Redis under a private prefix):
 * register, the claim long poll, only covered routes, renew, complete, fail with retry, release, a zombie's 409
 * with its `result_rejected` event, held agents get nothing, and an agent key acting for another agent is 403.
 */
import { createApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { OPERATOR } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { expectForbidden, expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('the HTTP agent protocol', () => {
  // Waiting claims look in SQL only every minute here: a claim answered sooner was woken by the doorbell. A
  // failed attempt backs off a minute, so no test sees its retry come due.
  const fleet = fleetFor(redis, {
    each: true,
    env: {
      TASKFLEET_AGENT_CLAIM_POLL_MS: '60000',
      TASKFLEET_BACKOFF_BASE_MS: '60000',
      TASKFLEET_BACKOFF_MAX_MS: '60000',
    },
  });
  let key: string;

  beforeEach(async () => {
    const store = fleet().sup.store;
    ({ key } = await createApiKey(store, new AuditLog(store, { now: () => Date.now() }), {
      name: 'py-agents',
      role: 'agent',
      agent: { prefix: 'py-' },
      createdBy: OPERATOR,
    }));
  });

  const call = (path: string, body: unknown = {}) => fleet().request('POST', path, body, {}, { key });
  const register = (id: string, capabilities: string[] = [], types = ['echo']) =>
    call(`/v1/agents/${id}/register`, {
      capabilities,
      types,
      concurrency: 2,
      metadata: { hostname: 'py-host', pid: 42 },
    });
  const claim = (id: string, waitSeconds = 0, max = 2) => call(`/v1/agents/${id}/claim`, { max, waitSeconds });

  it('registers an agent with its settings, and answers a waiting claim as soon as a task it covers arrives', async () => {
    const reg = await register('py-1');
    expect(reg.status).toBe(200);
    expect(reg.body.agent).toMatchObject({
      id: 'py-1',
      transport: 'http',
      hostname: 'py-host',
      pid: 42,
      state: 'running',
    });
    expect(reg.body.settings).toEqual({
      leaseMs: expect.any(Number),
      heartbeatMs: expect.any(Number),
      maxClaimWaitSeconds: 30,
    });

    const started = Date.now();
    const waiting = claim('py-1', 20);
    await new Promise((r) => setTimeout(r, 300));
    const task = await fleet().submit({ type: 'echo', payload: { hello: 'py' } });
    const res = await waiting;
    expect(res.status).toBe(200);
    // Answered by the task, well before the 20 s wait ran out.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(res.body.tasks).toEqual([
      {
        id: task.id,
        attempt: 1,
        type: 'echo',
        payload: { hello: 'py' },
        priority: 'normal',
        maxAttempts: expect.any(Number),
        timeoutSeconds: null,
        leaseExpiresAt: expect.any(String),
      },
    ]);
    const renew = await call(`/v1/tasks/${task.id}/lease`, { attempt: 1, agentId: 'py-1' });
    expect(renew.body).toEqual({ leaseExpiresAt: expect.any(String), cancelRequested: false });
    expect((await call(`/v1/tasks/${task.id}/progress`, { attempt: 1, agentId: 'py-1', value: 50 })).body).toEqual({
      recorded: true,
    });
    const logs = await call(`/v1/tasks/${task.id}/logs`, {
      attempt: 1,
      agentId: 'py-1',
      lines: [{ message: 'half way' }],
    });
    expect(logs.body).toEqual({ recorded: true });
    const done = await call(`/v1/tasks/${task.id}/complete`, { attempt: 1, agentId: 'py-1', result: { ok: true } });
    expect(done.body).toEqual({ status: 'succeeded' });
    const stored = await fleet().sup.store.getTask(task.id);
    expect(stored).toMatchObject({ status: 'succeeded', result: { ok: true }, agentId: 'py-1' });
    expect((await fleet().sup.store.listTaskLogs(task.id, 1)).lines.map((l) => l.message)).toEqual(['half way']);

    // A second report of the same attempt is a zombie's: 409, and the refusal is on the record.
    const again = await call(`/v1/tasks/${task.id}/complete`, { attempt: 1, agentId: 'py-1', result: { ok: false } });
    expectProblem(again, 409, { code: 'lease_lost' });
    const kinds = (await fleet().sup.store.listTaskEvents(task.id)).map((e) => e.kind);
    expect(kinds).toContain('result_rejected');
    expect((await fleet().sup.store.getTask(task.id))?.result).toEqual({ ok: true });
  });

  it('wakes a waiting claim on one supervisor when the task is submitted through another', async () => {
    await register('py-6');
    const second = await fleet().startSecondSupervisor();
    try {
      const started = Date.now();
      const waiting = claim('py-6', 25);
      await new Promise((r) => setTimeout(r, 300));
      const admin = { authorization: `Bearer ${fleet().adminKey}` };
      const submitted = await second.request('POST', '/v1/tasks', { type: 'echo', payload: { via: 'second' } }, admin);
      expect(submitted.status).toBe(201);
      const res = await waiting;
      expect(res.body.tasks.map((t: { id: string }) => t.id)).toEqual([submitted.body.id]);
      // Long before the wait, or the next look in SQL, would have answered.
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await second.close();
    }
  });

  it('answers an empty claim when the wait runs out, and claims only what the agent covers', async () => {
    await register('py-2', ['cpu'], ['echo']);
    const gpu = await fleet().submit({ type: 'echo', requiredCapabilities: ['gpu'] });
    const other = await fleet().submit({ type: 'checksum', payload: { path: '/x' } });
    const res = await claim('py-2', 1);
    expect(res.body).toEqual({ tasks: [] });
    // Live (a fresh heartbeat), so the supervisor rings the work doorbell for the routes it serves.
    await call('/v1/agents/py-2/heartbeat', { running: [] });
    const mine = await fleet().submit({ type: 'echo', requiredCapabilities: ['cpu'] });
    const next = await claim('py-2', 5);
    expect(next.body.tasks.map((t: { id: string }) => t.id)).toEqual([mine.id]);
    for (const t of [gpu, other]) expect((await fleet().sup.store.getTask(t.id))?.status).toBe('queued');
  });

  it('retries a failure with backoff, ends a permanent one dead, and hands a released task back', async () => {
    await register('py-3');
    const [a, b, c] = [
      await fleet().submit({ type: 'echo', maxAttempts: 3 }),
      await fleet().submit({ type: 'echo', maxAttempts: 3 }),
      await fleet().submit({ type: 'echo', maxAttempts: 3 }),
    ];
    const claimed: string[] = [];
    while (claimed.length < 3) {
      const res = await claim('py-3', 2, 2);
      claimed.push(...res.body.tasks.map((t: { id: string }) => t.id));
      for (const id of res.body.tasks.map((t: { id: string }) => t.id)) {
        if (id === a.id) {
          const r = await call(`/v1/tasks/${id}/fail`, { attempt: 1, agentId: 'py-3', error: { message: 'flaky' } });
          expect(r.body).toEqual({ status: 'queued' });
        } else if (id === b.id) {
          const r = await call(`/v1/tasks/${id}/fail`, {
            attempt: 1,
            agentId: 'py-3',
            error: { message: 'bad input', retryable: false },
          });
          expect(r.body).toEqual({ status: 'dead' });
        } else {
          expect((await call(`/v1/tasks/${id}/release`, { attempt: 1, agentId: 'py-3' })).body).toEqual({
            status: 'queued',
          });
        }
      }
    }
    expect(claimed.sort()).toEqual([a.id, b.id, c.id].sort());
    const store = fleet().sup.store;
    expect(await store.getTask(a.id)).toMatchObject({ status: 'queued', attempt: 1, error: { message: 'flaky' } });
    expect(await store.getTask(b.id)).toMatchObject({ status: 'dead' });
    // Released unrun: its attempt is given back, and it can be claimed again at once.
    expect(await store.getTask(c.id)).toMatchObject({ status: 'queued' });
    const again = await claim('py-3', 5, 1);
    expect(again.body.tasks.map((t: { id: string }) => t.id)).toEqual([c.id]);
  });

  it('rings no doorbell in Redis for a route only HTTP agents cover, and still calls its task routable', async () => {
    await register('py-5', [], ['py-only']);
    const task = await fleet().submit({ type: 'py-only' });
    const prefix = fleet().config.redisPrefix;
    expect(await redis.keys(`${prefix}:py-only~*`)).toEqual([]);
    const row = {
      id: task.id,
      attempt: 0,
      type: 'py-only',
      requiredCapabilities: [],
      priority: 'normal' as const,
      notBefore: 0,
    };
    // The reconciler does not count it as missing: it needs no doorbell.
    expect(await fleet().sup.dispatcher.missing([row])).toEqual([]);
    expect((await fleet().request('GET', `/v1/tasks/${task.id}`)).body.routable).toBe(true);
    expect((await claim('py-5', 5)).body.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
  });

  it('gives a held agent nothing, and refuses a key acting as an agent outside its binding', async () => {
    await register('py-4');
    const task = await fleet().submit({ type: 'echo' });
    expect((await fleet().request('POST', '/v1/agents/py-4/suspend', {})).status).toBe(200);
    expect((await claim('py-4', 1)).body).toEqual({ tasks: [] });
    const hb = await call('/v1/agents/py-4/heartbeat', { running: [] });
    expect(hb.body.state).toBe('suspended');
    expect((await fleet().sup.store.getTask(task.id))?.status).toBe('queued');

    expectForbidden(await register('gpu-1'), ['agent']);
    expectForbidden(await call(`/v1/tasks/${task.id}/lease`, { attempt: 1, agentId: 'gpu-1' }), ['agent']);
    // A task it was not handed, existing or not, is the same lost lease: no oracle for task ids.
    for (const id of [task.id, '0193f000-0000-7000-8000-000000000000']) {
      expectProblem(await call(`/v1/tasks/${id}/progress`, { attempt: 1, agentId: 'py-4', value: 1 }), 409, {
        code: 'lease_lost',
      });
    }
    // Reading tasks is not the protocol: an agent key gets 403.
    expectForbidden(await fleet().request('GET', `/v1/tasks/${task.id}`, undefined, {}, { key }), [
      'admin',
      'reader',
      'submitter',
    ]);
    // Stopping does not lift a hold; once resumed, the agent may leave.
    expect((await call('/v1/agents/py-4/stop')).body).toEqual({ state: 'suspended' });
    expect((await fleet().request('POST', '/v1/agents/py-4/resume', {})).status).toBe(200);
    expect((await call('/v1/agents/py-4/stop')).body).toEqual({ state: 'stopped' });
  });
});
