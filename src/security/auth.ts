/**
 * Authentication of everything under /v1: `Authorization: Bearer <key>`.
 *
 * The key is hashed (SHA-256) first, whatever it is. The bootstrap admin key (TASKFLEET_ADMIN_API_KEY) is
 * compared by hash with `crypto.timingSafeEqual`; any other key is looked up in the store by its hash, so
 * no comparison ever runs over the secret itself. A missing, malformed, unknown or revoked key gets the
 * same 401, counted in the SecurityCounters.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { bindingOf, type Actor } from '../domain/security';
import type { Store } from '../store/port';
import { clientIp, setActor } from './actor';
import { hashApiKey } from './apiKeys';
import { UnauthorizedError } from './errors';

/** What the supervisor counts and shows in its stats. */
export interface SecurityCounters {
  /** 401: requests without a usable key. */
  unauthorized: number;
  /** 403: requests whose key may not do what they asked. */
  forbidden: number;
  /** 429: requests refused by the rate limiter. */
  rateLimited: number;
}

export function createSecurityCounters(): SecurityCounters {
  return { unauthorized: 0, forbidden: 0, rateLimited: 0 };
}

export const BOOTSTRAP_ADMIN_ID = 'bootstrap-admin';
export const BOOTSTRAP_ADMIN_NAME = 'bootstrap admin';

/** RFC 6750: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The token of a well-formed `Authorization: Bearer` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length > 1024) return null;
  return BEARER.exec(header)?.[1] ?? null;
}

export interface AuthenticateOptions {
  store: Store;
  /** TASKFLEET_ADMIN_API_KEY; null when not configured. */
  adminApiKey: string | null;
}

/** Resolves a presented key to its actor (without the ip), or null. */
export function keyResolver(opts: AuthenticateOptions): (token: string) => Promise<Omit<Actor, 'ip'> | null> {
  const adminHash = opts.adminApiKey === null ? null : Buffer.from(hashApiKey(opts.adminApiKey), 'hex');
  return async (token) => {
    const hash = hashApiKey(token);
    if (adminHash !== null && timingSafeEqual(Buffer.from(hash, 'hex'), adminHash)) {
      return { keyId: BOOTSTRAP_ADMIN_ID, name: BOOTSTRAP_ADMIN_NAME, role: 'admin' };
    }
    const record = await opts.store.findApiKeyByHash(hash);
    if (!record || record.revokedAt !== null) return null;
    const agent = bindingOf(record);
    // An agent key without its binding (only a hand-edited row) may act as nobody: refused outright.
    if (record.role === 'agent' && !agent) return null;
    return { keyId: record.id, name: record.name, role: record.role, ...(agent ? { agent } : {}) };
  };
}

/**
 * The middleware: sets the request's actor (see `actorOf`) or fails with UnauthorizedError. Keys are looked
 * up on every request (one indexed read), so a revocation takes effect at once on every supervisor.
 */
export function authenticate(opts: AuthenticateOptions): RequestHandler {
  const resolve = keyResolver(opts);
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    const who = token === null ? null : await resolve(token);
    if (!who) throw new UnauthorizedError();
    setActor(res, { ...who, ip: clientIp(req) });
    next();
  };
}
