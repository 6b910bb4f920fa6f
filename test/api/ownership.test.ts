/**
 * Ownership: the key that submitted a task, and what another key may do with it, over real HTTP against a real
 * supervisor (SQLite file + Redis under a private prefix, loops off). Keys are made as operators make them:
 * `createApiKey` on the store (what `taskfleet keys create` runs). Each describe block starts its own fleet; no
 * test depends on another’s requests.
 */
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { type ApiResponse, expectForbidden, expectProblem } from '../helpers/http';

const redis = fileInspector();

/** A task id no task has. */
const UNKNOWN = '01890000-0000-7000-8000-000000000000';

/** `res` is the answer `unknown` got for UNKNOWN, word for word, but for the id asked about. */
function expectLikeUnknown(res: ApiResponse, unknown: ApiResponse, id: string): void {
  expectProblem(res, 404, { code: 'not_found' });
  expect(res.body).toEqual(JSON.parse(JSON.stringify(unknown.body).split(UNKNOWN).join(id)));
  expect(res.headers.get('content-type')).toBe(unknown.headers.get('content-type'));
}

describe('ownership and the submitting key', () => {
  const fleet = fleetFor(redis);
  let keys: Keys;

  beforeAll(async () => {
    keys = await makeKeys(fleet());
  });

  it('records and shows submittedBy: the key id, or bootstrap-admin', async () => {
    const f = fleet();
    const mine = await f.submit({ type: 'echo' }, {}, { key: keys.submitter.key });
    expect(mine.submittedBy).toBe(keys.submitter.id);
    expect((await f.sup.store.getTask(mine.id))?.submittedBy).toBe(keys.submitter.id);
    const [batched] = await f.submitBatch([{ type: 'echo' }], {}, { key: keys.submitter2.key });
    expect(batched.submittedBy).toBe(keys.submitter2.id);
    const byAdmin = await f.submit({ type: 'echo' });
    expect(byAdmin.submittedBy).toBe('bootstrap-admin');
    const read = await f.request('GET', `/v1/tasks/${mine.id}`, undefined, {}, { key: keys.reader.key });
    expect(read.body.submittedBy).toBe(keys.submitter.id);
  });

  it('lets a submitter cancel its own task (202); another submitter’s answers 404, as an unknown task, untouched', async () => {
    const f = fleet();
    const theirs = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter2.key });
    const mine = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });

    const denied = await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expectLikeUnknown(
      denied,
      await f.request('POST', `/v1/tasks/${UNKNOWN}/cancel`, undefined, {}, { key: keys.submitter.key }),
      theirs.id,
    );
    expect((await f.sup.store.getTask(theirs.id))?.status).toBe('queued');
    expect((await f.sup.store.listTaskEvents(theirs.id)).map((e) => e.kind)).toEqual(['submitted']);
    expect(await f.sup.store.listAudit({ limit: 10, action: 'task.cancel' })).toEqual([]);

    const allowed = await f.request('POST', `/v1/tasks/${mine.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expect(allowed.status).toBe(202);
    expect(allowed.body.outcome).toBe('cancelled');

    // A reader may not cancel even a task nobody owns; an admin may cancel anyone's.
    expectForbidden(await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.reader.key }), [
      'admin',
      'submitter',
    ]);
    const byAdmin = await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.admin.key });
    expect(byAdmin.status).toBe(202);
  });

  it('answers another submitter’s task 404 on every read, with the body of a task that does not exist', async () => {
    const f = fleet();
    const theirs = await f.submit(
      { type: 'echo', payload: { secret: 'theirs' }, delaySeconds: 60 },
      {},
      {
        key: keys.submitter2.key,
      },
    );
    for (const suffix of ['', '/events']) {
      const as = (key: string) => f.request('GET', `/v1/tasks/${theirs.id}${suffix}`, undefined, {}, { key });
      const unknown = await f.request(
        'GET',
        `/v1/tasks/${UNKNOWN}${suffix}`,
        undefined,
        {},
        { key: keys.submitter.key },
      );
      const denied = await as(keys.submitter.key);
      expectLikeUnknown(denied, unknown, theirs.id);
      expect(JSON.stringify(denied.body)).not.toContain('secret');
      // The owner, a reader and an admin read it.
      for (const key of [keys.submitter2.key, keys.reader.key, keys.admin.key, f.adminKey]) {
        const res = await as(key);
        expect(res.status).toBe(200);
        if (suffix === '') expect(res.body).toMatchObject({ id: theirs.id, payload: { secret: 'theirs' } });
        else expect(res.body.events.map((e: { kind: string }) => e.kind)).toEqual(['submitted']);
      }
    }
  });

  it('lists a submitter’s own tasks only, page by page; a reader and an admin list every task', async () => {
    const f = fleet();
    const mine: string[] = [];
    const others: string[] = [];
    // A type of this test's own, so that the tasks of the other tests of this fleet stay out of the filtered list.
    const task = { type: 'owned-list', delaySeconds: 60 };
    for (let i = 0; i < 3; i++) {
      mine.push((await f.submit(task, {}, { key: keys.submitter.key })).id);
      others.push((await f.submit(task, {}, { key: keys.submitter2.key })).id);
      others.push((await f.submit(task)).id);
    }
    const pages = async (key: string, extra = '') => {
      const seen: Array<{ id: string; submittedBy: string }> = [];
      let cursor: string | undefined;
      do {
        const query = `?limit=2${extra}${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await f.request('GET', `/v1/tasks${query}`, undefined, {}, { key });
        expect(res.status).toBe(200);
        // Every page is full until the last: the filter is in the query, not applied to a page afterwards.
        if (res.body.nextCursor) expect(res.body.tasks).toHaveLength(2);
        seen.push(...res.body.tasks);
        cursor = res.body.nextCursor;
      } while (cursor);
      return seen;
    };
    const ids = (tasks: Array<{ id: string }>) => tasks.map((t) => t.id);
    const newestFirst = [...mine].reverse();
    expect(ids(await pages(keys.submitter.key, '&type=owned-list'))).toEqual(newestFirst);
    expect(ids(await pages(keys.submitter.key, '&status=queued&type=owned-list'))).toEqual(newestFirst);
    const unfiltered = await pages(keys.submitter.key);
    expect(ids(unfiltered).slice(0, 3)).toEqual(newestFirst);
    expect(new Set(unfiltered.map((t) => t.submittedBy))).toEqual(new Set([keys.submitter.id]));
    for (const key of [keys.reader.key, keys.admin.key]) {
      const all = ids(await pages(key, '&type=owned-list'));
      expect(all.sort()).toEqual([...mine, ...others].sort());
    }
  });

  it('scopes Idempotency-Key to the submitting key', async () => {
    const f = fleet();
    const h = { 'Idempotency-Key': 'order-1' };
    const a1 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter.key });
    const b1 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter2.key });
    const a2 = await f.request('POST', '/v1/tasks', { type: 'echo' }, h, { key: keys.submitter.key });
    expect([a1.status, b1.status, a2.status]).toEqual([201, 201, 200]);
    expect(a2.body.id).toBe(a1.body.id);
    expect(b1.body.id).not.toBe(a1.body.id);
    expect((await f.sup.store.getTask(a1.body.id))?.idempotencyKey).toBe(`${keys.submitter.id}:task:order-1`);
  });

  it('never answers another submitter’s task for its Idempotency-Key, nor a 409 that reveals it', async () => {
    const f = fleet();
    const h = { 'Idempotency-Key': 'shared-name' };
    const theirs = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 1 }, h, { key: keys.submitter2.key });
    // Another body under the same key: a conflict for its owner, a new task for anyone else.
    const mine = await f.request('POST', '/v1/tasks', { type: 'echo', payload: 2 }, h, { key: keys.submitter.key });
    expect([theirs.status, mine.status]).toEqual([201, 201]);
    expect(mine.body.id).not.toBe(theirs.body.id);
    expect(mine.body.submittedBy).toBe(keys.submitter.id);
    const batch = await f.request('POST', '/v1/tasks/batch', { tasks: [{ type: 'echo' }] }, h, {
      key: keys.submitter2.key,
    });
    const batchMine = await f.request('POST', '/v1/tasks/batch', { tasks: [{ type: 'echo', payload: 3 }] }, h, {
      key: keys.submitter.key,
    });
    expect([batch.status, batchMine.status]).toEqual([201, 201]);
    expect(batchMine.body.tasks[0].id).not.toBe(batch.body.tasks[0].id);
    expectProblem(
      await f.request('POST', '/v1/tasks', { type: 'echo', payload: 9 }, h, { key: keys.submitter2.key }),
      409,
      { code: 'conflict' },
    );
  });
});
