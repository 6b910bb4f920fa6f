/**
 * Progress and logs, the parts progressLogs.test.ts leaves out: each task of one dispatch batch (one BullMQ job
 * carrying several tasks, TASKFLEET_DISPATCH_BATCH > 1) keeps its own progress, and the 64 KiB per-attempt cap
 * of log lines drops what is over it and counts it in `dropped.bytes`, for a Node worker and for an HTTP agent.
 * A real worker process, real HTTP, a real SQLite file and Redis under a private prefix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { jobId } from '../../src/domain/task';
import { MAX_LOG_BYTES_PER_ATTEMPT } from '../../src/domain/taskLog';
import { createApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { OPERATOR } from '../helpers/apiKeys';
import { Fleet, fileInspector, keysUnder, ROOT, stopAndVerifyClean, waitFor } from '../helpers/fleet';

const HANDLERS = path.join(ROOT, 'test', 'fixtures', 'chattyLogs.js');
const redis = fileInspector();

interface LogsBody {
  lines: Array<{ message: string }>;
  dropped: { lines: number; bytes: number };
}

/** What one line of the `chatty` handler costs: three digits and `chars` two-byte characters. */
const lineBytes = (chars: number) => 3 + 2 * chars;
const chattyLine = (i: number, chars: number) => `${String(i).padStart(3, '0')}${'é'.repeat(chars)}`;

describe('progress of a dispatch batch, and the byte cap of log lines', () => {
  let fleet: Fleet | undefined;
  const f = () => fleet!;
  const gateFile = (name: string) => path.join(f().dir, `${name}.gate`);
  const task = async (id: string) => (await f().request('GET', `/v1/tasks/${id}`)).body as Record<string, unknown>;
  const logs = async (id: string) => (await f().request('GET', `/v1/tasks/${id}/logs`)).body as LogsBody;

  beforeAll(async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_DISPATCH_BATCH: '10' } });
    await fleet.spawnWorker({ id: 'batch-w1', concurrency: 4, args: ['--handlers', HANDLERS] });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('keeps the progress of each task of one batch apart', async () => {
    // Three tasks of one route submitted together travel in one job; each reports `steps` values, the last
    // { step: steps, of: steps }, and waits on its own gate.
    const steps = [3, 5, 7];
    const tasks = await f().submitBatch(
      steps.map((n, i) => ({ type: 'report', payload: { gate: gateFile(`batch-${i}`), steps: n, lines: 0 } })),
    );
    await waitFor(
      async () => (await Promise.all(tasks.map((t) => task(t.id)))).every((t) => t.status === 'running'),
      15_000,
      'the three tasks running',
    );
    // They are one batch: the markers of their dispatches name one job.
    const markerKeys = (await keysUnder(redis, f().config.redisPrefix)).filter((k) => k.endsWith(':taskfleet-batches'));
    const markers = Object.assign({}, ...(await Promise.all(markerKeys.map((k) => redis.hgetall(k))))) as Record<
      string,
      string
    >;
    const jobs = tasks.map((t) => markers[jobId(t.id, 0)]);
    expect(jobs[0]).toEqual(expect.any(String));
    expect(new Set(jobs).size).toBe(1);

    const progressOf = async () => (await Promise.all(tasks.map((t) => task(t.id)))).map((t) => t.progress);
    const expected = steps.map((n) => ({ step: n, of: n }));
    await waitFor(
      async () => JSON.stringify(await progressOf()) === JSON.stringify(expected),
      15_000,
      'each task its own last progress',
    );
    // Once one of them is done, the others' progress is still their own.
    fs.writeFileSync(gateFile('batch-1'), '');
    await f().waitTerminal([tasks[1].id]);
    expect(await progressOf()).toEqual([expected[0], 100, expected[2]]);
    fs.writeFileSync(gateFile('batch-0'), '');
    fs.writeFileSync(gateFile('batch-2'), '');
    await f().waitTerminal(tasks.map((t) => t.id));
    expect(await progressOf()).toEqual([100, 100, 100]);
  });

  it('keeps at most 64 KiB of lines of a Node worker’s attempt, counting the bytes it dropped', async () => {
    const chars = 500;
    const count = 80;
    const fit = Math.floor(MAX_LOG_BYTES_PER_ATTEMPT / lineBytes(chars));
    const t = await f().submit({ type: 'chatty', payload: { count, chars } });
    await f().waitTerminal([t.id]);
    const body = await logs(t.id);
    // The lines that fit, then the short last line, which still fits after the long ones were dropped.
    expect(body.lines.map((l) => l.message)).toEqual([
      ...Array.from({ length: fit }, (_, i) => chattyLine(i, chars)),
      'end',
    ]);
    expect(body.dropped).toEqual({ lines: count - fit, bytes: (count - fit) * lineBytes(chars) });
  });

  it('keeps at most 64 KiB of lines of an HTTP agent’s attempt, across its requests, counting the bytes it dropped', async () => {
    const store = f().sup.store;
    const { key } = await createApiKey(store, new AuditLog(store, { now: () => Date.now() }), {
      name: 'py-agents',
      role: 'agent',
      agent: { prefix: 'py-' },
      createdBy: OPERATOR,
    });
    const call = (p: string, body: unknown) => f().request('POST', p, body, {}, { key });
    const reg = await call('/v1/agents/py-logs/register', { capabilities: [], types: ['py-chatty'], concurrency: 1 });
    expect(reg.status).toBe(200);
    const t = await f().submit({ type: 'py-chatty' });
    const claimed = await call('/v1/agents/py-logs/claim', { max: 1, waitSeconds: 10 });
    expect(claimed.body.tasks.map((x: { id: string }) => x.id)).toEqual([t.id]);

    const chars = 500;
    const fit = Math.floor(MAX_LOG_BYTES_PER_ATTEMPT / lineBytes(chars));
    const send = async (from: number, to: number, extra: string[] = []) => {
      const lines = [
        ...Array.from({ length: to - from }, (_, i) => ({ message: chattyLine(from + i, chars) })),
        ...extra.map((message) => ({ message })),
      ];
      const res = await call(`/v1/tasks/${t.id}/logs`, { attempt: 1, agentId: 'py-logs', lines });
      expect(res.body).toEqual({ recorded: true });
    };
    await send(0, 40);
    await send(40, 80, ['end']);
    const done = await call(`/v1/tasks/${t.id}/complete`, { attempt: 1, agentId: 'py-logs', result: { ok: true } });
    expect(done.body).toEqual({ status: 'succeeded' });

    const body = await logs(t.id);
    expect(body.lines.map((l) => l.message)).toEqual([
      ...Array.from({ length: fit }, (_, i) => chattyLine(i, chars)),
      'end',
    ]);
    expect(body.dropped).toEqual({ lines: 80 - fit, bytes: (80 - fit) * lineBytes(chars) });
    await call('/v1/agents/py-logs/stop', {});
  });
});
