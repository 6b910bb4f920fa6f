/** The rules of route controls (src/domain/routeControl.ts): the bucket, the gate's allowance, the breaker. */
import {
  allowance,
  applyOutcome,
  bucketSize,
  isGated,
  routeState,
  tokensAt,
  type RouteControlLoad,
} from '../../src/domain/routeControl';
import { defaultControl } from '../../src/store/routeControlRows';

const T0 = 1_700_000_000_000;
const control = (o: Partial<RouteControlLoad> = {}): RouteControlLoad => ({
  ...defaultControl('llm~', T0),
  running: 0,
  ...o,
});

describe('the token bucket', () => {
  it('holds one second of tasks, at least one, refilled at the rate and never past its size', () => {
    expect(bucketSize(0.2)).toBe(1);
    expect(bucketSize(5)).toBe(5);
    const c = { rateLimit: 2, tokens: 0, tokensAt: T0 };
    expect(tokensAt(c, T0 + 250)).toBeCloseTo(0.5);
    expect(tokensAt(c, T0 + 60_000)).toBe(2);
    expect(tokensAt(c, T0 - 1_000)).toBe(0);
    expect(tokensAt({ rateLimit: null, tokens: 0, tokensAt: null }, T0)).toBe(Infinity);
  });
});

describe('the gate', () => {
  it('holds only controlled routes, and shows their state', () => {
    expect(isGated(control())).toBe(false);
    expect(isGated(control({ concurrencyCap: 2 }))).toBe(true);
    expect(isGated(control({ circuit: 'half_open' }))).toBe(true);
    expect(routeState(control({ paused: true, circuit: 'open' }))).toBe('paused');
    expect(routeState(control({ circuit: 'open' }))).toBe('circuit_open');
    expect(routeState(undefined)).toBe('active');
  });

  it('rings nothing while paused or open, the probe while half-open, and what the cap and bucket leave', () => {
    expect(allowance(control({ paused: true, concurrencyCap: 5 }), T0, 250)).toBe(0);
    expect(allowance(control({ circuit: 'open' }), T0, 250)).toBe(0);
    expect(allowance(control({ circuit: 'half_open' }), T0, 250)).toBe(1);
    expect(allowance(control({ circuit: 'half_open', probeTaskId: 't' }), T0, 250)).toBe(0);
    expect(allowance(control({ concurrencyCap: 5, running: 3 }), T0, 250)).toBe(2);
    expect(allowance(control({ concurrencyCap: 5, running: 7 }), T0, 250)).toBe(0);
    // 1.5 tokens now, 1 more within the horizon at 4/s: 2 doorbells (the claim spends what is there).
    expect(allowance(control({ rateLimit: 4, tokens: 1.5, tokensAt: T0 }), T0, 250)).toBe(2);
    expect(allowance(control({ rateLimit: 4, tokens: 4, tokensAt: T0, concurrencyCap: 1 }), T0, 250)).toBe(1);
  });
});

describe('the circuit breaker', () => {
  const breaker = { failures: 2, window: 3 };
  const out = (seq: number, ok: boolean, taskId = `t${seq}`) => ({ seq, taskId, ok, at: T0 + seq });

  it('opens when enough of the last attempts failed, counting only the window', () => {
    let c = control();
    for (const [seq, ok] of [
      [1, false],
      [2, true],
      [3, true],
      [4, false],
    ] as const) {
      const step = applyOutcome(c, out(seq, ok), breaker);
      expect(step.event).toBeNull();
      c = { ...c, ...step.next };
    }
    expect(c.outcomes).toBe('SSF');
    const opened = applyOutcome(c, out(5, false), breaker);
    expect(opened.next).toMatchObject({ circuit: 'open', circuitAt: T0 + 5, outcomes: 'SFF', outcomesSeq: 5 });
    expect(opened.event).toMatchObject({ kind: 'circuit_opened', data: { failed: 2, of: 3 } });
  });

  it('ignores the outcomes of other tasks while open or half-open, and judges the probe alone', () => {
    const open = control({ circuit: 'open', outcomes: 'FF', outcomesSeq: 5 });
    expect(applyOutcome(open, out(6, true), breaker)).toMatchObject({ event: null, next: { circuit: 'open' } });
    const half = control({ circuit: 'half_open', probeTaskId: 'probe', outcomes: 'FF', outcomesSeq: 6 });
    expect(applyOutcome(half, out(7, false, 'other'), breaker)).toMatchObject({
      event: null,
      next: { circuit: 'half_open', outcomesSeq: 7 },
    });
    expect(applyOutcome(half, out(8, true, 'probe'), breaker)).toMatchObject({
      next: { circuit: 'closed', outcomes: '', probeTaskId: null },
      event: { kind: 'circuit_closed' },
    });
    expect(applyOutcome(half, out(8, false, 'probe'), breaker)).toMatchObject({
      next: { circuit: 'open', circuitAt: T0 + 8, probeTaskId: null },
      event: { kind: 'circuit_opened' },
    });
  });
});
