/**
 * HTTP for tests: one request function (exactly the headers given, a JSON body) and the assertions on
 * answers (problem+json, identifiers, timestamps). A fleet's `request` adds its admin key on top of this.
 */
import type { Role } from '../../src/domain/security';

export interface ApiResponse {
  status: number;
  /** The body parsed as JSON; the raw text when it is not JSON; null when empty. */
  body: any;
  headers: Headers;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** One HTTP request with exactly these headers (no key unless given); a non-string body is sent as JSON. */
export async function httpRequest(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** `Authorization: Bearer <key>`. */
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Asserts an RFC 9457 problem response with `status`, and (when given) that `errors[].field` names `field`. */
export function expectProblem(res: ApiResponse, status: number, opts: { code?: string; field?: string } = {}): void {
  const context = `${res.status} ${JSON.stringify(res.body)}`;
  expect({ status: res.status, context }).toEqual({ status, context });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/^urn:taskfleet:problem:[a-z_]+$/),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  if (opts.code !== undefined) expect(res.body.type).toBe(`urn:taskfleet:problem:${opts.code}`);
  if (opts.field !== undefined) {
    expect(res.body).toHaveProperty('errors', expect.any(Array));
    const errors = res.body.errors as Array<{ field: string; message: string }>;
    expect(errors.map((issue) => issue.field)).toContain(opts.field);
    for (const issue of errors) expect(typeof issue.message).toBe('string');
  }
}

/** The one 401 body, whatever was wrong with the key. */
export const UNAUTHORIZED = {
  type: 'urn:taskfleet:problem:unauthorized',
  title: 'unauthorized',
  status: 401,
  detail: 'a valid API key is required: Authorization: Bearer <key>',
};

export function expectUnauthorized(res: ApiResponse): void {
  expectProblem(res, 401, { code: 'unauthorized' });
  expect(res.body).toEqual(UNAUTHORIZED);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

/** A 403 naming the roles that may (or, for an ownership refusal, `roles` = null, naming none). */
export function expectForbidden(res: ApiResponse, roles: readonly Role[] | null): void {
  expectProblem(res, 403, { code: 'forbidden' });
  if (roles === null) {
    expect(res.body).not.toHaveProperty('requiredRoles');
    return;
  }
  expect([...res.body.requiredRoles].sort()).toEqual([...roles].sort());
  for (const role of roles) expect(res.body.detail).toContain(role);
}
