/**
 * Security headers and error hygiene: no stack, SQL or driver text in an answer, over real HTTP against a real
 * supervisor (SQLite file + Redis under a private prefix, loops off). Each describe block starts its own fleet; no
 * test depends on another’s requests.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { UnavailableError } from '../../src/domain/errors';
import { fileInspector, fleetFor } from '../helpers/fleet';
import { bearer, expectProblem } from '../helpers/http';

const redis = fileInspector();

describe('headers and error hygiene', () => {
  const fleet = fleetFor(redis);

  it('sends the security headers on API answers, errors and probes', async () => {
    const f = fleet();
    for (const res of [
      await f.request('GET', '/v1/tasks'),
      await f.request('GET', '/v1/tasks', undefined, {}, { key: null }),
      await f.request('GET', '/v1/nothing'),
      await f.request('GET', '/healthz'),
    ]) {
      const h = res.headers;
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('x-frame-options')).toBe('DENY');
      expect(h.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
      expect(h.get('referrer-policy')).toBe('no-referrer');
      expect(h.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(h.get('x-powered-by')).toBeNull();
      expect(h.get('strict-transport-security')).toBeNull();
    }
    expect((await f.request('GET', '/v1/tasks')).headers.get('cache-control')).toBe('no-store');
  });

  it('answers a store failure 500 or 503 with a fixed text: no stack, no SQL, no driver message; logs it without the key', async () => {
    const f = fleet();
    const sql = 'SELECT * FROM tasks WHERE id = ? -- SQLITE_CORRUPT: database disk image is malformed';
    const failing = new Proxy(f.sup.store, {
      get(target, prop, receiver) {
        if (prop === 'getTask') {
          return async () => {
            throw Object.assign(new Error(sql), { code: 'SQLITE_CORRUPT', sql });
          };
        }
        if (prop === 'listTasks') {
          return async () => {
            throw new UnavailableError(`sqlite: ${sql}`);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const second = await f.startSecondSupervisor({ store: failing, log: pino({ level: 'info' }, sink) });
    try {
      const five = await second.request('GET', `/v1/tasks/some-id`, undefined, bearer(f.adminKey));
      expectProblem(five, 500, { code: 'internal_error' });
      expect(five.body).toEqual({
        type: 'urn:taskfleet:problem:internal_error',
        title: 'internal error',
        status: 500,
        detail: 'an internal error occurred; it has been logged',
      });
      const unavailable = await second.request('GET', '/v1/tasks', undefined, bearer(f.adminKey));
      expectProblem(unavailable, 503, { code: 'unavailable' });
      for (const res of [five, unavailable]) {
        const text = JSON.stringify(res.body);
        expect(text).not.toMatch(/SELECT|SQLITE|FROM tasks|\bat .*\.[jt]s:\d+|stack/i);
      }
      // The log has the error, and never the key.
      expect(logged).toContain('SQLITE_CORRUPT');
      expect(logged).not.toContain(f.adminKey);
      expect(logged).not.toMatch(/Bearer /);
    } finally {
      await second.close();
    }
  });

  it('answers a malformed JSON body 400 without echoing parser internals', async () => {
    const f = fleet();
    const res = await f.request('POST', '/v1/tasks', '{"type": "echo",', { 'content-type': 'application/json' });
    expectProblem(res, 400, { code: 'malformed_json' });
    expect(JSON.stringify(res.body)).not.toMatch(/SyntaxError|at JSON|position/);
  });
});
