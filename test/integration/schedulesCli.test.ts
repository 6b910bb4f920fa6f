/**
 * `taskfleet schedules` as an operator runs it: the real CLI (built, from bin/) against a running supervisor's
 * API with the admin key.
 */
import { runCli, type CliRun } from '../helpers/cli';
import { Fleet, fileInspector, stopAndVerifyClean } from '../helpers/fleet';

const redis = fileInspector();
let fleet: Fleet | undefined;

afterEach(async () => {
  const f = fleet;
  fleet = undefined;
  await stopAndVerifyClean(f, redis);
});

function cli(f: Fleet, args: string[]): Promise<CliRun> {
  return runCli(args, { TASKFLEET_URL: f.url, TASKFLEET_API_KEY: f.adminKey });
}

describe('taskfleet schedules', () => {
  it('creates, lists, pauses, resumes and deletes a schedule', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    const created = await cli(f, [
      ...['schedules', 'create', 'nightly', '--cron', '30 2 * * *', '--timezone', 'Europe/Berlin'],
      ...['--task', '{"type":"echo","payload":{"n":1}}', '--overlap', 'skip'],
    ]);
    expect(created).toMatchObject({ code: 0 });
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'nightly', timezone: 'Europe/Berlin', overlap: 'skip' });

    const list = await cli(f, ['schedules', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/nightly\s+30 2 \* \* \* \(Europe\/Berlin\)\s+next \d{4}-.*Z\s+last task -/);

    expect((await cli(f, ['schedules', 'pause', 'nightly'])).stdout).toMatch(/nightly .* paused/);
    expect((await f.sup.store.getSchedule('nightly'))?.paused).toBe(true);
    expect((await cli(f, ['schedules', 'resume', 'nightly'])).stdout).toMatch(/nightly .* next /);

    const bad = await cli(f, ['schedules', 'create', 'broken', '--cron', '61 * * * *', '--task', '{"type":"echo"}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('cron');

    expect(await cli(f, ['schedules', 'delete', 'nightly'])).toMatchObject({
      code: 0,
      stdout: 'deleted schedule nightly\n',
    });
    expect(JSON.parse((await cli(f, ['schedules', 'list', '--json'])).stdout)).toEqual([]);
  });
});
