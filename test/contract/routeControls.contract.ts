/**
 * Contract: route controls. The claim obeys a route's pause, circuit, concurrency cap and rate limit in the same
 * statement (so every worker and supervisor agrees); the controls, their events and the breakers per type are
 * kept as set; the breaker's write is conditional, so each outcome is applied once however many supervisors try.
 */
import { routeKey } from '../../src/domain/capabilities';
import type { Store } from '../../src/store/port';
import { T0, LEASE_MS, claim, leaseOf, submit } from './fixtures';
import type { CurrentStore } from './store.contract';

const ECHO = routeKey('echo', []);

async function tryClaim(store: Store, taskId: string, now: number, agentId = 'agent-a') {
  return store.claimTask({ taskId, attempt: 0, agentId, now, leaseMs: LEASE_MS });
}

export function routeControlsContract(store: CurrentStore): void {
  describe('route controls', () => {
    it('knows only routes a task was submitted on, and gives a known route the defaults', async () => {
      expect(await store().getRouteControl(ECHO)).toBeNull();
      expect(await store().setRoutePaused({ routeKey: ECHO, paused: true, actor: 'k', now: T0 })).toBeNull();
      expect(await store().setRouteLimits({ routeKey: ECHO, rateLimit: 1, actor: 'k', now: T0 })).toBeNull();
      await submit(store());
      expect(await store().getRouteControl(ECHO)).toMatchObject({
        routeKey: ECHO,
        paused: false,
        circuit: 'closed',
        rateLimit: null,
        concurrencyCap: null,
      });
      expect(await store().listRouteControls()).toEqual([]);
    });

    it('refuses the claims of a paused route as held, and claims again once resumed', async () => {
      const t = await submit(store());
      const paused = await store().setRoutePaused({ routeKey: ECHO, paused: true, actor: 'key-admin', now: T0 + 1 });
      expect(paused).toMatchObject({ paused: true, pausedAt: T0 + 1, pausedBy: 'key-admin' });
      const refused = await tryClaim(store(), t.id, T0 + 2);
      expect(refused).toMatchObject({ claimed: false, routeHeld: true, current: { status: 'queued', attempt: 0 } });
      expect(await store().listRouteControls()).toEqual([expect.objectContaining({ routeKey: ECHO, running: 0 })]);
      await store().setRoutePaused({ routeKey: ECHO, paused: false, actor: 'key-admin', now: T0 + 3 });
      expect(await tryClaim(store(), t.id, T0 + 4)).toMatchObject({ claimed: true });
      const events = await store().listRouteEvents({ routeKey: ECHO, limit: 10 });
      expect(events.map((e) => [e.kind, e.actor])).toEqual([
        ['resumed', 'key-admin'],
        ['paused', 'key-admin'],
      ]);
      expect(events[0]!.seq).toBeGreaterThan(events[1]!.seq);
      const older = await store().listRouteEvents({ routeKey: ECHO, beforeSeq: events[0]!.seq, limit: 10 });
      expect(older.map((e) => e.kind)).toEqual(['paused']);
    });

    it('holds only the route controlled, not another route of the same type', async () => {
      const gpu = await submit(store(), { requiredCapabilities: ['gpu'] });
      await submit(store());
      await store().setRoutePaused({ routeKey: ECHO, paused: true, actor: 'k', now: T0 });
      expect(await tryClaim(store(), gpu.id, T0 + 1)).toMatchObject({ claimed: true });
    });

    it('a lost claim on a controlled route is not reported as held', async () => {
      const t = await submit(store());
      await store().setRouteLimits({ routeKey: ECHO, concurrencyCap: 5, actor: 'k', now: T0 });
      await claim(store(), t);
      const again = await tryClaim(store(), t.id, T0 + 2, 'agent-b');
      expect(again.claimed).toBe(false);
      expect(again).not.toHaveProperty('routeHeld', true);
    });

    it('caps the running tasks of a route across agents, counting what finished', async () => {
      const [a, b, c] = [await submit(store()), await submit(store()), await submit(store())];
      await store().setRouteLimits({ routeKey: ECHO, concurrencyCap: 2, actor: 'k', now: T0 });
      const runA = await claim(store(), a, 'agent-a', T0 + 1);
      await claim(store(), b, 'agent-b', T0 + 2);
      expect(await tryClaim(store(), c.id, T0 + 3, 'agent-c')).toMatchObject({ claimed: false, routeHeld: true });
      expect((await store().listRouteControls())[0]).toMatchObject({ concurrencyCap: 2, running: 2 });
      await store().completeTask({ ...leaseOf(runA, T0 + 4), result: null });
      expect(await tryClaim(store(), c.id, T0 + 5, 'agent-c')).toMatchObject({ claimed: true });
      await store().setRouteLimits({ routeKey: ECHO, concurrencyCap: null, actor: 'k', now: T0 + 6 });
      expect(await store().getRouteControl(ECHO)).toMatchObject({ concurrencyCap: null });
    });

    it('spends a token per claim from a bucket of one second, refilled at the rate', async () => {
      const tasks = [];
      for (let i = 0; i < 5; i++) tasks.push(await submit(store()));
      const set = await store().setRouteLimits({ routeKey: ECHO, rateLimit: 2, actor: 'k', now: T0 });
      expect(set).toMatchObject({ rateLimit: 2, tokens: 2, tokensAt: T0 });
      // A full bucket holds 2 tokens: two claims at once, the third waits for the refill (one token per 500 ms).
      expect(await tryClaim(store(), tasks[0]!.id, T0)).toMatchObject({ claimed: true });
      expect(await tryClaim(store(), tasks[1]!.id, T0)).toMatchObject({ claimed: true });
      expect(await tryClaim(store(), tasks[2]!.id, T0 + 499)).toMatchObject({ claimed: false, routeHeld: true });
      expect(await tryClaim(store(), tasks[2]!.id, T0 + 500)).toMatchObject({ claimed: true });
      // An older clock adds nothing (claims may commit out of their clocks' order).
      expect(await tryClaim(store(), tasks[3]!.id, T0 + 400)).toMatchObject({ claimed: false, routeHeld: true });
      // A long pause refills no more than the bucket's size.
      expect(await tryClaim(store(), tasks[3]!.id, T0 + 60_000)).toMatchObject({ claimed: true });
      expect(await tryClaim(store(), tasks[4]!.id, T0 + 60_000)).toMatchObject({ claimed: true });
      const left = await store().getRouteControl(ECHO);
      expect(left!.tokens).toBeCloseTo(0, 6);
      const events = await store().listRouteEvents({ routeKey: ECHO, limit: 5 });
      expect(events.map((e) => [e.kind, e.data])).toEqual([['limits_changed', { rateLimit: 2 }]]);
    });

    it('lets one probe through a half-open circuit, and none through an open one', async () => {
      const [a, b] = [await submit(store()), await submit(store())];
      const opened = await store().updateRouteCircuit({
        routeKey: ECHO,
        expect: { circuit: 'closed', outcomesSeq: 0 },
        next: { circuit: 'open', circuitAt: T0, probeTaskId: null, outcomes: 'FFF', outcomesSeq: 7 },
        event: { kind: 'circuit_opened', data: { failed: 3, of: 3 } },
        now: T0,
      });
      expect(opened).toBe(true);
      expect(await tryClaim(store(), a.id, T0 + 1)).toMatchObject({ claimed: false, routeHeld: true });
      // The same outcome applied twice (a second supervisor): refused, no second event.
      const twice = await store().updateRouteCircuit({
        routeKey: ECHO,
        expect: { circuit: 'closed', outcomesSeq: 0 },
        next: { circuit: 'open', circuitAt: T0, probeTaskId: null, outcomes: 'FFF', outcomesSeq: 7 },
        event: { kind: 'circuit_opened', data: {} },
        now: T0,
      });
      expect(twice).toBe(false);
      await store().updateRouteCircuit({
        routeKey: ECHO,
        expect: { circuit: 'open', outcomesSeq: 7 },
        next: { circuit: 'half_open', circuitAt: T0 + 10, probeTaskId: null, outcomes: 'FFF', outcomesSeq: 7 },
        event: { kind: 'circuit_half_open', data: {} },
        now: T0 + 10,
      });
      expect(await tryClaim(store(), a.id, T0 + 11)).toMatchObject({ claimed: true });
      expect(await store().getRouteControl(ECHO)).toMatchObject({ circuit: 'half_open', probeTaskId: a.id });
      expect(await tryClaim(store(), b.id, T0 + 12, 'agent-b')).toMatchObject({ claimed: false, routeHeld: true });
      const kinds = (await store().listRouteEvents({ routeKey: ECHO, limit: 10 })).map((e) => [e.kind, e.actor]);
      expect(kinds).toEqual([
        ['circuit_half_open', null],
        ['circuit_opened', null],
      ]);
    });

    it('a resume closes an open circuit, and says so in its event', async () => {
      const t = await submit(store());
      await store().updateRouteCircuit({
        routeKey: ECHO,
        expect: { circuit: 'closed', outcomesSeq: 0 },
        next: { circuit: 'open', circuitAt: T0, probeTaskId: null, outcomes: 'FF', outcomesSeq: 3 },
        event: { kind: 'circuit_opened', data: {} },
        now: T0,
      });
      const resumed = await store().setRoutePaused({ routeKey: ECHO, paused: false, actor: 'key-admin', now: T0 + 1 });
      expect(resumed).toMatchObject({ paused: false, circuit: 'closed', outcomes: '', outcomesSeq: 3 });
      const [last] = await store().listRouteEvents({ routeKey: ECHO, limit: 1 });
      expect(last).toMatchObject({ kind: 'resumed', data: { circuit: 'open' } });
      expect(await tryClaim(store(), t.id, T0 + 2)).toMatchObject({ claimed: true });
    });

    it('keeps one circuit breaker per task type, replaced by a second put', async () => {
      const b = { type: 'llm', failures: 3, window: 5, cooldownMs: 30_000, updatedAt: T0, updatedBy: 'key-admin' };
      await store().putCircuitBreaker(b);
      await store().putCircuitBreaker({ ...b, type: 'echo' });
      await store().putCircuitBreaker({ ...b, failures: 4, updatedAt: T0 + 1 });
      expect(await store().listCircuitBreakers()).toEqual([
        { ...b, type: 'echo' },
        { ...b, failures: 4, updatedAt: T0 + 1 },
      ]);
      expect(await store().removeCircuitBreaker('echo')).toBe(true);
      expect(await store().removeCircuitBreaker('echo')).toBe(false);
      expect((await store().listCircuitBreakers()).map((x) => x.type)).toEqual(['llm']);
    });

    it('purges the route events recorded before a time, oldest first, in batches', async () => {
      await submit(store());
      for (let i = 0; i < 3; i++) {
        await store().setRoutePaused({ routeKey: ECHO, paused: i % 2 === 0, actor: 'k', now: T0 + i * 1000 });
      }
      expect(await store().purgeRouteEvents({ before: T0 + 1500, limit: 1 })).toBe(1);
      expect(await store().purgeRouteEvents({ before: T0 + 1500, limit: 10 })).toBe(1);
      expect(await store().purgeRouteEvents({ before: T0 + 1500, limit: 10 })).toBe(0);
      const left = await store().listRouteEvents({ routeKey: ECHO, limit: 10 });
      expect(left.map((e) => e.at)).toEqual([T0 + 2000]);
    });

    it('names each task head by its route', async () => {
      const t = await submit(store(), { requiredCapabilities: ['gpu'] });
      expect(await store().listTaskHeads([t.id])).toEqual([expect.objectContaining({ routeKey: 'echo~gpu' })]);
    });
  });
}
