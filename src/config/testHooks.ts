/**
 * Test-only hooks. They are read from `TASKFLEET_TEST_*` variables, which `loadConfig` deliberately ignores,
 * and they exist so that the chaos suite (test/chaos/) can put a real process into a state that is hard to
 * produce otherwise. Never set them in production.
 *
 * - `TASKFLEET_TEST_CLOCK_SKEW_MS`: a worker's clock runs this many milliseconds ahead (positive) or behind
 *   (negative) the real one. Every time the worker writes (claim, lease expiry, heartbeat, result) then comes
 *   from a skewed clock, as on a host whose clock drifted, so its leases expire early or late from the
 *   supervisor's point of view.
 */
import type { Clock } from '../domain/clock';

/** The skew `TASKFLEET_TEST_CLOCK_SKEW_MS` asks for, or 0; throws on a value that is not a whole number. */
export function testClockSkewMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TASKFLEET_TEST_CLOCK_SKEW_MS?.trim();
  if (raw === undefined || raw === '') return 0;
  if (!/^-?\d+$/.test(raw)) throw new Error(`TASKFLEET_TEST_CLOCK_SKEW_MS: must be a whole number, got "${raw}"`);
  return Number(raw);
}

/** A clock `skewMs` ahead of (or, when negative, behind) the system clock. */
export function skewedClock(skewMs: number): Clock {
  return { now: () => Date.now() + skewMs };
}

/**
 * `TASKFLEET_TEST_WEBHOOK_HOLD_SENDS=1`: the supervisor turns task events into webhook deliveries but never
 * sends one, so a test can kill it between the commit of a delivery and its send.
 * `TASKFLEET_TEST_WEBHOOK_BACKOFF_MS`: the first retry delay of a failed delivery (doubling, at most 8 times it).
 */
export function testWebhookHooks(env: NodeJS.ProcessEnv = process.env): {
  holdSends: boolean;
  backoffMs: number | null;
} {
  const raw = env.TASKFLEET_TEST_WEBHOOK_BACKOFF_MS?.trim();
  if (raw !== undefined && raw !== '' && !/^\d+$/.test(raw)) {
    throw new Error(`TASKFLEET_TEST_WEBHOOK_BACKOFF_MS: must be a whole number, got "${raw}"`);
  }
  return {
    holdSends: env.TASKFLEET_TEST_WEBHOOK_HOLD_SENDS === '1',
    backoffMs: raw === undefined || raw === '' ? null : Number(raw),
  };
}
