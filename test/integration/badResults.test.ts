/**
 * Results the store must not take, from real worker processes: a BigInt, a circular object and a value over
 * TASKFLEET_RESULT_MAX_BYTES. Each fails its task at once and for good (attempt 1 of 3, `dead`), saying why.
 * The lease is 10 minutes, so a task that waited for its lease to expire (the old behaviour, which then
 * blamed the worker) cannot end within the test; and an oversized result must not be stored.
 */
import path from 'node:path';
import type { TaskRecord } from '../../src/domain/task';
import { ROOT, fleetPerTest } from '../helpers/fleet';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'handlers.js');
const LIMIT = 10_000;

describe('a handler result JSON cannot hold, or over the size limit', () => {
  const { start } = fleetPerTest();

  it('fails the task at once and for good, with an error saying why, and stores no result', async () => {
    const fleet = await start({ TASKFLEET_LEASE_DURATION_MS: '600000', TASKFLEET_RESULT_MAX_BYTES: String(LIMIT) });
    await fleet.spawnWorker({ id: 'w1', concurrency: 4, args: ['--handlers', FIXTURES] });
    const submitted = await fleet.submitBatch(
      [
        { kind: 'bigint' },
        { kind: 'circular' },
        { kind: 'large', bytes: 20_000 },
        // `{"blob":"…"}` is 11 bytes around the string: exactly at the limit, so stored.
        { kind: 'large', bytes: LIMIT - 11 },
      ].map((payload) => ({ type: 'bad-result', payload, maxAttempts: 3 })),
    );
    const [bigint, circular, large, atLimit] = await fleet.waitTerminal(submitted.map((t: TaskRecord) => t.id));

    const dead = { status: 'dead', attempt: 1, maxAttempts: 3, result: null };
    expect(bigint).toMatchObject({
      ...dead,
      error: {
        kind: 'unserialisable_result',
        message: expect.stringMatching(/^the result could not be serialised: the result at \$\.total is a BigInt/),
      },
    });
    expect(circular).toMatchObject({
      ...dead,
      error: {
        kind: 'unserialisable_result',
        message:
          'the result could not be serialised: the result at $.children[0].parent refers back to an object that contains it (a circular structure)',
      },
    });
    expect(large).toMatchObject({
      ...dead,
      error: {
        kind: 'result_too_large',
        message: `the result is 20011 bytes of JSON, over the limit of ${LIMIT} bytes (TASKFLEET_RESULT_MAX_BYTES)`,
      },
    });
    expect(atLimit).toMatchObject({ status: 'succeeded', attempt: 1, result: { blob: 'x'.repeat(LIMIT - 11) } });
    for (const task of [bigint, circular, large]) {
      const kinds = (await fleet.sup.store.listTaskEvents(task!.id)).map((e) => e.kind);
      expect(kinds).not.toContain('lease_expired');
      expect(kinds).not.toContain('retry_scheduled');
    }
  }, 90_000);
});
