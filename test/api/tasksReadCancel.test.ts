/**
 * Reading, listing and cancelling tasks over real HTTP against a real supervisor (SQLite file + Redis under a
 * private prefix), with background loops off and no workers: every assertion on a response is paired with one on
 * the store (and, for dispatch, on the BullMQ job in Redis), so "nothing stored" is proven, not assumed. Each test
 * starts its own fleet.
 */
import { fleetPerTest } from '../helpers/fleet';
import { ISO, expectProblem } from '../helpers/http';

const { start } = fleetPerTest();

describe('GET /v1/tasks/:id and /v1/tasks/:id/events', () => {
  it('returns the task as submitted, and 404 problem+json for an unknown id', async () => {
    const f = await start();
    const created = await f.submit({ type: 'echo', payload: { k: 'v' }, requiredCapabilities: ['linux'] });
    const res = await f.request('GET', `/v1/tasks/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created);

    const unknown = await f.request('GET', '/v1/tasks/01890000-0000-7000-8000-000000000000');
    expectProblem(unknown, 404, { code: 'not_found' });
    expect(await f.storedTaskCount()).toBe(1);
  });

  it('lists the submitted event, and 404 for the events of an unknown task', async () => {
    const f = await start();
    const created = await f.submit({ type: 'echo' });
    const res = await f.request('GET', `/v1/tasks/${created.id}/events`);
    expect(res.status).toBe(200);
    expect(res.body.events).toHaveLength(1);
    expect(res.body.events[0]).toEqual({
      seq: expect.any(Number),
      at: created.createdAt,
      kind: 'submitted',
      attempt: 0,
    });
    expectProblem(await f.request('GET', '/v1/tasks/no-such-task/events'), 404, { code: 'not_found' });
  });
});

describe('GET /v1/tasks', () => {
  it('filters by status, type and capability, newest first', async () => {
    const f = await start();
    const a = await f.submit({ type: 'echo' });
    const b = await f.submit({ type: 'echo', requiredCapabilities: ['gpu', 'cuda'] });
    const c = await f.submit({ type: 'sleep', requiredCapabilities: ['gpu'] });
    const d = await f.submit({ type: 'sleep' });
    expect((await f.request('POST', `/v1/tasks/${d.id}/cancel`)).status).toBe(202);

    const ids = async (query: string) => {
      const res = await f.request('GET', `/v1/tasks${query}`);
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('nextCursor');
      return res.body.tasks.map((t: any) => t.id);
    };
    expect(await ids('')).toEqual([d.id, c.id, b.id, a.id]);
    expect(await ids('?status=queued')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?status=cancelled')).toEqual([d.id]);
    expect(await ids('?status=running')).toEqual([]);
    expect(await ids('?type=sleep')).toEqual([d.id, c.id]);
    expect(await ids('?capability=gpu')).toEqual([c.id, b.id]);
    expect(await ids('?capability=cuda')).toEqual([b.id]);
    expect(await ids('?type=echo&capability=gpu')).toEqual([b.id]);
    expect(await ids('?type=sleep&status=queued&capability=gpu')).toEqual([c.id]);
  });

  it('pages through 25 tasks with limit 10 by keyset cursor: no duplicates, no gaps, no cursor on the last page', async () => {
    const f = await start();
    const created = (await f.submitBatch(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: i })))).map(
      (t) => t.id,
    );
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await f.request('GET', `/v1/tasks?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(res.body.tasks.map((t: any) => t.id));
      cursor = res.body.nextCursor;
      if (cursor !== undefined) expect(cursor).toBe(pages[pages.length - 1]?.at(-1));
    } while (cursor !== undefined && pages.length < 10);

    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    const all = pages.flat();
    expect(new Set(all).size).toBe(25);
    expect([...all].sort()).toEqual([...created].sort());
    expect(all).toEqual([...all].sort().reverse()); // newest (highest id) first, across pages
    expect((await f.storedTasks()).map((t) => t.id)).toEqual(all);
  });

  it('ends without an empty trailing page when the count is a multiple of the limit', async () => {
    const f = await start();
    await f.submitBatch(Array.from({ length: 20 }, () => ({ type: 'echo' })));
    const first = await f.request('GET', '/v1/tasks?limit=10');
    expect(first.body.tasks).toHaveLength(10);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await f.request('GET', `/v1/tasks?limit=10&cursor=${first.body.nextCursor}`);
    expect(second.body.tasks).toHaveLength(10);
    expect(second.body).not.toHaveProperty('nextCursor');
  });

  it.each([
    ['status=bogus', 'status'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['capability=Not%20A%20Token', 'capability'],
    ['unknown=1', 'unknown'],
  ])('rejects the query %s as 400 naming %s', async (query, field) => {
    const f = await start();
    expectProblem(await f.request('GET', `/v1/tasks?${query}`), 400, { code: 'validation_failed', field });
  });
});

describe('POST /v1/tasks/:id/cancel', () => {
  it('cancels a queued task (202), then answers 409 already_terminal; 404 for an unknown id', async () => {
    const f = await start();
    const t = await f.submit({ type: 'sleep', payload: { ms: 10 } });
    const res = await f.request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body.outcome).toBe('cancelled');
    expect(res.body.task).toMatchObject({ id: t.id, status: 'cancelled', attempt: 0 });
    expect(res.body.task.finishedAt).toMatch(ISO);

    const stored = await f.sup.store.getTask(t.id);
    expect(stored).toMatchObject({ status: 'cancelled', attempt: 0 });
    expect(stored?.finishedAt).toEqual(expect.any(Number));
    const kinds = async () => (await f.sup.store.listTaskEvents(t.id)).map((e) => e.kind);
    expect(await kinds()).toEqual(['submitted', 'cancelled']);
    const events = await f.request('GET', `/v1/tasks/${t.id}/events`);
    expect(events.body.events.map((e: any) => e.kind)).toEqual(['submitted', 'cancelled']);

    const again = await f.request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ outcome: 'already_terminal', task: { id: t.id, status: 'cancelled' } });
    expect(await kinds()).toEqual(['submitted', 'cancelled']);

    expectProblem(await f.request('POST', '/v1/tasks/01890000-0000-7000-8000-000000000000/cancel'), 404, {
      code: 'not_found',
    });
    expect(await f.storedTaskCount()).toBe(1);
  });
});
