/**
 * Shared assertions for the API tests: problem+json responses, what the store holds, and what Redis holds
 * under a fleet's private key prefix.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { closeConnection, createProducerConnection, waitUntilReady } from '../../src/dispatch/redis';
import { routeKey } from '../../src/domain/capabilities';
import { systemClock } from '../../src/domain/clock';
import { jobId } from '../../src/domain/task';
import { createSecurityCounters, type SecurityCounters } from '../../src/security/auth';
import type { RateLimitSettings } from '../../src/security/rateLimit';
import type { Store } from '../../src/store/port';
import { AgentDirectory } from '../../src/supervisor/agentDirectory';
import { createApp } from '../../src/supervisor/app';
import { TaskService } from '../../src/supervisor/taskService';
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

/**
 * A second API process on a fleet's store and Redis prefix, built with `createApp` so that a test holds
 * its SecurityCounters, can wrap the store (to make it fail), can capture its log, and can pick its rate
 * limit: what `startSupervisor` does for the HTTP side, without the background loops.
 */
export interface TestApp {
  url: string;
  counters: SecurityCounters;
  request(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

export async function startApp(
  fleet: Fleet,
  o: { store?: Store; log?: Logger; rateLimit?: RateLimitSettings } = {},
): Promise<TestApp> {
  const store = o.store ?? fleet.sup.store;
  const log = o.log ?? pino({ level: 'silent' });
  const redis = createProducerConnection(fleet.config.redisUrl, 'taskfleet-test-app');
  redis.on('error', () => undefined);
  await waitUntilReady(redis, fleet.config.redisUrl);
  const dispatcher = new Dispatcher(redis, fleet.config.redisPrefix);
  const staleAfterMs = 3 * fleet.config.heartbeatIntervalMs;
  const counters = createSecurityCounters();
  const app = createApp({
    store,
    redis,
    tasks: new TaskService(store, dispatcher, fleet.config, systemClock, log),
    agents: new AgentDirectory(store, systemClock, staleAfterMs),
    clock: systemClock,
    log,
    maxBodyBytes: fleet.config.maxBodyBytes,
    staleAfterMs,
    security: { counters, ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}) },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counters,
    request: (method, p, body, headers = {}) => httpRequest(url, method, p, body, headers),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dispatcher.close();
      await closeConnection(redis);
    },
  };
}

/** One HTTP request with exactly these headers (no key unless given). */
export async function httpRequest(
  base: string,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(base + p, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}
