/**
 * `GET /openapi.json` against a real supervisor: the document is valid OpenAPI 3.1 by a third-party validator
 * (@seriousme/openapi-schema-validator, run in a child process because it is an ES module), it lists exactly
 * the routes the app serves (walked from express's router stack), and each route's roles are the permission
 * table's.
 */
import { execFile } from 'node:child_process';
import type { Express } from 'express';
import { PERMISSIONS } from '../../src/security/permissions';
import { openApiPath } from '../../src/supervisor/openapi/document';
import { ROOT, fileInspector, fleetFor } from '../helpers/fleet';

const redis = fileInspector();

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

interface Layer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every `METHOD path` the app serves: its own routes and those of the routers mounted under a path. */
function servedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods).filter((k) => METHODS.includes(k)))
          out.push(`${m.toUpperCase()} ${prefix}${layer.route.path}`);
      } else if (layer.handle?.stack) {
        walk(
          layer.handle.stack,
          prefix + (typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''),
        );
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return [...new Set(out)].sort();
}

function documentedRoutes(doc: any): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths))
    for (const m of Object.keys(item).filter((k) => METHODS.includes(k))) out.push(`${m.toUpperCase()} ${path}`);
  return out.sort();
}

function validate(doc: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const result = await new Validator().validate(JSON.parse(input));
    process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors, version: new Validator().version }));
  `;
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
    child.stdin!.end(JSON.stringify(doc));
  });
}

describe('GET /openapi.json', () => {
  const fleet = fleetFor(redis);
  let doc: any;

  beforeAll(async () => {
    const res = await fleet().request('GET', '/openapi.json', undefined, {}, { key: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });

  it('answers without a key, an OpenAPI 3.1 document the third-party validator accepts', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(await validate(doc)).toMatchObject({ valid: true });
  });

  it('the validator refuses a broken document (the check can fail)', async () => {
    const broken = { ...doc, paths: { '/v1/tasks': { get: { responses: 'none' } } } };
    expect((await validate(broken)).valid).toBe(false);
  });

  it('documents every route the app serves, and nothing else', () => {
    const served = servedRoutes(fleet().sup.app).map((r) => openApiPath(r));
    const documented = documentedRoutes(doc);
    const missing = served.filter((r) => !documented.includes(r));
    const extra = documented.filter((r) => !served.includes(r));
    // Named, so a route added without a catalogue entry (src/supervisor/openapi/catalogue.ts) says which.
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    expect(served.length).toBeGreaterThan(20);
  });

  it("gives each /v1 route the permission table's roles, and every row of the table a route", () => {
    const documented = PERMISSIONS.map((p) => {
      const op = doc.paths[openApiPath(p.path)]?.[p.method.toLowerCase()];
      return { route: `${p.method} ${p.path}`, roles: op?.['x-taskfleet-roles'] ?? 'not documented' };
    });
    expect(documented).toEqual(PERMISSIONS.map((p) => ({ route: `${p.method} ${p.path}`, roles: [...p.roles] })));
  });

  it('uses the bearer scheme on /v1 and none on the public routes; problem+json for errors', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
      expect(doc.paths[path].get.security).toEqual([]);
    // ?wait= is validated (400), the task may not be there (404), an agent key may not read it (403).
    const get = doc.paths['/v1/tasks/{id}'].get;
    expect(Object.keys(get.responses).sort()).toEqual(['200', '400', '401', '403', '404', '429', '503']);
    expect(get.responses['404'].content['application/problem+json'].schema).toEqual({
      $ref: '#/components/schemas/Problem',
    });
    expect(doc.paths['/v1/audit'].get.responses['403']).toBeDefined();
  });

  it('describes bodies and queries with the schemas the handlers validate with', async () => {
    const submit = doc.paths['/v1/tasks'].post.requestBody.content['application/json'].schema;
    expect(submit).toMatchObject({ type: 'object', required: ['type'], additionalProperties: false });
    expect(submit.properties.priority.enum).toEqual(['low', 'normal', 'high', 'critical']);
    const list = doc.paths['/v1/tasks'].get.parameters.map((p: any) => [p.name, p.in, p.required]);
    expect(list).toEqual(
      expect.arrayContaining([
        ['status', 'query', false],
        ['limit', 'query', false],
        ['cursor', 'query', false],
      ]),
    );
    // What the document says is refused is refused: a limit over its maximum answers 400 naming the field.
    const max = doc.paths['/v1/tasks'].get.parameters.find((p: any) => p.name === 'limit').schema.maximum;
    const res = await fleet().request('GET', `/v1/tasks?limit=${max + 1}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: any) => e.field)).toEqual(['limit']);
  });
});
