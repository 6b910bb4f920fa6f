import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import type { ClaimResult, Store } from '../../src/store/port';
import { eventKinds, LEASE_MS, newTask, T0 } from './fixtures';
import { storeContract } from './store.contract';

function freshDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'taskfleet-sqlite-'));
}

let dir: string | undefined;

storeContract(
  'sqlite',
  // A nested path: opening also creates the parent directory.
  async () => openSqliteStore({ path: path.join((dir = freshDir()), 'data', 'taskfleet.db') }),
  async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
);

describe('sqlite store: two connections on one file', () => {
  let shared: string;
  const stores: Store[] = [];

  beforeEach(() => {
    shared = freshDir();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    fs.rmSync(shared, { recursive: true, force: true });
  });

  it('claims each of 100 dispatches exactly once across 200 racing claims', async () => {
    const file = path.join(shared, 'taskfleet.db');
    stores.push(...(await Promise.all([openSqliteStore({ path: file }), openSqliteStore({ path: file })])));
    const [first, second] = stores as [Store, Store];
    const tasks = Array.from({ length: 100 }, (_, i) => newTask({ createdAt: T0 + i }));
    await first.insertTasks(tasks);

    const claimVia = (store: Store, agentId: string, taskId: string) =>
      store.claimTask({ taskId, attempt: 0, agentId, now: T0 + 1_000, leaseMs: LEASE_MS });
    // Each call runs as soon as it is made; alternate which connection asks first, so each wins some races.
    const racing: Array<Promise<ClaimResult>> = tasks.flatMap((t, i) =>
      i % 2 === 0
        ? [claimVia(first, 'agent-1', t.id), claimVia(second, 'agent-2', t.id)]
        : [claimVia(second, 'agent-2', t.id), claimVia(first, 'agent-1', t.id)],
    );
    const results = await Promise.all(racing);

    const won = results.flatMap((r) => (r.claimed ? [r.task] : []));
    expect(won).toHaveLength(100);
    expect(new Set(won.map((t) => t.id)).size).toBe(100);
    expect(new Set(won.map((t) => t.agentId))).toEqual(new Set(['agent-1', 'agent-2']));
    for (const r of results) {
      if (!r.claimed) expect(r.current).toMatchObject({ status: 'running', attempt: 1 });
    }
    for (const t of tasks) expect(await eventKinds(second, t.id)).toEqual(['submitted', 'started']);
  });
});
