/**
 * A supervisor's retention purge and its figures, over real HTTP, Redis and SQLite: what it deleted shows in
 * `/v1/stats` (purged) and `/metrics` (taskfleet_purged_total); and the `/metrics` counters count from the
 * supervisor's start, not from the first scrape.
 */
import { Fleet, waitFor } from '../helpers/fleet';

const counter = (text: string, name: string, kind: string) =>
  Number(new RegExp(`^${name}\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');

describe('retention: figures', () => {
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });

  it('counts in /metrics the task events written before the first scrape', async () => {
    fleet = await Fleet.start({ loops: false });
    await fleet.submitBatch([1, 2, 3].map((i) => ({ type: 'echo', payload: i })));
    const text = await (await fetch(`${fleet.url}/metrics`)).text();
    expect(counter(text, 'taskfleet_task_events_total', 'submitted')).toBe(3);
  });

  it('shows what the purge deleted in /v1/stats and /metrics', async () => {
    fleet = await Fleet.start({ loops: false, env: { TASKFLEET_RETENTION_SUCCEEDED: '1ms' } });
    const [first, second] = await fleet.submitBatch([1, 2].map((i) => ({ type: 'echo', payload: i })));
    for (const task of [first, second]) {
      const res = await fleet.request('POST', `/v1/tasks/${task.id}/cancel`);
      expect(res.body).toMatchObject({ outcome: 'cancelled', task: { status: 'cancelled' } });
    }
    // Due one millisecond after they ended: the pass that finds them deletes both.
    let purged = 0;
    await waitFor(async () => (purged += (await fleet!.sup.purge.pass()).tasks) === 2, 5_000, 'the purge');
    expect((await fleet.request('GET', `/v1/tasks/${first.id}`)).status).toBe(404);

    const stats = (await fleet.request('GET', '/v1/stats')).body;
    expect(stats.purged).toEqual({ tasks: 2, agents: 0, audit: 0, routeEvents: 0, routeMinutes: 0, workflows: 0 });
    const text = await (await fetch(`${fleet.url}/metrics`)).text();
    expect(counter(text, 'taskfleet_purged_total', 'tasks')).toBe(2);
  });
});
