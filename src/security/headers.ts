/**
 * Security headers for a JSON API, with helmet. What a browser would do with an HTML page is mostly beside
 * the point here, so the document-only headers are off; what is kept:
 *  - `X-Content-Type-Options: nosniff`: a response is never run as a script or shown as HTML;
 *  - `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` and `X-Frame-Options: DENY`:
 *    nothing loads, and no page may frame a response;
 *  - `Cross-Origin-Resource-Policy: same-origin`: no other site can embed a response;
 *  - `Referrer-Policy: no-referrer`;
 *  - no `X-Powered-By`;
 *  - `Cache-Control: no-store` on every /v1 answer (it is per key and changes all the time).
 * HSTS is off: the supervisor speaks plain HTTP and is meant to sit behind a TLS-terminating proxy or
 * ingress, which is the one that knows the public host name and should send `Strict-Transport-Security`
 * (a browser ignores it over plain HTTP anyway).
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    xContentTypeOptions: true,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: true,
    xXssProtection: false,
  });
}

export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
