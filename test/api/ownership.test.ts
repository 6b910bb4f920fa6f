/**
 * Ownership: the key that submitted a task, and what another key may do with it, over real HTTP against a real
 * supervisor (SQLite file + Redis under a private prefix, loops off). Keys are made as operators make them:
 * `createApiKey` on the store (what `taskfleet keys create` runs). Each describe block starts its own fleet; no
 * test depends on another’s requests.
 */
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { expectForbidden, expectProblem } from '../helpers/http';

const redis = fileInspector();

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

  it('lets a submitter cancel its own task (202) but not another submitter’s (403, task untouched)', async () => {
    const f = fleet();
    const theirs = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter2.key });
    const mine = await f.submit({ type: 'echo', delaySeconds: 60 }, {}, { key: keys.submitter.key });

    const denied = await f.request('POST', `/v1/tasks/${theirs.id}/cancel`, undefined, {}, { key: keys.submitter.key });
    expectForbidden(denied, null);
    expect(denied.body.detail).toMatch(/only its own tasks/);
    expect((await f.sup.store.getTask(theirs.id))?.status).toBe('queued');
    expect((await f.sup.store.listTaskEvents(theirs.id)).map((e) => e.kind)).toEqual(['submitted']);

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

    // An unknown task is a 404 for its would-be owner too.
    expectProblem(
      await f.request(
        'POST',
        '/v1/tasks/01890000-0000-7000-8000-000000000000/cancel',
        undefined,
        {},
        {
          key: keys.submitter.key,
        },
      ),
      404,
      { code: 'not_found' },
    );
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
});
