/**
 * One signed POST of a webhook delivery. Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`
 * (the delivery id, the same on every attempt, so a receiver dedupes), `webhook-timestamp` (this attempt's,
 * in seconds) and `webhook-signature` (`v1,` base64 HMAC-SHA256 of `id.timestamp.body` under the `whsec_`
 * secret), made by the `standardwebhooks` library.
 *
 * The connection goes to the address the guard checked (a `lookup` that answers only it), redirects are never
 * followed (a 3xx is a failed attempt: following one would reach an address nobody checked), and the whole
 * exchange has a deadline. Only a 2xx is a success; the response body is read and dropped, up to a small cap.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { RefusedUrlError, type UrlGuard } from './urlGuard';

export interface SendResult {
  statusCode: number | null;
  /** Null on a 2xx; otherwise why the attempt failed (short, for the deliveries view). */
  error: string | null;
  durationMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;
const USER_AGENT = 'taskfleet-webhooks/1';

export function signatureHeaders(secret: string, id: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

export async function sendWebhook(opts: {
  guard: UrlGuard;
  url: string;
  id: string;
  body: string;
  secret: string;
  timeoutMs: number;
  /** Aborts the request (the supervisor is stopping). */
  signal?: AbortSignal;
  now?: () => Date;
}): Promise<SendResult> {
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null): SendResult => ({
    statusCode,
    error: error === null ? null : error.slice(0, 1000),
    durationMs: performance.now() - started,
  });
  let target;
  try {
    target = await opts.guard.resolveForSend(opts.url);
  } catch (err) {
    if (err instanceof RefusedUrlError) return done(null, `refused: ${err.message}`);
    throw err;
  }
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    ...signatureHeaders(opts.secret, opts.id, (opts.now ?? (() => new Date()))(), opts.body),
  };
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (statusCode: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(statusCode, error));
    };
    const req = client.request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(opts.body) },
        lookup: pinned,
        agent: false,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        const verdict = () =>
          status >= 200 && status < 300
            ? finish(status, null)
            : finish(
                status,
                status >= 300 && status < 400 ? `redirect (HTTP ${status}) not followed` : `HTTP ${status}`,
              );
        res.on('end', verdict);
        res.on('close', verdict);
        res.on('error', verdict);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (err) => finish(null, err.message));
    req.end(opts.body);
  });
}
