/**
 * PATCH /v1/agents/:id, an admin's settings for an agent (concurrency, disabled types), over real HTTP against a
 * real supervisor (SQLite file + Redis under a private prefix, loops off). The agent is registered through the
 * store, as a worker registers itself; what a running worker does with the settings is in
 * test/integration/agentSettings.test.ts.
 */
import { makeKeys } from '../helpers/apiKeys';
import { fileInspector, fleetFor, type Fleet } from '../helpers/fleet';
import { expectProblem } from '../helpers/http';

const redis = fileInspector();

async function register(f: Fleet): Promise<void> {
  await f.sup.store.registerAgent(
    {
      id: 'set-1',
      capabilities: ['gpu'],
      types: ['echo', 'fail', 'sleep'],
      concurrency: 8,
      hostname: 'h',
      pid: 1,
      version: 'v',
    },
    Date.now(),
  );
}

/** What the store holds of the agent's settings, its events and the audit entries: what a bad request must not change. */
async function snapshot(f: Fleet) {
  const agent = await f.sup.store.getAgent('set-1');
  const audit = await f.request('GET', '/v1/audit');
  return {
    settings: { desired: agent?.desiredConcurrency, disabled: agent?.disabledTypes, types: agent?.types },
    events: (await f.sup.store.listAgentEvents('set-1')).length,
    audit: (audit.body.entries as unknown[]).length,
  };
}

describe('PATCH /v1/agents/:id', () => {
  const fleet = fleetFor(redis, { each: true });

  it('stores the settings, shows them, leaves an agent event and an audit entry', async () => {
    const f = fleet();
    await register(f);
    const res = await f.request('PATCH', '/v1/agents/set-1', { concurrency: 2, disabledTypes: ['sleep'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'set-1',
      concurrency: 8, // applied: the agent reports the new value at its next heartbeat
      desiredConcurrency: 2,
      disabledTypes: ['sleep'],
      types: ['echo', 'fail'],
    });
    for (const path of ['/v1/agents/set-1', '/v1/agents']) {
      const read = await f.request('GET', path);
      const agent = path === '/v1/agents' ? read.body.agents[0] : read.body;
      expect(agent).toMatchObject({ desiredConcurrency: 2, disabledTypes: ['sleep'], types: ['echo', 'fail'] });
    }

    const events = await f.request('GET', '/v1/agents/set-1/events');
    expect(events.body.events.at(-1)).toMatchObject({
      from: 'running',
      to: 'running',
      reason: 'settings by bootstrap admin: concurrency as registered → 2; disabled types: sleep',
    });
    const audit = await f.request('GET', '/v1/audit');
    expect(audit.body.entries[0]).toMatchObject({
      action: 'agent.update',
      target: 'agent:set-1',
      detail: { from: { concurrency: null, disabledTypes: [] }, to: { concurrency: 2, disabledTypes: ['sleep'] } },
    });

    // One field at a time; null returns to the registered concurrency; the type list is replaced as a whole.
    const back = await f.request('PATCH', '/v1/agents/set-1', { concurrency: null });
    expect(back.body).toMatchObject({ desiredConcurrency: null, disabledTypes: ['sleep'] });
    const enabled = await f.request('PATCH', '/v1/agents/set-1', { disabledTypes: [] });
    expect(enabled.body).toMatchObject({ disabledTypes: [], types: ['echo', 'fail', 'sleep'] });
    expect((await f.sup.store.listAgentEvents('set-1')).map((e) => e.reason)).toEqual([
      'registered',
      'settings by bootstrap admin: concurrency as registered → 2; disabled types: sleep',
      'settings by bootstrap admin: concurrency 2 → as registered',
      'settings by bootstrap admin: disabled types: none',
    ]);

    // A change that changes nothing writes nothing.
    const before = await snapshot(f);
    expect((await f.request('PATCH', '/v1/agents/set-1', { disabledTypes: [] })).status).toBe(200);
    expect(await snapshot(f)).toEqual(before);
  });

  it.each([
    [{}, '(body)'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ concurrency: 1001 }, 'concurrency'],
    [{ concurrency: 2.5 }, 'concurrency'],
    [{ concurrency: '4' }, 'concurrency'],
    [{ disabledTypes: 'sleep' }, 'disabledTypes'],
    [{ disabledTypes: ['Sleep'] }, 'disabledTypes[0]'],
    [{ disabledTypes: ['echo', 'nope'] }, 'disabledTypes[1]'],
    [{ disabledTypes: ['echo', 'sleep', 'fail'] }, 'disabledTypes'],
    [{ concurrency: 2, colour: 'red' }, 'colour'],
  ])('answers 400 naming the field for %j, and changes nothing', async (body, field) => {
    const f = fleet();
    await register(f);
    const before = await snapshot(f);
    expectProblem(await f.request('PATCH', '/v1/agents/set-1', body), 400, { field });
    expect(await snapshot(f)).toEqual(before);
  });

  it('answers 404 for an unknown agent, and 403 to every role but admin', async () => {
    const f = fleet();
    await register(f);
    expectProblem(await f.request('PATCH', '/v1/agents/no-such-agent', { concurrency: 2 }), 404, {
      code: 'not_found',
    });
    expect(await f.sup.store.getAgent('no-such-agent')).toBeNull();
    const keys = await makeKeys(f);
    const before = await snapshot(f);
    for (const who of [keys.submitter, keys.reader, keys.agent]) {
      const res = await f.request('PATCH', '/v1/agents/set-1', { concurrency: 2 }, {}, { key: who.key });
      expectProblem(res, 403);
    }
    expect(await snapshot(f)).toEqual(before);
    expect((await f.request('PATCH', '/v1/agents/set-1', { concurrency: 2 }, {}, { key: keys.admin.key })).status).toBe(
      200,
    );
  });
});
