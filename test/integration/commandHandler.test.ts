/**
 * `taskfleet worker --exec <type>=<command>` on a real worker process, with small programs written to the
 * fleet's directory: the result from stdout, stderr as the task's log, exit codes as failures (3 permanent),
 * the whole process group killed on timeout (past a SIGTERM it ignores) and on cancel, and an environment
 * that holds none of the worker's secrets.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { configToEnv, withoutSecrets } from '../../src/config/config';
import { MAX_STDOUT_BYTES } from '../../workers/handlers/command';
import { BIN, Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';

const redis = fileInspector();
const SECRET = 'made-up-secret-token-value';

/** A pid still running: a zombie (exited, not yet reaped by whatever init this machine has) counts as gone. */
function alive(pid: number): boolean {
  let stat: string;
  try {
    process.kill(pid, 0);
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return !/^\d+ \(.*\) Z/.test(stat);
}

describe('commands as handlers (--exec)', () => {
  let fleet: Fleet | undefined;
  let stubborn = '';
  const f = () => fleet!;
  const script = (name: string, text: string) => {
    const file = path.join(f().dir, name);
    fs.writeFileSync(file, text);
    return `'${file}'`;
  };
  /** The pids the task's program wrote (its own and its child's), once it wrote them. */
  const pidsOf = async (taskId: string): Promise<number[]> => {
    const file = path.join(f().dir, `${taskId}.pids`);
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length > 2, 10_000, 'pids');
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  };

  beforeAll(async () => {
    fleet = await Fleet.start();
    const node = `'${process.execPath}'`;
    const dir = f().dir;
    const ok = script(
      'ok.js',
      `let input = '';
       process.stdin.on('data', (c) => (input += c)).on('end', () => {
         console.error('reading ' + input.length + ' bytes');
         console.error('done');
         const env = process.env;
         console.log(JSON.stringify({ got: JSON.parse(input), type: env.TASKFLEET_TASK_TYPE, attempt: env.TASKFLEET_TASK_ATTEMPT, id: env.TASKFLEET_TASK_ID }));
       });`,
    );
    const flaky = script(
      'flaky.sh',
      `if [ "$TASKFLEET_TASK_ATTEMPT" -lt 2 ]; then echo "not yet" >&2; exit 1; fi\necho '{"on": '"$TASKFLEET_TASK_ATTEMPT"'}'\n`,
    );
    const permanent = script('permanent.sh', 'echo "the payload cannot be resized" >&2\nexit 3\n');
    const notJson = script('notjson.sh', 'echo "all good"\n');
    // Writes its pid and its child's, then waits on the child; `stubborn` ignores SIGTERM (so do its children).
    const waits = (trap: string) =>
      `${trap}\nsleep 30 &\necho $$ > "${dir}/$TASKFLEET_TASK_ID.tmp"\necho $! >> "${dir}/$TASKFLEET_TASK_ID.tmp"\n` +
      `mv "${dir}/$TASKFLEET_TASK_ID.tmp" "${dir}/$TASKFLEET_TASK_ID.pids"\nwait\n`;
    stubborn = script('stubborn.sh', waits("trap '' TERM"));
    const waiting = script('waiting.sh', waits(''));
    const env = script('env.js', 'console.log(JSON.stringify(process.env));');
    const loud = script(
      'loud.js',
      `process.stderr.write('e'.repeat(100000) + '\\n');
       process.stdout.write(Buffer.alloc(${MAX_STDOUT_BYTES} + 1, 'x'));`,
    );
    await f().spawnWorker({
      id: 'exec-w1',
      env: { SECRET_TOKEN: SECRET, MODEL_DIR: '/models/v2' },
      args: [
        ...['--exec', `ok=${node} ${ok}`, '--exec', `flaky=sh ${flaky}`, '--exec', `permanent=sh ${permanent}`],
        ...['--exec', `notjson=sh ${notJson}`, '--exec', `stubborn=sh ${stubborn}`, '--exec', `waiting=sh ${waiting}`],
        ...['--exec', `env=${node} ${env}`, '--exec', `loud=${node} ${loud}`],
        ...['--exec-env', 'MODEL_DIR', '--exec-kill-grace', '500'],
      ],
    });
  });
  afterAll(() => stopAndVerifyClean(fleet, redis));

  it('gives the payload on stdin, keeps the JSON on stdout as the result and stderr lines as the log', async () => {
    const payload = { image: 'cat.png', sizes: [64, 128] };
    const t = await f().submit({ type: 'ok', payload });
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { got: { image: 'cat.png', sizes: [64, 128] }, type: 'ok', attempt: '1', id: t.id },
    });
    const logs = await f().request('GET', `/v1/tasks/${t.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        message: `reading ${JSON.stringify(payload).length} bytes`,
        fields: { stream: 'stderr' },
      }),
      expect.objectContaining({ level: 'info', message: 'done', fields: { stream: 'stderr' } }),
    ]);
  });

  it('counts a non-zero exit as a failure and retries it, with the last stderr line as the message', async () => {
    const t = await f().submit({ type: 'flaky', payload: {}, maxAttempts: 3 });
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2, result: { on: 2 } });
    const failed = (await f().sup.store.listTaskEvents(t.id)).find((e) => e.kind === 'failed');
    expect(JSON.stringify(failed)).toContain('exited with code 1: not yet');
  });

  it('sends exit code 3 to dead at once, and so a zero exit whose stdout is not JSON', async () => {
    const p = await f().submit({ type: 'permanent', payload: {}, maxAttempts: 5 });
    const n = await f().submit({ type: 'notjson', payload: {}, maxAttempts: 5 });
    const [permanent, notJson] = await f().waitTerminal([p.id, n.id]);
    expect(permanent).toMatchObject({ status: 'dead', attempt: 1 });
    expect(permanent!.error?.message).toMatch(/exited with code 3: the payload cannot be resized$/);
    expect(notJson).toMatchObject({ status: 'dead', attempt: 1 });
    expect(notJson!.error?.message).toMatch(/^sh exited with 0 but its stdout is not JSON; it begins: "all good"$/);
  });

  it('kills the whole process group on timeout, with SIGKILL when SIGTERM is ignored', async () => {
    const t = await f().submit({ type: 'stubborn', payload: {}, timeoutSeconds: 1, maxAttempts: 1 });
    const pids = await pidsOf(t.id);
    const [done] = await f().waitTerminal([t.id], 20_000);
    expect(done).toMatchObject({ status: 'dead', error: { kind: 'timeout' } });
    await waitFor(() => !pids.some(alive), 10_000, 'the program and its child to be gone');
  });

  it('kills the whole process group when a running task is cancelled', async () => {
    const t = await f().submit({ type: 'waiting', payload: {}, timeoutSeconds: 60 });
    const pids = await pidsOf(t.id);
    expect(pids.every(alive)).toBe(true);
    const cancel = await f().request('POST', `/v1/tasks/${t.id}/cancel`);
    expect(cancel.status).toBe(202);
    const [done] = await f().waitTerminal([t.id], 20_000);
    expect(done?.status).toBe('cancelled');
    await waitFor(() => !pids.some(alive), 10_000, 'the program and its child to be gone');
  });

  it('kills what is left of a group when the worker exits before the grace period ends (a drain out of time)', async () => {
    const drained = await f().spawnWorker({
      id: 'exec-drain',
      env: { TASKFLEET_DRAIN_TIMEOUT_MS: '300' },
      args: ['--exec', `drained=sh ${stubborn}`, '--exec-kill-grace', '600000'],
    });
    const t = await f().submit({ type: 'drained', payload: {}, timeoutSeconds: 60 });
    const pids = await pidsOf(t.id);
    drained.child.kill('SIGTERM');
    expect(await drained.exited).toBe(0);
    await waitFor(() => !pids.some(alive), 10_000, 'the program and its child to be gone');
  });

  it("passes none of the worker's environment but the base variables, the task's and the --exec-env ones", async () => {
    const t = await f().submit({ type: 'env', payload: {} });
    const [done] = await f().waitTerminal([t.id]);
    const env = done!.result as Record<string, string>;
    expect(env).toMatchObject({ MODEL_DIR: '/models/v2', TASKFLEET_TASK_ID: t.id, TASKFLEET_TASK_TYPE: 'env' });
    const allowed = ['PATH', 'HOME', 'LANG', 'TZ', 'MODEL_DIR', 'TASKFLEET_TASK_ID', 'TASKFLEET_TASK_ATTEMPT'];
    expect(Object.keys(env).filter((k) => ![...allowed, 'TASKFLEET_TASK_TYPE'].includes(k))).toEqual([]);
    expect(JSON.stringify(env)).not.toContain(SECRET);
    expect(JSON.stringify(env)).not.toContain(f().config.redisPrefix);
  });

  it('fails a program for good when its stdout passes the cap, and cuts a long stderr line', async () => {
    const t = await f().submit({ type: 'loud', payload: {}, maxAttempts: 3 });
    const [done] = await f().waitTerminal([t.id]);
    expect(done).toMatchObject({ status: 'dead', attempt: 1 });
    expect(done!.error?.message).toBe(`node wrote more than ${MAX_STDOUT_BYTES} bytes to stdout`);
    const [line] = (await f().request('GET', `/v1/tasks/${t.id}/logs`)).body.lines;
    expect(line.message).toHaveLength(4000);
    expect(line.message).toMatch(/^e+… \(cut from 100000 characters\)$/);
  });

  it('refuses to start a worker whose program is not an executable file', async () => {
    const run = promisify(execFile)(process.execPath, [BIN, 'worker', '--exec', 'x=/no/such/program'], {
      env: { ...withoutSecrets(process.env), ...configToEnv(f().config) },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('the command of x: /no/such/program is not an executable file'),
    });
  });
});
