/**
 * `taskfleet pools` as an operator runs it: the real CLI (built, from bin/) against a running supervisor's API
 * with the admin key. A declared pool shows in `pools list`, makes its waiting task routable in `status`, and
 * `pools remove` takes it away.
 */
import type { Redis } from 'ioredis';
import { runCli, type CliRun } from '../helpers/cli';
import { Fleet, inspector, stopAndVerifyClean } from '../helpers/fleet';

function cli(fleet: Fleet, args: string[]): Promise<CliRun> {
  return runCli(args, { TASKFLEET_URL: fleet.url, TASKFLEET_API_KEY: fleet.adminKey });
}

let redis: Redis;
let fleet: Fleet | undefined;

beforeAll(() => {
  redis = inspector();
});

afterAll(async () => {
  await redis.quit();
});

afterEach(async () => {
  const f = fleet;
  fleet = undefined;
  await stopAndVerifyClean(f, redis);
});

describe('taskfleet pools', () => {
  it('declares a pool, lists it, shows its task routable in status, and removes it', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    const task = await f.submit({ type: 'checksum', payload: { path: '/x' }, requiredCapabilities: ['fs'] });
    const status = async () => (await cli(f, ['status'])).stdout.split('\n').find((l) => l.includes(task.id)) ?? '';
    expect(await status()).toContain('(no live worker or declared pool can run it)');

    const declared = await cli(f, [
      'pools',
      'declare',
      '--capabilities',
      'fs',
      '--types',
      'checksum,echo',
      '--note',
      'files',
    ]);
    expect(declared).toMatchObject({ code: 0 });
    expect(JSON.parse(declared.stdout)).toMatchObject({ key: 'checksum+echo~fs', declared: true, backlog: 1 });

    const list = await cli(f, ['pools', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /checksum\+echo~fs\s+0 workers\s+0\/0 running, 0 free\s+backlog 1\s+\(declared by bootstrap admin\)\s+files/,
    );
    expect(await status()).not.toContain('can run it');

    const removed = await cli(f, ['pools', 'remove', 'checksum+echo~fs']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed the declaration of pool checksum+echo~fs\n' });
    expect(JSON.parse((await cli(f, ['pools', 'list', '--json'])).stdout)).toEqual([]);
    expect(await status()).toContain('(no live worker or declared pool can run it)');

    const again = await cli(f, ['pools', 'remove', 'checksum+echo~fs']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/404 declared pool checksum\+echo~fs not found/);
    const bad = await cli(f, ['pools', 'declare', '--types', 'Bad Type']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--types/);
  });
});
