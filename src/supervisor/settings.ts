/**
 * What the supervisor derives from its configuration, computed here and nowhere else: the HTTP layer's
 * settings, when an agent stops counting as live, and the heartbeat enforcement policy.
 */
import type { Config } from '../config/config';
import type { EnforcementPolicy } from '../domain/enforcement';
import type { RateLimitSettings } from '../security/rateLimit';

/**
 * Heartbeat intervals after which an agent no longer counts as live for routing. Three, so that a late or lost
 * heartbeat does not take an agent out of routing.
 */
export const LIVE_FOR_HEARTBEATS = 3;

export interface HttpSettings {
  /** The bootstrap admin key (TASKFLEET_ADMIN_API_KEY); null accepts only keys from the store. */
  adminApiKey: string | null;
  rateLimit: RateLimitSettings;
  maxBodyBytes: number;
  staleAfterMs: number;
}

export interface SupervisorSettings {
  http: HttpSettings;
  staleAfterMs: number;
  enforcement: EnforcementPolicy;
}

/** Values that replace the configuration's (tests pick a rate limit or an admin key). */
export type HttpOverrides = Partial<Pick<HttpSettings, 'adminApiKey' | 'rateLimit'>>;

export function supervisorSettings(config: Config, overrides: HttpOverrides = {}): SupervisorSettings {
  const staleAfterMs = LIVE_FOR_HEARTBEATS * config.heartbeatIntervalMs;
  return {
    http: {
      adminApiKey: overrides.adminApiKey !== undefined ? overrides.adminApiKey : config.adminApiKey,
      rateLimit: overrides.rateLimit ?? config.rateLimit,
      maxBodyBytes: config.maxBodyBytes,
      staleAfterMs,
    },
    staleAfterMs,
    enforcement: { heartbeatIntervalMs: config.heartbeatIntervalMs, ...config.heartbeatThresholds },
  };
}
