/**
 * Placement with two supervisors (issue 14: "with several supervisors the placement may be imperfect, never
 * wrong"): two supervisors with their loops, each with its own connection to one SQLite file and one Redis
 * prefix, each placing from its own view of the pools' free slots; a general and a gpu pool of real worker
 * processes; generic and gpu tasks submitted through both at once, singly and in batches. Every task runs exactly
 * once, and only on a worker that covers it.
 */
import Database from 'better-sqlite3';
import pino from 'pino';
import { buildSupervisor, type Supervisor } from '../../src/supervisor/supervisor';
import { checkInvariants, expectInvariants } from '../helpers/chaosInvariants';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { httpRequest } from '../helpers/http';

const redis = fileInspector();

describe('placement with two supervisors', () => {
  let fleet: Fleet | undefined;
  let second: Supervisor | undefined;

  afterAll(async () => {
    await second?.stop();
    await stopAndVerifyClean(fleet, redis);
  });

  it('runs every task exactly once, and only on a worker that covers it', async () => {
    fleet = await Fleet.start();
    // Its own store (its own connection to the file), its own placement and loops, on the same prefix.
    second = await buildSupervisor(fleet.config, { listen: { port: 0 }, log: pino({ level: 'silent' }) });
    await Promise.all([
      fleet.spawnWorker({ id: 'general', concurrency: 2 }),
      fleet.spawnWorker({ id: 'gpu', capabilities: ['gpu'], concurrency: 2 }),
    ]);
    const generic = { type: 'sleep', capabilities: [] };
    for (const sup of [fleet.sup, second]) {
      await waitFor(() => sup.placement.order(generic).length === 2, 10_000, 'both supervisors to know both pools');
    }

    const auth = { authorization: `Bearer ${fleet.adminKey}` };
    const task = (i: number) => ({
      type: 'sleep',
      payload: { ms: 10 + (i % 4) * 10 },
      ...(i % 3 === 0 ? { requiredCapabilities: ['gpu'] } : {}),
    });
    /** Through one supervisor: rounds of a batch of four and two single tasks. */
    const submitThrough = async (url: string, from: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let round = 0; round < 5; round++) {
        const base = from + round * 6;
        const batch = await httpRequest(
          url,
          'POST',
          '/v1/tasks/batch',
          { tasks: [0, 1, 2, 3].map((k) => task(base + k)) },
          auth,
        );
        expect(batch.status).toBe(201);
        ids.push(...batch.body.tasks.map((t: { id: string }) => t.id));
        for (const k of [4, 5]) {
          const one = await httpRequest(url, 'POST', '/v1/tasks', task(base + k), auth);
          expect(one.status).toBe(201);
          ids.push(one.body.id as string);
        }
      }
      return ids;
    };
    const [a, b] = await Promise.all([submitThrough(fleet.url, 0), submitThrough(second.url, 1000)]);
    const ids = [...a, ...b];
    expect(new Set(ids).size).toBe(60);

    const done = await fleet.waitTerminal(ids, 60_000);
    expect(done.map((t) => t.status)).toEqual(ids.map(() => 'succeeded'));
    // Each ran once: one claim and one result, by a worker with the task's capabilities (gpu tasks on gpu only).
    const db = new Database(fleet.config.sqlitePath, { readonly: true });
    try {
      const report = checkInvariants(db, ids);
      expectInvariants(report);
      expect(report.highestAttempt).toBe(1);
      const started = db
        .prepare<[], { task_id: string; n: number }>(
          "SELECT task_id, COUNT(*) AS n FROM task_events WHERE kind = 'started' GROUP BY task_id",
        )
        .all();
      const claims = new Map(started.map((r) => [r.task_id, r.n]));
      expect(ids.map((id) => claims.get(id))).toEqual(ids.map(() => 1));
    } finally {
      db.close();
    }
    for (const t of done) {
      if (t.requiredCapabilities.includes('gpu')) expect(t.agentId).toBe('gpu');
      else expect(['general', 'gpu']).toContain(t.agentId);
    }
    expect(done.filter((t) => t.requiredCapabilities.includes('gpu'))).toHaveLength(20);
  }, 120_000);
});
