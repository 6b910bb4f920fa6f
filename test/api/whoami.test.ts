/**
 * `GET /v1/whoami`: every key, agent keys too, reads its own id, name, role and binding (what the console uses
 * to name the key and to decide whether to offer admin actions), over real HTTP against a real supervisor.
 */
import { makeKeys } from '../helpers/apiKeys';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { expectUnauthorized } from '../helpers/http';

const redis = fileInspector();

describe('GET /v1/whoami', () => {
  const fleet = fleetFor(redis, { each: true });

  it('answers each key its own id, name and role, and an agent key its binding', async () => {
    const f = fleet();
    const keys = await makeKeys(f);
    const ask = async (key?: string) => {
      const res = await f.request('GET', '/v1/whoami', undefined, {}, key === undefined ? {} : { key });
      expect(res.status).toBe(200);
      return res.body;
    };
    expect(await ask()).toEqual({ keyId: 'bootstrap-admin', name: 'bootstrap admin', role: 'admin' });
    expect(await ask(keys.admin.key)).toEqual({ keyId: keys.admin.id, name: 'ops', role: 'admin' });
    expect(await ask(keys.submitter.key)).toEqual({ keyId: keys.submitter.id, name: 'app-one', role: 'submitter' });
    expect(await ask(keys.reader.key)).toEqual({ keyId: keys.reader.id, name: 'dashboard', role: 'reader' });
    expect(await ask(keys.agent.key)).toEqual({
      keyId: keys.agent.id,
      name: 'sec-agents',
      role: 'agent',
      agent: { prefix: 'sec-' },
    });
    expect(await ask(keys.agentElsewhere.key)).toEqual({
      keyId: keys.agentElsewhere.id,
      name: 'elsewhere',
      role: 'agent',
      agent: { id: 'elsewhere-1' },
    });
  });

  it('answers a revoked key 401, as any other route does', async () => {
    const f = fleet();
    const keys = await makeKeys(f);
    expectUnauthorized(await f.request('GET', '/v1/whoami', undefined, {}, { key: keys.revoked.key }));
  });
});
