/**
 * `taskfleet routes` and `taskfleet breakers` as an operator runs them: the real CLI (built, from bin/) against a
 * running supervisor's API with the admin key.
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

describe('taskfleet routes and breakers', () => {
  it('lists, pauses, limits and resumes a route, and sets and removes a circuit breaker', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    await f.submit({ type: 'echo', requiredCapabilities: ['gpu'], delaySeconds: 3600 });
    expect((await cli(f, ['routes', 'pause', 'echo~gpu'])).stdout).toMatch(/^echo~gpu\s+paused/);
    expect((await cli(f, ['routes', 'limit', 'echo~gpu', '--rate', '2.5', '--cap', '3'])).stdout).toMatch(
      /paused\s+2\.5\/s, cap 3/,
    );
    const list = await cli(f, ['routes', 'list']);
    expect(list.stdout).toMatch(/echo~gpu\s+paused\s+queued 0, running 0\s+2\.5\/s, cap 3/);
    expect((await cli(f, ['routes', 'limit', 'echo~gpu', '--cap', 'none'])).stdout).toMatch(/2\.5\/s$/m);
    expect((await cli(f, ['routes', 'resume', 'echo~gpu'])).stdout).toMatch(/^echo~gpu\s+active/);
    const shown = JSON.parse((await cli(f, ['routes', 'show', 'echo~gpu'])).stdout);
    expect(shown.events.map((e: { kind: string }) => e.kind)).toEqual([
      'resumed',
      'limits_changed',
      'limits_changed',
      'paused',
    ]);
    const bad = await cli(f, ['routes', 'limit', 'echo~gpu', '--rate', 'fast']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--rate');
    expect((await cli(f, ['routes', 'pause', 'echo~nothing'])).code).not.toBe(0);

    const set = await cli(f, ['breakers', 'set', 'echo', '--failures', '3', '--window', '5', '--cooldown-ms', '30000']);
    expect(set.code).toBe(0);
    expect((await cli(f, ['breakers', 'list'])).stdout).toContain('echo                     opens at 3 of the last 5');
    expect((await cli(f, ['breakers', 'remove', 'echo'])).stdout).toBe('removed the circuit breaker of echo\n');
    expect(await f.sup.store.listCircuitBreakers()).toEqual([]);
  });
});
