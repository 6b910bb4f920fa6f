/**
 * Sensitive tasks end to end: submitted over HTTP, run by a real worker process, stored encrypted in the SQLite
 * file, read back plain by a single read and redacted in lists and the audit log; keys rotate; a supervisor
 * without the key refuses them (400) and answers a clear error for one it cannot open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import Database from 'better-sqlite3';
import { dataKeyEnv } from '../../src/config/config';
import { DataKeyRing } from '../../src/security/dataKeys';
import { AuditLog } from '../../src/security/audit';
import { openSqliteStore } from '../../src/store/sqlite/sqliteStore';
import { buildSupervisor } from '../../src/supervisor/supervisor';
import { OPERATOR, makeKeys, type Keys } from '../helpers/apiKeys';
import { runCli } from '../helpers/cli';
import { Fleet, fileInspector, stopAndVerifyClean, waitFor } from '../helpers/fleet';
import { expectProblem, httpRequest } from '../helpers/http';

const redis = fileInspector();
const material = (n: number) => Buffer.alloc(32, n).toString('base64');
const K1 = `k1:${material(1)}`;
const K2 = `k2:${material(2)}`;
const SECRET = 'ssn-078-05-1120';
const telemetryFile = path.join(os.tmpdir(), `tf-sensitive-telemetry-${process.pid}.jsonl`);

/** Every byte of the store's files (the database and its write-ahead log) as text. */
function storedBytes(file: string): string {
  return [file, `${file}-wal`]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f).toString('latin1'))
    .join('');
}

/** A supervisor on the fleet's SQLite file with other data keys (loops off), for one request. */
async function withKeys<T>(fleet: Fleet, dataKey: string | null, fn: (url: string) => Promise<T>): Promise<T> {
  const raw = await openSqliteStore({ path: fleet.config.sqlitePath });
  const dataKeys = dataKey === null ? null : DataKeyRing.parse(dataKey);
  const sup = await buildSupervisor(
    { ...fleet.config, dataKeys },
    { store: raw, log: pino({ level: 'silent' }), loops: false, listen: { port: 0 } },
  );
  try {
    return await fn(sup.url);
  } finally {
    await sup.stop();
    await raw.close();
  }
}

