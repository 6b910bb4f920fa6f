/**
 * Rate limiting per API key: a token bucket per key, refilled continuously at `perSecond` tokens a second
 * up to `burst`. A request takes one token; with none left it is refused (429) with `Retry-After`, the
 * whole seconds until a token is back.
 *
 * Written here rather than taken from `rate-limiter-flexible`: that package counts in fixed windows
 * (`points` per `duration` whole seconds), and its BurstyRateLimiter only adds a second, longer fixed
 * window. Neither is a token bucket: a fixed window lets twice the rate through across a window boundary,
 * and cannot express "200 a second, bursts of 400" with a continuous refill. This bucket is a few lines.
 *
 * The buckets live in the supervisor's memory: with N supervisors behind a load balancer a key can make up
 * to N times the configured rate across the fleet. Only authenticated requests reach the limiter, so the
 * number of buckets is bounded by the number of valid keys; full (idle) buckets are swept periodically.
 */
import type { RequestHandler } from 'express';
import type { Clock } from '../domain/clock';
import { actorOf } from './actor';
import { RateLimitedError } from './errors';

export interface RateLimitSettings {
  /** Tokens added per second (the sustained rate); > 0. */
  perSecond: number;
  /** The bucket's size (the largest burst); >= 1. */
  burst: number;
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly settings: RateLimitSettings,
    now: number,
  ) {
    this.tokens = settings.burst;
    this.last = now;
  }

  private refill(now: number): void {
    // A clock that steps back adds nothing (and takes nothing away).
    const elapsedMs = Math.max(0, now - this.last);
    this.tokens = Math.min(this.settings.burst, this.tokens + (elapsedMs / 1000) * this.settings.perSecond);
    this.last = Math.max(this.last, now);
  }

  take(now: number): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens) };
    }
    return { ok: false, retryAfterMs: ((1 - this.tokens) / this.settings.perSecond) * 1000 };
  }

  /** True when the bucket would be full at `now` (an idle key: forgetting it changes nothing). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.settings.burst;
  }
}

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep: number;

  constructor(
    readonly settings: RateLimitSettings,
    private readonly clock: Clock,
    private readonly sweepEveryMs = 60_000,
  ) {
    if (!(settings.perSecond > 0) || !(settings.burst >= 1)) {
      throw new Error(`invalid rate limit: ${settings.perSecond}/s, burst ${settings.burst}`);
    }
    this.lastSweep = clock.now();
  }

  take(key: string): TakeResult {
    const now = this.clock.now();
    this.sweep(now);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.settings, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Buckets held (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.sweepEveryMs) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}

/** Whole seconds for `Retry-After`: rounded up, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The middleware; it runs after authentication, so it limits by the actor's key id and an unauthenticated
 * request never takes a token. Refusals throw RateLimitedError (429 with Retry-After, counted).
 */
export function rateLimit(limiter: RateLimiter): RequestHandler {
  return (_req, res, next) => {
    const result = limiter.take(actorOf(res).keyId);
    if (!result.ok) throw new RateLimitedError(retryAfterSeconds(result.retryAfterMs));
    next();
  };
}
