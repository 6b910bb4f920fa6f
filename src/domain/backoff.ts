export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before the attempt after `failedAttempt` (1-based): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that a burst of failures does not retry in lock step while the delay
 * never collapses to zero.
 */
export function backoffDelayMs(
  failedAttempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failedAttempt - 1));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
