import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisAnswers } from '../../src/cli/redisBootstrap';
import { BIN, waitFor } from '../helpers/fleet';

/** The quick start as a newcomer runs it: `taskfleet dev` with no Redis at the configured URL. */
describe('taskfleet dev', () => {
  it('starts a private Redis, a supervisor and three workers, runs a task, and stops everything on Ctrl-C', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tf-dev-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TASKFLEET_PORT: '0',
      TASKFLEET_HOST: '127.0.0.1',
      TASKFLEET_REDIS_URL: 'redis://127.0.0.1:1', // nothing listens there
      TASKFLEET_SQLITE_PATH: path.join(dir, 'dev.db'),
      TASKFLEET_LOG_LEVEL: 'warn',
      TASKFLEET_HEARTBEAT_INTERVAL_MS: '200',
      TASKFLEET_ROUTE_REFRESH_MS: '100',
      // A secret, so not inherited like the rest: `dev` must hand it to its workers for sensitive tasks to run.
      TASKFLEET_DATA_KEY: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    };
    const child = spawn(process.execPath, [BIN, 'dev'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /the API listens on (http:\S+)/.test(out), 20_000, 'the dev banner');
      const url = /the API listens on (http:\S+)/.exec(out)![1]!;
      // The session's admin key, from the banner; without it the API answers 401.
      await waitFor(() => /export TASKFLEET_API_KEY=(\S+)/.test(out), 5_000, 'the key in the banner');
      const key = /export TASKFLEET_API_KEY=(\S+)/.exec(out)![1]!;
      expect(key).toMatch(/^tfk_[A-Za-z0-9_-]{43}$/);
      const auth = { authorization: `Bearer ${key}` };
      expect((await fetch(`${url}/v1/agents`)).status).toBe(401);
      const redisUrl = /Redis: (redis:\/\/[^)\s]+)/.exec(out)![1]!;
      expect(redisUrl).not.toBe('redis://127.0.0.1:1');
      expect(await redisAnswers(redisUrl)).toBe(true);

      await waitFor(
        async () => {
          const res = (await (await fetch(`${url}/v1/agents`, { headers: auth })).json()) as {
            agents: Array<{ live: boolean }>;
          };
          return res.agents.filter((a) => a.live).length === 3;
        },
        20_000,
        'three live workers',
      );
      const submit = await fetch(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ type: 'checksum', payload: { path: BIN } }),
      });
      expect(submit.status).toBe(201);
      const task = (await submit.json()) as { id: string };
      let final: { status: string; agentId?: string } = { status: 'queued' };
      await waitFor(
        async () => {
          final = (await (await fetch(`${url}/v1/tasks/${task.id}`, { headers: auth })).json()) as typeof final;
          return final.status === 'succeeded';
        },
        20_000,
        'the task to succeed',
      );
      expect(final.agentId).toBe('worker-files');

      const sensitive = await fetch(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ type: 'echo', payload: { pin: '2468' }, sensitive: true, maxAttempts: 1 }),
      });
      expect(sensitive.status).toBe(201);
      const secret = (await sensitive.json()) as { id: string };
      let done: { status: string; result?: unknown } = { status: 'queued' };
      await waitFor(
        async () => {
          done = (await (await fetch(`${url}/v1/tasks/${secret.id}`, { headers: auth })).json()) as typeof done;
          return done.status !== 'queued' && done.status !== 'running';
        },
        20_000,
        'the sensitive task to finish',
      );
      expect(done).toMatchObject({ status: 'succeeded', result: { pin: '2468' } });

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await redisAnswers(redisUrl, 300)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
