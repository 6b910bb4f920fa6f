/**
 * `taskfleet keys` as an operator runs it: the real CLI (built, from bin/) on a running fleet's SQLite file.
 * The key it prints works against the API at once, `keys list` shows it without the key, and after
 * `keys revoke` the API refuses it.
 */
import type { Redis } from 'ioredis';
import { API_KEY_PATTERN, hashApiKey } from '../../src/security/apiKeys';
import { runCli, type CliRun } from '../helpers/cli';
import { Fleet, inspector, stopAndVerifyClean } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

function cli(fleet: Fleet, args: string[]): Promise<CliRun> {
  return runCli(args, { TASKFLEET_SQLITE_PATH: fleet.config.sqlitePath });
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

describe('taskfleet keys', () => {
  it('creates a key that works at once, lists it without the key, and revokes it', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));

    const created = await cli(f, ['keys', 'create', '--role', 'submitter', '--name', 'ci pipeline']);
    expect(created.code).toBe(0);
    const keys = created.stdout.match(/tfk_[A-Za-z0-9_-]{43}/g) ?? [];
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    expect(key).toMatch(API_KEY_PATTERN);
    expect(created.stderr).toMatch(/shown only now and cannot be shown again/);
    const id = /created API key (\S+)/.exec(created.stdout)![1]!;

    // The store holds its hash, never the key; the audit log names the operator.
    const stored = (await f.sup.store.listApiKeys()).find((k) => k.id === id);
    expect(stored).toMatchObject({
      name: 'ci pipeline',
      role: 'submitter',
      hash: hashApiKey(key),
      prefix: key.slice(0, 12),
      revokedAt: null,
      createdBy: expect.stringMatching(/^cli:/),
    });

    // It works against the running API: submit (201, recorded as its own) but not admin things (403).
    const submitted = await f.request('POST', '/v1/tasks', { type: 'echo' }, {}, { key });
    expect(submitted.status).toBe(201);
    expect(submitted.body.submittedBy).toBe(id);
    expectProblem(await f.request('GET', '/v1/audit', undefined, {}, { key }), 403, { code: 'forbidden' });

    const listed = await cli(f, ['keys', 'list']);
    expect(listed.code).toBe(0);
    const header = listed.stdout.split('\n')[0]!;
    expect(header.split(/\s+/)).toEqual(['id', 'name', 'role', 'prefix', 'created', 'revoked', 'agents']);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(id));
    expect(row).toEqual(expect.stringContaining('ci pipeline'));
    expect(row).toEqual(expect.stringContaining('submitter'));
    expect(row).toEqual(expect.stringContaining(key.slice(0, 12)));
    // Columns are two or more spaces apart: not revoked, and bound to no agents.
    expect(
      row!
        .trimEnd()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['-', '-']);
    expect(listed.stdout).not.toContain(key);
    expect(listed.stdout).not.toContain(hashApiKey(key));

    const json = await cli(f, ['keys', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        id,
        name: 'ci pipeline',
        role: 'submitter',
        prefix: key.slice(0, 12),
        revokedAt: null,
      }),
    ]);
    expect(json.stdout).not.toContain(key);

    const revoked = await cli(f, ['keys', 'revoke', id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked API key ${id}`);
    const refused = await f.request('GET', '/v1/tasks', undefined, {}, { key });
    expectProblem(refused, 401, { code: 'unauthorized' });

    const after = await cli(f, ['keys', 'list']);
    const revokedRow = after.stdout.split('\n').find((l) => l.startsWith(id));
    expect(revokedRow).toMatch(/\d{4}-\d{2}-\d{2}T\S+Z\s+-\s*$/);

    const again = await cli(f, ['keys', 'revoke', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no active API key with id ${id}`);

    // Both changes are in the audit log, as the operator at the command line, with no address.
    const audit = await f.request('GET', '/v1/audit?limit=10');
    const mine = (audit.body.entries as any[]).filter((e) => e.target === `key:${id}`);
    expect(mine.map((e) => e.action)).toEqual(['key.revoke', 'key.create']);
    for (const e of mine) {
      expect(e.actor).toMatch(/^cli:.+/);
      expect(e.actorName).toBe(e.actor.slice(4));
      expect(e.ip).toBeNull();
    }
    expect(JSON.stringify(audit.body)).not.toContain(key);
  }, 60_000);

  it('creates an agent key bound to an id prefix, which may act only as those agents', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    const made = await cli(f, ['keys', 'create', '--role', 'agent', '--agent-prefix', 'py-', '--name', 'py agents']);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('role agent');
    expect(made.stdout).toContain('acts as agents py-*');
    const key = made.stdout.match(/tfk_[A-Za-z0-9_-]{43}/)![0];
    const register = (id: string) =>
      f.request(
        'POST',
        `/v1/agents/${id}/register`,
        { capabilities: [], types: ['echo'], concurrency: 1 },
        {},
        { key },
      );
    expect((await register('py-7')).status).toBe(200);
    expectProblem(await register('gpu-7'), 403, { code: 'forbidden' });
    expectProblem(await f.request('GET', '/v1/tasks', undefined, {}, { key }), 403, { code: 'forbidden' });
    const listed = await cli(f, ['keys', 'list']);
    expect(
      listed.stdout
        .split('\n')
        .find((l) => l.includes('py agents'))!
        .trimEnd(),
    ).toMatch(/\s{2}py-\*$/);

    const unbound = await cli(f, ['keys', 'create', '--role', 'agent', '--name', 'x']);
    expect(unbound.code).not.toBe(0);
    expect(unbound.stderr).toContain('--agent-id');
    const both = await cli(f, [
      'keys',
      'create',
      '--role',
      'agent',
      '--agent-id',
      'a',
      '--agent-prefix',
      'b',
      '--name',
      'x',
    ]);
    expect(both.code).not.toBe(0);
    const bound = await cli(f, ['keys', 'create', '--role', 'reader', '--agent-id', 'a', '--name', 'x']);
    expect(bound.code).not.toBe(0);
    expect((await f.sup.store.listApiKeys()).map((k) => k.name)).toEqual(['py agents']);
  }, 60_000);

  it('refuses an unknown role or a missing name, creating nothing', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    const badRole = await cli(f, ['keys', 'create', '--role', 'root', '--name', 'x']);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/--role/);
    const noName = await cli(f, ['keys', 'create', '--role', 'reader']);
    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toMatch(/--name/);
    expect(await f.sup.store.listApiKeys()).toEqual([]);
  });

  it('generates a fresh key without storing it, usable as TASKFLEET_ADMIN_API_KEY', async () => {
    const f = (fleet = await Fleet.start({ loops: false }));
    const a = await cli(f, ['keys', 'generate']);
    const b = await cli(f, ['keys', 'generate']);
    expect(a.stdout.trim()).toMatch(API_KEY_PATTERN);
    expect(b.stdout.trim()).not.toBe(a.stdout.trim());
    expect(await f.sup.store.listApiKeys()).toEqual([]);
  });
});
