/**
 * How deeply a submitted payload may nest (MAX_JSON_DEPTH), over real HTTP against a real supervisor. A payload
 * nested 5,000 levels deep (about 20 KB) used to overflow the validator's stack and answer 500; it must be a 400
 * that names the field and the limit, with nothing stored, whatever path the body takes (single or batch, with
 * or without an Idempotency-Key, whose hash also reads the whole body).
 */
import { MAX_JSON_DEPTH } from '../../src/domain/submission';
import { expectNothingStored, fleetPerTest } from '../helpers/fleet';
import { expectProblem, type ApiResponse } from '../helpers/http';

const { redis, start } = fleetPerTest();

/** JSON text of arrays nested `depth` levels deep around a number, built as text (no recursion here either). */
const nestedJson = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

const task = (payloadDepth: number) => `{"type":"echo","payload":${nestedJson(payloadDepth)}}`;

function expectDepthProblem(res: ApiResponse, field: string): void {
  expectProblem(res, 400, { code: 'validation_failed', field });
  expect(res.body.errors).toEqual([
    { field, message: `nested deeper than ${MAX_JSON_DEPTH} levels (the maximum depth)` },
  ]);
}

describe(`payload depth (at most ${MAX_JSON_DEPTH} levels)`, () => {
  it.each([
    ['without', {}],
    ['with', { 'idempotency-key': 'deep-1' }],
  ])(
    'answers 400 naming payload and the limit for a payload 5,000 levels deep, %s an Idempotency-Key',
    async (_, headers) => {
      const f = await start();
      const body = task(5_000);
      expect(body.length).toBeGreaterThan(10_000);
      const res = await f.request('POST', '/v1/tasks', body, headers);
      expectDepthProblem(res, 'payload');
      await expectNothingStored(f, redis);
    },
  );

  it.each([
    ['without', {}],
    ['with', { 'idempotency-key': 'deep-batch-1' }],
  ])(
    'answers 400 naming tasks[1].payload for a deep payload in a batch, storing none of it, %s an Idempotency-Key',
    async (_, headers) => {
      const f = await start();
      const body = `{"tasks":[{"type":"echo"},${task(5_000)},{"type":"echo"}]}`;
      const res = await f.request('POST', '/v1/tasks/batch', body, headers);
      expectDepthProblem(res, 'tasks[1].payload');
      await expectNothingStored(f, redis);
    },
  );

  it('answers 400 for one level over the limit, and takes a payload exactly at it', async () => {
    const f = await start();
    expectDepthProblem(await f.request('POST', '/v1/tasks', task(MAX_JSON_DEPTH + 1)), 'payload');
    await expectNothingStored(f, redis);
    const res = await f.request('POST', '/v1/tasks', task(MAX_JSON_DEPTH));
    expect(res.status).toBe(201);
    expect(JSON.stringify(res.body.payload)).toBe(nestedJson(MAX_JSON_DEPTH));
    expect(await f.storedTaskCount()).toBe(1);
  });
});
