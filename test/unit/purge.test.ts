/**
 * The retention purge (src/supervisor/purge.ts) on a real SQLite store with a controlled clock: each pass
 * deletes exactly what is due per status (or state) and age, in batches of the configured size, while tasks
 * keep arriving between batches; a retention of 0 keeps for ever.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { RetentionConfig } from '../../src/config/config';
import type { TaskStatus } from '../../src/domain/task';
import type { Store } from '../../src/store/port';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { RetentionPurge, workflowRetentionMs, type PurgeKind } from '../../src/supervisor/purge';
import { v7 as uuidv7 } from 'uuid';
import { LEASE_MS, newTask, T0 } from '../contract/fixtures';

const DAY = 86_400_000;
const SETTINGS: RetentionConfig = {
  succeededMs: 7 * DAY,
  deadMs: 30 * DAY,
  agentsMs: 7 * DAY,
  auditMs: 365 * DAY,
  batch: 10,
  pauseMs: 1,
  intervalMs: 60_000,
};

let dir: string;
let store: Store;
let now: number;
const clock = { now: () => now };

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-purge-'));
  store = await openSqliteStore({ path: path.join(dir, 'taskfleet.db') });
  now = T0 + 10 * DAY;
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `n` tasks that reached `status` at `at` (queued ones were only submitted). */
async function tasksEndingAt(status: TaskStatus, at: number, n: number): Promise<string[]> {
  const tasks = Array.from({ length: n }, () =>
    newTask({ createdAt: at - 1_000, notBefore: at - 1_000, maxAttempts: 1 }),
  );
  await store.insertTasks(tasks);
  for (const t of tasks) {
    if (status === 'queued') continue;
    if (status === 'cancelled') {
      await store.requestCancel(t.id, at);
      continue;
    }
    await store.claimTask({ taskId: t.id, attempt: 0, agentId: 'agent-a', now: at - 500, leaseMs: LEASE_MS });
    const ref = { taskId: t.id, attempt: 1, agentId: 'agent-a', now: at };
    if (status === 'succeeded') await store.completeTask({ ...ref, result: null });
    else await store.failTask({ ...ref, error: { message: 'x', kind: 'handler' }, decision: { status: 'dead' } });
  }
  return tasks.map((t) => t.id);
}

async function existing(ids: string[]): Promise<string[]> {
  const found = await Promise.all(ids.map((id) => store.getTask(id)));
  return found.flatMap((t) => (t ? [t.id] : []));
}

function purgeWith(settings: RetentionConfig, betweenBatches: () => Promise<void> = async () => undefined) {
  const batches: Array<[PurgeKind, number]> = [];
  const purge = new RetentionPurge(
    store,
    settings,
    clock,
    pino({ level: 'silent' }),
    (kind, rows) => batches.push([kind, rows]),
    betweenBatches,
  );
  return { purge, batches };
}

