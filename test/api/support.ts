/**
 * Shared assertions for the API tests: problem+json responses, what the store holds, and what Redis holds
 * under a fleet's private key prefix.
 */
import { Redis } from 'ioredis';
import { routeKey } from '../../src/domain/capabilities';
import { jobId } from '../../src/domain/task';
import { REDIS_URL, type Fleet } from '../helpers/fleet';

export type ApiResponse = Awaited<ReturnType<Fleet['request']>>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** One Redis connection per test file, for inspecting (never writing) a fleet's keys. */
export function inspector(): Redis {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  r.on('error', () => undefined);
  return r;
}

export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

/** The Redis key of the BullMQ job that dispatches `attempt` of a task. */
export function jobKey(
  fleet: Fleet,
  task: { id: string; type: string; requiredCapabilities: string[] },
  attempt = 0,
): string {
  return `${fleet.config.redisPrefix}:${routeKey(task.type, task.requiredCapabilities)}:${jobId(task.id, attempt)}`;
}

export function queueKey(fleet: Fleet, type: string, capabilities: string[], suffix: string): string {
  return `${fleet.config.redisPrefix}:${routeKey(type, capabilities)}:${suffix}`;
}

export async function storedTasks(fleet: Fleet) {
  return fleet.sup.store.listTasks({ limit: 1000 });
}

export async function storedTaskCount(fleet: Fleet): Promise<number> {
  return (await storedTasks(fleet)).length;
}

/** Asserts an RFC 9457 problem response with `status`, and (when given) that `errors[].field` names `field`. */
export function expectProblem(res: ApiResponse, status: number, opts: { code?: string; field?: string } = {}): void {
  const context = `${res.status} ${JSON.stringify(res.body)}`;
  expect({ status: res.status, context }).toEqual({ status, context });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/^urn:taskfleet:problem:[a-z_]+$/),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  if (opts.code !== undefined) expect(res.body.type).toBe(`urn:taskfleet:problem:${opts.code}`);
  if (opts.field !== undefined) {
    expect(res.body).toHaveProperty('errors', expect.any(Array));
    const fields = (res.body.errors as Array<{ field: string; message: string }>).map((e) => e.field);
    expect(fields).toContain(opts.field);
    for (const e of res.body.errors) expect(typeof e.message).toBe('string');
  }
}

/** Stops the fleet and proves it left nothing behind: no worker process running and no Redis key. */
export async function stopAndVerifyClean(fleet: Fleet | undefined, redis: Redis): Promise<void> {
  if (!fleet) return;
  const prefix = fleet.config.redisPrefix;
  await fleet.stop();
  for (const w of fleet.workers) {
    expect(w.child.exitCode !== null || w.child.signalCode !== null).toBe(true);
  }
  expect(await keysUnder(redis, prefix)).toEqual([]);
}
