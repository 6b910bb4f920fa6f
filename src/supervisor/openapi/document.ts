/**
 * The OpenAPI 3.1 document of the API, built once from the route catalogue: request bodies and query parameters
 * are zod 4's JSON Schema output (draft 2020-12, the dialect OpenAPI 3.1 uses) of the schemas the handlers
 * validate with, in their input form (what a caller sends, before defaults and transforms); each /v1 route's
 * roles come from the permission table (`x-taskfleet-roles`, and in its description).
 */
import { z } from 'zod';
import { ROLES } from '../../domain/security';
import { PERMISSIONS, type Permission } from '../../security/permissions';
import { VERSION } from '../../version';
import { ROUTE_CATALOGUE, type RouteDoc } from './catalogue';

type Json = Record<string, unknown>;

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

const ERROR_TEXT: Record<number, string> = {
  400: 'the request is invalid (errors[] names each field)',
  401: 'no valid API key',
  403: "the key's role may not call this route",
  404: 'not found (also a task of another submitter: its existence is not revealed)',
  409: 'conflict with the current state',
  413: 'the body is larger than the limit',
  429: 'rate limited: retry after Retry-After seconds',
  503: 'SQL or Redis is unavailable, or the store is out of space',
};

/** `/v1/tasks/:id` → `/v1/tasks/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

function jsonSchema(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  // A `$defs` would sit inside the document with `#/$defs/...` references that resolve against its root.
  if ('$defs' in out) throw new Error('a route schema needs $defs: hoist them into components before documenting it');
  delete out.$schema;
  return out;
}

function queryParameters(query: z.ZodObject): Json[] {
  const schema = jsonSchema(query);
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}

function permissionOf(route: RouteDoc): Permission {
  const row = PERMISSIONS.find((p) => p.method === route.method && p.path === route.path);
  if (!row) throw new Error(`${route.method} ${route.path} is documented but has no row in PERMISSIONS`);
  return row;
}

function errorStatuses(route: RouteDoc, permission: Permission | null): number[] {
  const statuses = new Set(route.errors ?? []);
  // A route outside /v1 that checks its key itself names its own errors.
  if (permission && !route.roles) {
    for (const s of [401, 429, 503]) statuses.add(s);
    if (permission.roles.length < ROLES.length) statuses.add(403);
    if (route.path.includes(':')) statuses.add(404);
  }
  if (route.body || route.query) statuses.add(400);
  return [...statuses].filter((s) => !(s in route.responses)).sort();
}

function operation(route: RouteDoc): Json {
  const permission = route.public
    ? null
    : route.roles
      ? { method: route.method, path: route.path, roles: route.roles, what: route.summary }
      : permissionOf(route);
  const parameters: Json[] = [...route.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.query) parameters.push(...queryParameters(route.query));
  if (route.method === 'POST' && route.path.startsWith('/v1/tasks') && route.body) {
    parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } });
  }
  const responses: Json = {};
  for (const [status, description] of Object.entries(route.responses)) {
    const type = route.contentType ?? 'application/json';
    responses[status] = status === '204' ? { description } : { description, content: { [type]: { schema: {} } } };
  }
  for (const status of errorStatuses(route, permission)) {
    responses[String(status)] = {
      description: ERROR_TEXT[status] ?? 'error',
      content: { 'application/problem+json': { schema: PROBLEM_REF } },
    };
  }
  const roles = permission ? ` Roles: ${permission.roles.join(', ')}.` : '';
  const scope = permission?.scope === 'own-tasks' ? ' A submitter reaches only the tasks its own key submitted.' : '';
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`,
    summary: route.summary,
    ...(roles || scope ? { description: (roles + scope).trim() } : {}),
    tags: [route.tag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } }
      : {}),
    responses,
    ...(permission ? { 'x-taskfleet-roles': [...permission.roles] } : { security: [] }),
    ...(permission?.scope ? { 'x-taskfleet-scope': permission.scope } : {}),
  };
}

export function buildOpenApiDocument(routes: readonly RouteDoc[] = ROUTE_CATALOGUE): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'taskfleet',
      version: VERSION,
      description: 'A queue-backed worker fleet with durable jobs. Errors are RFC 9457 problem+json.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key: Authorization: Bearer <key>' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: { type: 'string', description: 'urn:taskfleet:problem:<code>' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['field', 'message'],
                properties: { field: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
