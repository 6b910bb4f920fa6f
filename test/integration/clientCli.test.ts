/**
 * `taskfleet submit --wait`, `status` and `logs` as an operator runs them: the built CLI (through the typed
 * client) against a real supervisor with a real worker process.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, type CliRun } from '../helpers/cli';
import { Fleet, ROOT, fileInspector, stopAndVerifyClean } from '../helpers/fleet';

const redis = fileInspector();

describe('taskfleet submit, status and logs', () => {
  let fleet: Fleet | undefined;
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
    runCli(args, { TASKFLEET_URL: fleet!.url, TASKFLEET_API_KEY: fleet!.adminKey, ...env });

  beforeAll(async () => {
    fleet = await Fleet.start();
    await fleet.spawnWorker({ id: 'cli-w1', concurrency: 2 });
    const reporting = path.join(ROOT, 'test', 'fixtures', 'reporting.js');
    await fleet.spawnWorker({ id: 'cli-reporter', concurrency: 1, args: ['--handlers', reporting] });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('submit --wait prints the succeeded task and exits 0', async () => {
    const run = await cli(['submit', 'echo', '--payload', '{"hello":"cli"}', '--wait']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ type: 'echo', status: 'succeeded', result: { hello: 'cli' } });
  });

  it('submit --wait exits non-zero for a task that ends dead, printing it', async () => {
    const run = await cli(['submit', 'fail', '--payload', '{"times":5}', '--max-attempts', '1', '--wait']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ type: 'fail', status: 'dead', attempt: 1 });
  });

  it('submit without --wait prints the task as submitted', async () => {
    const run = await cli(['submit', 'echo', '--delay', '60']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ type: 'echo', status: 'queued' });
  });

  it('status <id> prints the task and its events; status alone the agents and recent tasks', async () => {
    const task = await fleet!.submit({ type: 'echo', payload: { n: 1 } });
    await fleet!.waitTerminal([task.id]);
    const one = await cli(['status', task.id]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`"id": "${task.id}"`);
    expect(one.stdout).toMatch(/submitted\s+attempt 0/);
    expect(one.stdout).toMatch(/succeeded\s+attempt 1\s+cli-w1/);
    const fleetStatus = await cli(['status']);
    expect(fleetStatus.code).toBe(0);
    expect(fleetStatus.stdout).toMatch(/agents \(2\)\n/);
    expect(fleetStatus.stdout).toMatch(/^\s+cli-w1/m);
    expect(fleetStatus.stdout).toContain(task.id);
  });

  it('logs <id> prints the lines the handler kept, with their levels', async () => {
    const gate = path.join(fleet!.dir, 'gate-open');
    writeFileSync(gate, '');
    const task = await fleet!.submit({ type: 'report', payload: { gate, steps: 1, lines: 2 } });
    await fleet!.waitTerminal([task.id]);
    const run = await cli(['logs', task.id]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`task ${task.id}, attempt 1: 5 lines`);
    for (const text of ['started', 'a warning', 'line 0', 'line 1', 'done']) expect(run.stdout).toContain(text);
    const json = JSON.parse((await cli(['logs', task.id, '--json'])).stdout);
    expect(json.lines.map((l: { level: string }) => l.level)).toEqual(['info', 'warn', 'debug', 'debug', 'info']);
  });

  it('logs of a task that does not exist exits 1 with the 404', async () => {
    const run = await cli(['logs', '0190b6a5-0000-7000-8000-000000000000', '--attempt', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^404 /);
  });

  it('a missing or wrong key is explained', async () => {
    const none = await cli(['status', 'x'], { TASKFLEET_API_KEY: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('401');
    const wrong = await cli(['status', 'x'], { TASKFLEET_API_KEY: 'tf_' + 'a'.repeat(43) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('TASKFLEET_API_KEY is not a valid key');
  });

  it('no supervisor: says where it looked', async () => {
    const run = await cli(['status'], { TASKFLEET_URL: 'http://127.0.0.1:9' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no taskfleet supervisor answers at http://127.0.0.1:9');
  });
});
