/**
 * `taskfleet agents` as an operator runs it: the real CLI (built, from bin/) against a running supervisor's API,
 * with the admin key and with a reader's. The agent is registered through the store, as a worker registers.
 */
import { makeKeys } from '../helpers/apiKeys';
import { runCli, type CliRun } from '../helpers/cli';
import { fileInspector, fleetFor, type Fleet } from '../helpers/fleet';

const redis = fileInspector();

function cli(fleet: Fleet, args: string[], key = fleet.adminKey): Promise<CliRun> {
  return runCli(args, { TASKFLEET_URL: fleet.url, TASKFLEET_API_KEY: key });
}

describe('taskfleet agents', () => {
  const fleet = fleetFor(redis);

  beforeAll(async () => {
    const reg = { capabilities: [], types: ['echo', 'fail', 'sleep'], concurrency: 4, hostname: 'h', pid: 1 };
    await fleet().sup.store.registerAgent({ id: 'cli-1', ...reg, version: 'v' }, Date.now());
  });

  it('sets the concurrency and switches types one at a time, and lists the result', async () => {
    const f = fleet();
    const set = await cli(f, ['agents', 'set', 'cli-1', '--concurrency', '2', '--disable-type', 'sleep,fail']);
    expect(set).toMatchObject({ code: 0 });
    expect(set.stdout).toContain('slots 4 (asked 2)  types echo  disabled: fail,sleep');
    const enable = await cli(f, ['agents', 'set', 'cli-1', '--enable-type', 'fail', '--concurrency', 'own']);
    expect(enable.code).toBe(0);
    expect(await f.sup.store.getAgent('cli-1')).toMatchObject({
      desiredConcurrency: null,
      disabledTypes: ['sleep'],
      types: ['echo', 'fail'],
    });
    const list = await cli(f, ['agents', 'list']);
    expect(list.stdout).toMatch(/cli-1\s+running\s+slots 4\s+types echo,fail\s+disabled: sleep/);
    expect(JSON.parse((await cli(f, ['agents', 'list', '--json'])).stdout)).toEqual([
      expect.objectContaining({ id: 'cli-1', disabledTypes: ['sleep'], desiredConcurrency: null }),
    ]);
  });

  it('explains what it refuses: no change named, a bad value, an unknown type, a key that is not an admin', async () => {
    const f = fleet();
    const before = await f.sup.store.listAgentEvents('cli-1');
    expect(await cli(f, ['agents', 'set', 'cli-1'])).toMatchObject({ code: 1 });
    expect((await cli(f, ['agents', 'set', 'cli-1', '--concurrency', '0'])).stderr).toContain('1 to 1000');
    const unknown = await cli(f, ['agents', 'set', 'cli-1', '--disable-type', 'resize']);
    expect(unknown.stderr).toContain('disabledTypes[0]: agent cli-1 has no type resize');
    const keys = await makeKeys(f);
    const reader = await cli(f, ['agents', 'set', 'cli-1', '--concurrency', '3'], keys.reader.key);
    expect(reader).toMatchObject({ code: 1, stderr: expect.stringContaining('403') });
    expect(await f.sup.store.listAgentEvents('cli-1')).toEqual(before);
  });
});