describe('sensitive tasks with a real worker', () => {
  let fleet: Fleet | undefined;
  let keys: Keys;
  const f = () => fleet!;
  const admin = () => ({ authorization: `Bearer ${f().adminKey}` });

  beforeAll(async () => {
    fleet = await Fleet.start({ env: { TASKFLEET_DATA_KEY: K1, TASKFLEET_TELEMETRY_FILE: telemetryFile } });
    keys = await makeKeys(fleet);
    await fleet.spawnWorker({ id: 'sensitive-w1', env: dataKeyEnv(fleet.config) });
  });
  afterAll(async () => {
    await stopAndVerifyClean(fleet, redis);
    fs.rmSync(telemetryFile, { force: true });
  });

  it('runs the task on the worker with its payload, stores neither payload nor result in the clear', async () => {
    const submitted = await f().submit(
      { type: 'echo', payload: { ssn: SECRET }, sensitive: true },
      {},
      { key: keys.submitter.key },
    );
    expect(submitted).toMatchObject({ sensitive: true, payload: { ssn: SECRET } });
    const [done] = await f().waitTerminal([submitted.id]);
    // The worker got the plain payload: echo returned it as its result.
    expect(done).toMatchObject({ status: 'succeeded', result: { ssn: SECRET } });

    const db = new Database(f().config.sqlitePath, { readonly: true });
    try {
      const row = db.prepare('SELECT payload, result, sensitive FROM tasks WHERE id = ?').get(submitted.id) as Record<
        string,
        unknown
      >;
      expect(row.sensitive).toBe(1);
      expect(JSON.parse(String(row.payload))).toMatchObject({ sealed: 1, kid: 'k1' });
      expect(JSON.parse(String(row.result))).toMatchObject({ sealed: 1, kid: 'k1' });
    } finally {
      db.close();
    }
    expect(storedBytes(f().config.sqlitePath)).not.toContain(SECRET);

    // A single read gives the plain values to the submitter and to a reader; a list shows them redacted.
    for (const key of [keys.submitter.key, keys.reader.key]) {
      const read = await f().request('GET', `/v1/tasks/${submitted.id}`, undefined, {}, { key });
      expect(read.body).toMatchObject({ sensitive: true, payload: { ssn: SECRET }, result: { ssn: SECRET } });
    }
    const list = await f().request('GET', '/v1/tasks?limit=10');
    expect(list.body.tasks.find((t: { id: string }) => t.id === submitted.id)).toMatchObject({
      sensitive: true,
      payload: '[redacted]',
      result: '[redacted]',
    });
    expect(JSON.stringify(list.body)).not.toContain(SECRET);

    // Neither the telemetry (supervisor and worker) nor the worker's log carries the values.
    await waitFor(
      () => fs.existsSync(telemetryFile) && /TaskSucceeded/.test(fs.readFileSync(telemetryFile, 'utf8')),
      20_000,
      'the worker telemetry',
    );
    expect(fs.readFileSync(telemetryFile, 'utf8')).not.toContain(SECRET);
    expect(fs.readFileSync(f().workers[0]!.logFile, 'utf8')).not.toContain(SECRET);
  });

  it('submits a sensitive task from the command line (taskfleet submit --sensitive)', async () => {
    // Asynchronously (runCli): the supervisor runs in this process and must keep answering.
    const {
      code: status,
      stdout,
      stderr,
    } = await runCli(['submit', 'echo', '--payload', JSON.stringify({ ssn: SECRET }), '--sensitive', '--wait'], {
      TASKFLEET_URL: f().url,
      TASKFLEET_API_KEY: keys.submitter.key,
    });
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const task = JSON.parse(stdout) as { id: string };
    expect(task).toMatchObject({ status: 'succeeded', sensitive: true, result: { ssn: SECRET } });
    const raw = await openSqliteStore({ path: f().config.sqlitePath });
    try {
      expect(JSON.stringify(await raw.getTask(task.id))).not.toContain(SECRET);
    } finally {
      await raw.close();
    }
  });

  it('accepts sensitive tasks in a batch, beside plain ones', async () => {
    const res = await f().request('POST', '/v1/tasks/batch', {
      tasks: [
        { type: 'echo', payload: { ssn: SECRET }, sensitive: true },
        { type: 'echo', payload: { open: 'data' } },
      ],
    });
    expect(res.status).toBe(201);
    const [secret, plain] = res.body.tasks as Array<{ id: string }>;
    const done = await f().waitTerminal([secret!.id, plain!.id]);
    expect(done.map((t) => t?.result)).toEqual([{ ssn: SECRET }, { open: 'data' }]);
    const raw = await openSqliteStore({ path: f().config.sqlitePath });
    try {
      expect(JSON.stringify(await raw.getTask(secret!.id))).not.toContain(SECRET);
      expect((await raw.getTask(plain!.id))?.payload).toEqual({ open: 'data' });
    } finally {
      await raw.close();
    }
  });

  it('keeps task data out of the audit log', async () => {
    await new AuditLog(f().sup.store, { now: () => Date.now() }).record(OPERATOR, 'task.inspect', 'task:x', {
      payload: { ssn: SECRET },
      tasks: [{ result: SECRET }],
    });
    const res = await f().request('GET', '/v1/audit?action=task.inspect');
    expect(res.body.entries[0].detail).toEqual({ payload: '[redacted]', tasks: [{ result: '[redacted]' }] });
  });

  it('rotates keys: old tasks read under k2,k1, new ones are written with k2, a dropped key is a clear 500', async () => {
    const old = await f().submit({ type: 'echo', payload: { ssn: SECRET }, sensitive: true });
    await f().waitTerminal([old.id]);

    const fresh = await withKeys(f(), `${K2},${K1}`, async (url) => {
      const read = await httpRequest(url, 'GET', `/v1/tasks/${old.id}`, undefined, admin());
      expect(read.body).toMatchObject({ payload: { ssn: SECRET }, result: { ssn: SECRET } });
      const res = await httpRequest(
        url,
        'POST',
        '/v1/tasks',
        { type: 'echo', payload: { n: 2 }, sensitive: true, delaySeconds: 3600 },
        admin(),
      );
      expect(res.status).toBe(201);
      return res.body as { id: string };
    });
    const raw = await openSqliteStore({ path: f().config.sqlitePath });
    try {
      expect((await raw.getTask(fresh.id))?.payload).toMatchObject({ sealed: 1, kid: 'k2' });
    } finally {
      await raw.close();
    }

    await withKeys(f(), K2, async (url) => {
      expect((await httpRequest(url, 'GET', `/v1/tasks/${fresh.id}`, undefined, admin())).body.payload).toEqual({
        n: 2,
      });
      const res = await httpRequest(url, 'GET', `/v1/tasks/${old.id}`, undefined, admin());
      expectProblem(res, 500, { code: 'data_key_missing' });
      expect(res.body.detail).toMatch(
        /encrypted with data key "k1", which TASKFLEET_DATA_KEY does not hold \(the configured keys are k2\)/,
      );
      expect((await httpRequest(url, 'GET', '/v1/tasks?limit=50', undefined, admin())).status).toBe(200);
    });
  });

  it('refuses sensitive: true with a 400 on a supervisor without a key, writing nothing', async () => {
    await withKeys(f(), null, async (url) => {
      const before = await f().storedTaskCount();
      const res = await httpRequest(
        url,
        'POST',
        '/v1/tasks',
        { type: 'echo', payload: { ssn: SECRET }, sensitive: true },
        admin(),
      );
      expectProblem(res, 400, { code: 'validation_failed', field: 'sensitive' });
      expect(res.body.errors[0].message).toMatch(/TASKFLEET_DATA_KEY/);
      const batch = await httpRequest(
        url,
        'POST',
        '/v1/tasks/batch',
        { tasks: [{ type: 'echo' }, { type: 'echo', sensitive: true }] },
        admin(),
      );
      expectProblem(batch, 400, { code: 'validation_failed' });
      expect(batch.body.errors).toEqual([expect.objectContaining({ field: 'tasks[1].sensitive' })]);
      expect(await f().storedTaskCount()).toBe(before);
    });
  });
});