describe('RetentionPurge', () => {
  it('deletes exactly the tasks due per status and age, in batches, while tasks keep arriving', async () => {
    const dueSucceeded = await tasksEndingAt('succeeded', T0, 25);
    const dueCancelled = await tasksEndingAt('cancelled', T0, 5);
    const recent = await tasksEndingAt('succeeded', T0 + 5 * DAY, 4);
    const dead = await tasksEndingAt('dead', T0, 6);
    const queued = await tasksEndingAt('queued', T0, 3);
    const arrived: string[] = [];
    // Between two batches, new tasks are submitted and finish: none is due yet, so none is deleted.
    const { purge, batches } = purgeWith(SETTINGS, async () => {
      arrived.push(...(await tasksEndingAt('succeeded', now, 3)));
    });

    expect(await purge.pass()).toEqual({
      tasks: 30,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 0,
    });
    expect(batches).toEqual([
      ['tasks', 10],
      ['tasks', 10],
      ['tasks', 10],
    ]);
    expect(arrived).toHaveLength(9);
    expect(await existing([...dueSucceeded, ...dueCancelled])).toEqual([]);
    const kept = [...recent, ...dead, ...queued, ...arrived];
    expect(await existing(kept)).toEqual(kept);
    for (const id of dueSucceeded.slice(0, 3)) expect(await store.listTaskEvents(id)).toEqual([]);

    // 31 days on: the dead are due too, and everything that finished since.
    now = T0 + 31 * DAY;
    batches.length = 0;
    expect(await purge.pass()).toEqual({
      tasks: 19,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 0,
    });
    expect(batches).toEqual([
      ['tasks', 10],
      ['tasks', 3],
      ['tasks', 6],
    ]);
    expect(await existing(kept)).toEqual(queued);
    expect(purge.purged).toEqual({ tasks: 49, agents: 0, audit: 0, routeEvents: 0, routeMinutes: 0, workflows: 0 });
    expect(await purge.pass()).toEqual({
      tasks: 0,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 0,
    });
  });

  it('deletes stopped and failed agents and audit entries past their retention, and nothing else', async () => {
    const agent = (id: string) => ({
      id,
      capabilities: [],
      types: ['echo'],
      concurrency: 1,
      hostname: 'h',
      pid: 1,
      version: 'v',
    });
    for (const id of ['gone-1', 'gone-2', 'gone-recently', 'alive']) {
      await store.registerAgent(agent(id), id === 'gone-recently' ? now - DAY : T0);
    }
    await store.setAgentState({ agentId: 'gone-1', to: 'stopped', reason: 'drained', now: T0 });
    await store.setAgentState({ agentId: 'gone-2', to: 'failed', reason: 'no heartbeat', now: T0 });
    await store.setAgentState({ agentId: 'gone-recently', to: 'stopped', reason: 'drained', now: now - DAY });
    const audit = (at: number, target: string) =>
      store.appendAudit({ at, actor: 'k', actorName: 'n', action: 'keys.create', target, ip: null, detail: null });
    for (let i = 0; i < 12; i++) await audit(now - 400 * DAY + i, `old-${i}`);
    await audit(now - 300 * DAY, 'kept');

    const { purge, batches } = purgeWith(SETTINGS);
    expect(await purge.pass()).toEqual({
      tasks: 0,
      agents: 2,
      audit: 12,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 0,
    });
    expect(batches).toEqual([
      ['agents', 2],
      ['audit', 10],
      ['audit', 2],
    ]);
    expect((await store.listAgents()).map((a) => a.id).sort()).toEqual(['alive', 'gone-recently']);
    expect((await store.listAudit({ limit: 50 })).map((e) => e.target)).toEqual(['kept']);
  });

  it('keeps for ever what has a retention of 0', async () => {
    const done = await tasksEndingAt('succeeded', T0, 3);
    const dead = await tasksEndingAt('dead', T0, 3);
    await store.registerAgent(
      { id: 'gone', capabilities: [], types: ['echo'], concurrency: 1, hostname: 'h', pid: 1, version: 'v' },
      T0,
    );
    await store.setAgentState({ agentId: 'gone', to: 'stopped', reason: 'drained', now: T0 });
    await store.appendAudit({ at: T0, actor: 'k', actorName: 'n', action: 'a', target: 't', ip: null, detail: null });
    now = T0 + 10_000 * DAY;

    const forever = { ...SETTINGS, succeededMs: 0, agentsMs: 0, auditMs: 0 };
    expect(await purgeWith(forever).purge.pass()).toEqual({
      tasks: 3,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      workflows: 0,
      routeMinutes: 0,
    });
    expect(await existing([...done, ...dead])).toEqual(done);
    expect(await store.listAgents()).toHaveLength(1);
    expect(await store.listAudit({ limit: 5 })).toHaveLength(1);
  });

  it('deletes finished workflows after the longer task retention (kept for ever when either is 0), never a running one', async () => {
    /** A workflow of one step that finished at `at` (null: still running). */
    const workflowEndingAt = async (at: number | null): Promise<string> => {
      const id = uuidv7();
      const spec = [{ id: 'a', needs: [], maxRounds: 3, onExhausted: 'fail' as const, onFailure: 'fail' as const }];
      await store.insertWorkflow({
        id,
        name: null,
        submittedBy: null,
        idempotencyKey: null,
        requestHash: null,
        spec,
        createdAt: T0,
      });
      if (at !== null) {
        const change = { workflowId: id, expectedVersion: 0, state: 'failed' as const, error: null, finishedAt: at };
        expect(await store.applyWorkflowChange({ ...change, steps: [], events: [], dirty: false, now: at })).toBe(true);
      }
      return id;
    };
    const old = await workflowEndingAt(T0);
    const recent = await workflowEndingAt(T0 + 11 * DAY); // 20 days before the pass below
    const running = await workflowEndingAt(null);
    expect(workflowRetentionMs(SETTINGS)).toBe(30 * DAY);
    expect(workflowRetentionMs({ succeededMs: 7 * DAY, deadMs: 0 })).toBe(0);

    now = T0 + 31 * DAY;
    expect(await purgeWith({ ...SETTINGS, deadMs: 0 }).purge.pass()).toMatchObject({ workflows: 0 });
    const { purge, batches } = purgeWith(SETTINGS);
    expect(await purge.pass()).toEqual({
      tasks: 0,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 1,
    });
    expect(batches).toEqual([['workflows', 1]]);
    expect(await store.getWorkflow(old)).toBeNull();
    expect((await store.listWorkflows({ limit: 10 })).map((w) => w.id)).toEqual([running, recent]);
  });

  it('shares the work with a second supervisor on the same file: every due task deleted once, counted once', async () => {
    const due = await tasksEndingAt('succeeded', T0, 45);
    const kept = await tasksEndingAt('succeeded', now, 5);
    const other = await openSqliteStore({ path: path.join(dir, 'taskfleet.db') });
    try {
      const first = purgeWith(SETTINGS).purge;
      const second = new RetentionPurge(other, SETTINGS, clock, pino({ level: 'silent' }), undefined, async () => {
        await new Promise((r) => setImmediate(r));
      });
      const [a, b] = await Promise.all([first.pass(), second.pass()]);
      expect(a.tasks + b.tasks).toBe(45);
      expect(await existing([...due, ...kept])).toEqual(kept);
    } finally {
      await other.close();
    }
  });

  it('ends a pass after the current batch once stopped', async () => {
    await tasksEndingAt('succeeded', T0, 25);
    const { purge, batches } = purgeWith(SETTINGS, async () => purge.stop());
    expect(await purge.pass()).toEqual({
      tasks: 10,
      agents: 0,
      audit: 0,
      routeEvents: 0,
      routeMinutes: 0,
      workflows: 0,
    });
    expect(batches).toEqual([['tasks', 10]]);
  });
});
