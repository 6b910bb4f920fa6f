import { backoffDelayMs, type BackoffPolicy } from '../../src/domain/backoff';

const policy: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 };
const fixed = (r: number) => () => r;

/** A small deterministic PRNG (mulberry32) so the jitter bound tests are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The un-jittered (capped exponential) delay for an attempt under `policy`. */
const ceiling = (attempt: number, p: BackoffPolicy = policy) => Math.min(p.maxMs, p.baseMs * 2 ** (attempt - 1));

describe('backoffDelayMs', () => {
  it('grows exponentially from the base: the delay doubles per failed attempt', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, fixed(0.5)));
    expect(delays).toEqual([750, 1_500, 3_000, 6_000, 12_000, 24_000]);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBe(2 * delays[i - 1]!);
  });

  it('starts at half the base with the lowest jitter and approaches the base with the highest', () => {
    expect(backoffDelayMs(1, policy, fixed(0))).toBe(500);
    expect(backoffDelayMs(1, policy, fixed(0.999_999))).toBe(1_000);
  });

  it('is capped at maxMs however many attempts failed', () => {
    // 1000 * 2^9 = 512000 > 300000, so attempt 10 and beyond sit at the cap.
    for (const attempt of [10, 11, 20, 50, 100, 1_000, 5_000]) {
      expect(backoffDelayMs(attempt, policy, fixed(0))).toBe(150_000);
      expect(backoffDelayMs(attempt, policy, fixed(0.999_999_9))).toBe(300_000);
    }
  });

  it('reaches the cap exactly at the first attempt whose exponential passes it', () => {
    const p = { baseMs: 100, maxMs: 1_000 };
    // 100, 200, 400, 800, 1600→1000
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, p, fixed(0)))).toEqual([50, 100, 200, 400, 500, 500]);
  });

  it('never goes below half nor above the full capped exponential delay (equal jitter)', () => {
    const random = seeded(42);
    for (let attempt = 1; attempt <= 25; attempt++) {
      const top = ceiling(attempt);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(attempt, policy, random);
        expect(d).toBeGreaterThanOrEqual(Math.floor(top / 2));
        expect(d).toBeLessThanOrEqual(top);
      }
    }
  });

  it('maps the injected random value linearly onto [half, full]', () => {
    // attempt 3: exponential 4000, so delay = 2000 + r * 2000
    expect(backoffDelayMs(3, policy, fixed(0))).toBe(2_000);
    expect(backoffDelayMs(3, policy, fixed(0.25))).toBe(2_500);
    expect(backoffDelayMs(3, policy, fixed(0.5))).toBe(3_000);
    expect(backoffDelayMs(3, policy, fixed(0.75))).toBe(3_500);
  });

  it('actually jitters: different random values give different delays', () => {
    const random = seeded(7);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelayMs(5, policy, random)));
    expect(seen.size).toBeGreaterThan(10);
  });

  it('returns whole milliseconds', () => {
    const random = seeded(1);
    for (let i = 0; i < 100; i++) {
      expect(Number.isInteger(backoffDelayMs(1 + (i % 12), { baseMs: 333, maxMs: 99_999 }, random))).toBe(true);
    }
  });

  it('treats attempt 0 or a negative attempt like the first', () => {
    expect(backoffDelayMs(0, policy, fixed(0))).toBe(500);
    expect(backoffDelayMs(-3, policy, fixed(0))).toBe(500);
  });

  it('is always 0 with a zero base', () => {
    for (const attempt of [1, 2, 10, 100]) expect(backoffDelayMs(attempt, { baseMs: 0, maxMs: 0 }, fixed(0.9))).toBe(0);
    expect(backoffDelayMs(5, { baseMs: 0, maxMs: 10_000 }, fixed(0.9))).toBe(0);
  });

  it('is a constant band when base equals max', () => {
    const p = { baseMs: 2_000, maxMs: 2_000 };
    for (const attempt of [1, 2, 3, 10]) expect(backoffDelayMs(attempt, p, fixed(0))).toBe(1_000);
  });

  it('uses Math.random when no random source is given', () => {
    const spy = jest.spyOn(Math, 'random').mockReturnValue(0);
    try {
      expect(backoffDelayMs(2, policy)).toBe(1_000);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('stays within bounds with the real Math.random', () => {
    for (let i = 0; i < 500; i++) {
      const d = backoffDelayMs(4, policy);
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });
});
