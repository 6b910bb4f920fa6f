/**
 * How a browser reaches bull-board at /admin/queues: a page navigation cannot carry `Authorization: Bearer`,
 * and the key must never sit in a URL or a readable cookie. So the console, already holding an admin key,
 * calls `POST /admin/queues/session` with it; the answer sets a short-lived cookie that is
 * `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it, which is bull-board's
 * CSRF guard for its POST actions), `Path=/admin/queues` (no other route sees it) and `Secure` behind TLS.
 *
 * The cookie holds the key's id, its expiry and an HMAC of both, never the key. Every request re-reads the key
 * (revoked, or no longer admin: refused at once).
 *
 * The HMAC's secret is derived from the bootstrap admin key (TASKFLEET_ADMIN_API_KEY) when it is configured: the
 * supervisors behind one load balancer share that key, so a cookie one of them set opens the view on the others,
 * and only a holder of the admin key (who may do anything already) could forge one. The derivation is one-way and
 * labelled, so the secret reveals nothing of the key, and rotating the key ends the open sessions. Without that
 * key the secret is random per process: behind several supervisors the queue view then needs session affinity
 * (or the operator opens it again from the console).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Role } from '../domain/security';
import { BOOTSTRAP_ADMIN_ID, bearerToken, keyResolver, type AuthenticateOptions } from '../security/auth';
import { ForbiddenError, UnauthorizedError } from '../security/errors';

export const QUEUES_PATH = '/admin/queues';
const COOKIE = 'taskfleet_queues';
export const QUEUE_SESSION_MS = 15 * 60_000;

export interface QueueSession {
  /** `POST /admin/queues/session` (Bearer admin key): sets the cookie, 204. */
  open: RequestHandler;
  /** Lets a request with a valid cookie of an admin key through; 401 otherwise. */
  guard: RequestHandler;
}

function readCookie(req: Request): string | null {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return null;
}

/** What labels the derivation of the cookie's secret from the admin key (a new label would end every session). */
const SECRET_LABEL = 'taskfleet queue-view session cookie v1';

/** The cookie's HMAC secret: shared by every supervisor with the same admin key, else random to this process. */
export function queueSessionSecret(adminApiKey: string | null): { secret: Buffer; shared: boolean } {
  if (adminApiKey === null) return { secret: randomBytes(32), shared: false };
  return { secret: createHmac('sha256', adminApiKey).update(SECRET_LABEL).digest(), shared: true };
}

export function queueSession(auth: AuthenticateOptions, now: () => number = Date.now): QueueSession {
  const { secret } = queueSessionSecret(auth.adminApiKey);
  const resolve = keyResolver(auth);
  const sign = (body: string) => createHmac('sha256', secret).update(body).digest('base64url');

  const roleOf = async (keyId: string): Promise<Role | null> => {
    if (keyId === BOOTSTRAP_ADMIN_ID) return auth.adminApiKey === null ? null : 'admin';
    const record = (await auth.store.listApiKeys()).find((k) => k.id === keyId);
    return record && record.revokedAt === null ? record.role : null;
  };

  const open: RequestHandler = async (req, res) => {
    const token = bearerToken(req.get('authorization'));
    const who = token === null ? null : await resolve(token);
    if (!who) throw new UnauthorizedError();
    if (who.role !== 'admin') throw new ForbiddenError('the queue view is for admin keys', ['admin']);
    const body = `${encodeURIComponent(who.keyId)}.${now() + QUEUE_SESSION_MS}`;
    res.cookie(COOKIE, `${body}.${sign(body)}`, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: QUEUES_PATH,
      maxAge: QUEUE_SESSION_MS,
      encode: String,
    });
    res.set('Cache-Control', 'no-store').status(204).end();
  };

  const guard: RequestHandler = async (req, res, next) => {
    const [keyId, expires, mac] = (readCookie(req) ?? '').split('.');
    const valid =
      keyId !== undefined &&
      expires !== undefined &&
      mac !== undefined &&
      safeEqual(mac, sign(`${keyId}.${expires}`)) &&
      Number(expires) > now() &&
      (await roleOf(decodeURIComponent(keyId))) === 'admin';
    // Counted like any refused request; the console (/ui) is where an admin opens the view.
    if (!valid) throw new UnauthorizedError();
    next();
  };

  return { open, guard };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
