/**
 * infra/azure (Bicep, read with regular expressions: there is no Bicep compiler here), infra/k8s (YAML) and the
 * deployment scripts scripts/deploy/ (bash -n, and what they read against what they document). What only Azure or
 * a cluster can tell (that the templates deploy, that KEDA scales) is left to README, Deployment.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { parseCapabilityList } from '../../src/domain/capabilities';
import { poolKey } from '../../src/domain/pool';
import { builtinHandlers } from '../../workers/handlers';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');
const bicep = read('infra/azure/main.bicep');
const workerModule = read('infra/azure/modules/worker-app.bicep');
const parameters = (
  JSON.parse(read('infra/azure/main.parameters.json')) as { parameters: Record<string, { value: any }> }
).parameters;
const params = (text: string) =>
  [...text.matchAll(/^param (\w+) (\S+)( = .*)?$/gm)].map((m) => ({ name: m[1]!, required: !m[3] }));
const outputs = [...bicep.matchAll(/^output (\w+) /gm)].map((m) => m[1]!);

/** `resource|module <symbol> '…' = …` up to its closing brace (or bracket, for a loop) at the start of a line. */
function resource(text: string, symbol: string): string {
  const start = new RegExp(`^(resource|module) ${symbol} '`, 'm').exec(text);
  if (!start) throw new Error(`no resource ${symbol}`);
  const end = /\n[}\]]\n/.exec(text.slice(start.index))!;
  return text.slice(start.index, start.index + end.index + 2);
}

describe('infra/azure/main.bicep', () => {
  it('deploys the observability workbook and alert rules as a module, with every parameter they need', () => {
    const mod = resource(bicep, 'observability');
    expect(mod).toMatch(/^module observability '\.\.\/observability\/alerts\.bicep'/);
    const alerts = read('infra/observability/alerts.bicep');
    for (const p of params(alerts)) {
      if (p.required) expect(mod).toMatch(new RegExp(`\\n\\s+${p.name}: `));
    }
    expect(mod).toContain('appInsightsId: appInsights.id');
  });

  it('references only modules that exist', () => {
    for (const m of bicep.matchAll(/^module \w+ '([^']+)'/gm)) {
      expect(existsSync(path.join(ROOT, 'infra/azure', m[1]!))).toBe(true);
    }
  });

  it('makes Application Insights workspace-based', () => {
    expect(resource(bicep, 'appInsights')).toContain('WorkspaceResourceId: logs.id');
  });

  it('gives Key Vault RBAC authorization, and the SQL server Entra-only authentication', () => {
    expect(resource(bicep, 'vault')).toContain('enableRbacAuthorization: true');
    const sql = resource(bicep, 'sqlServer');
    expect(sql).toContain('azureADOnlyAuthentication: true');
    expect(sql).toContain("administratorType: 'ActiveDirectory'");
    expect(bicep).not.toMatch(/administratorLoginPassword/);
  });

  it('runs Redis with noeviction, non-clustered (BullMQ scripts touch several keys), reached by access key', () => {
    const db = resource(bicep, 'redisDatabase');
    expect(db).toContain("evictionPolicy: 'NoEviction'");
    expect(db).toContain("clusteringPolicy: 'NoCluster'");
    expect(db).toContain("accessKeysAuthentication: 'Enabled'");
    // The key goes to Key Vault, URL-encoded (ioredis decodes the password of a URL).
    expect(resource(bicep, 'redisUrlSecret')).toMatch(
      /value: 'rediss:\/\/:\$\{uriComponent\(redisDatabase\.listKeys\(\)\.primaryKey\)\}@/,
    );
  });

  it('uses Key Vault references for every app secret, never a value', () => {
    const apps = [resource(bicep, 'supervisorApp'), workerModule];
    for (const app of apps) expect(app).not.toMatch(/secrets: \[\s*\{[^\]]*value:/);
    const secretsOf = (symbol: string) =>
      /secrets: map\((\w+), name => \{\s*name: name\s*keyVaultUrl: '\$\{vault\.properties\.vaultUri\}secrets\/\$\{name\}'\s*identity: (\w+)\.id/.exec(
        resource(bicep, symbol),
      );
    expect(secretsOf('supervisorApp')?.slice(1)).toEqual(['supervisorSecrets', 'supervisorIdentity']);
    expect(secretsOf('workerApps')?.slice(1)).toEqual(['workerSecrets', 'workerIdentity']);
    expect(workerModule).toMatch(/^\s+secrets: secrets$/m);
  });

  it("keeps each identity's secrets its own: the workers never read the admin key, nor the supervisor the scaler's", () => {
    const list = (name: string) =>
      /^var \w+ = \[(.*)\]$/m.exec(bicep.split('\n').find((l) => l.startsWith(`var ${name} = [`))!)![1]!;
    expect(list('supervisorSecrets')).toContain('adminApiKey');
    expect(list('supervisorSecrets')).not.toContain('scalerApiKey');
    expect(list('workerSecrets')).toContain('scalerApiKey');
    expect(list('workerSecrets')).not.toContain('adminApiKey');
    expect(resource(bicep, 'supervisorSecretReaders')).toContain('for secret in supervisorSecrets');
    expect(resource(bicep, 'workerSecretReaders')).toContain('for secret in workerSecrets');
    expect(read('infra/azure/modules/secret-reader.bicep')).toMatch(/scope: secret\n/);
  });

  it('lets both identities pull images (AcrPull), with no registry password anywhere', () => {
    for (const who of ['supervisor', 'worker']) {
      expect(resource(bicep, `${who}AcrPull`)).toContain(`principalId: ${who}Identity.properties.principalId`);
    }
    expect(resource(bicep, 'registry')).toContain('adminUserEnabled: false');
    expect(bicep + workerModule).not.toMatch(/passwordSecretRef/);
  });

  it('probes the supervisor on /healthz (startup, liveness) and /readyz (readiness), on its port', () => {
    const app = resource(bicep, 'supervisorApp');
    const probes = [...app.matchAll(/type: '(\w+)'\s+httpGet: \{\s+path: '([^']+)'\s+port: (\d+)/g)].map((m) =>
      m.slice(1),
    );
    expect(probes).toEqual([
      ['Startup', '/healthz', '8080'],
      ['Liveness', '/healthz', '8080'],
      ['Readiness', '/readyz', '8080'],
    ]);
    expect(app).toContain('targetPort: 8080');
    expect(bicep).toContain("{ name: 'TASKFLEET_PORT', value: '8080' }");
  });

  it("scales each worker pool with KEDA's metrics-api scaler on the supervisor's backlog, with the reader key", () => {
    expect(workerModule).toContain("type: 'metrics-api'");
    expect(workerModule).toContain("valueLocation: 'backlog'");
    expect(workerModule).toContain('targetValue: string(pool.concurrency)');
    expect(workerModule).toContain("authMode: 'bearer'");
    expect(workerModule).toMatch(/secretRef: 'scaler-api-key'\s+triggerParameter: 'token'/);
    expect(resource(bicep, 'workerApps')).toContain(
      "scalerUrl: 'https://${supervisorApp.properties.configuration.ingress.fqdn}/v1/scaling/pool?capabilities=${pool.capabilities}&types=${pool.types}&perReplica=${pool.concurrency}'",
    );
    expect(workerModule).not.toMatch(/^\s+ingress: \{/m);
  });

  it('passes the drain timeout and the grace period together', () => {
    expect(bicep).toContain("{ name: 'TASKFLEET_DRAIN_TIMEOUT_MS', value: string(drainTimeoutMs) }");
    expect(bicep).toMatch(/terminationGracePeriodSeconds: terminationGracePeriodSeconds/);
    expect(workerModule).toContain('terminationGracePeriodSeconds: terminationGracePeriodSeconds');
  });
});

describe('infra/azure/main.parameters.json', () => {
  const declared = params(bicep).map((p) => p.name);

  it('sets only parameters main.bicep declares, and no secret', () => {
    for (const name of Object.keys(parameters)) expect(declared).toContain(name);
    for (const [name, p] of Object.entries(parameters)) {
      expect({
        name,
        looksSecret: /password|secret|connectionstring|apikey|key$/i.test(name) && p.value !== '',
      }).toEqual({
        name,
        looksSecret: false,
      });
    }
  });

  const pools = parameters.workerPools!.value as Array<{
    name: string;
    capabilities: string;
    types: string;
    concurrency: number;
    minReplicas: number;
    maxReplicas: number;
  }>;

  it('defines worker pools named by the signature their workers register, each pool once', () => {
    expect(pools.length).toBeGreaterThan(0);
    expect(new Set(pools.map((p) => p.name)).size).toBe(pools.length);
    const keys = new Set<string>();
    for (const pool of pools) {
      expect(pool.name).toMatch(/^[a-z0-9-]{1,12}$/);
      const caps = parseCapabilityList(pool.capabilities, 'capabilities');
      const types = parseCapabilityList(pool.types, 'types');
      expect(pool.minReplicas).toBeLessThanOrEqual(pool.maxReplicas);
      // The scaler counts the routes whose tightest pool has exactly this key, and the running tasks of the workers
      // that register it: a worker loads every built-in handler its capabilities allow.
      const registered = builtinHandlers({ checksumRoot: null })
        .filter((h) => (h.capabilities ?? []).every((c) => caps.includes(c)))
        .map((h) => h.type)
        .sort();
      expect({ pool: pool.name, types }).toEqual({ pool: pool.name, types: registered });
      const key = poolKey({ capabilities: caps, types });
      expect({ pool: pool.name, sameAs: keys.has(key) }).toEqual({ pool: pool.name, sameAs: false });
      keys.add(key);
    }
  });

  it('keeps every connection pool together well under the S2 database worker limit (120)', () => {
    const poolMax = (block: string) =>
      Number(new RegExp(`var ${block} = \\[[^\\]]*TASKFLEET_MSSQL_POOL_MAX', value: '(\\d+)'`).exec(bicep)![1]);
    const supervisors = (parameters.supervisorReplicas!.value as number) * poolMax('supervisorEnv');
    const workers = pools.reduce((n, p) => n + p.maxReplicas, 0) * poolMax('workerEnv');
    expect(parameters.sqlDatabaseSku!.value).toEqual({ name: 'S2', tier: 'Standard' });
    expect(supervisors + workers).toBeLessThanOrEqual(0.8 * 120);
  });
});

// ---------------------------------------------------------------- Kubernetes

const K8S = 'infra/k8s';
const kustomization = parse(read(`${K8S}/kustomization.yaml`)) as { resources: string[]; namespace: string };
const objects = kustomization.resources.flatMap((f) => parseAllDocuments(read(`${K8S}/${f}`)).map((d) => d.toJS()));
const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);

describe('infra/k8s', () => {
  it('lists every manifest of the folder in kustomization.yaml', () => {
    const yamls = readdirSync(path.join(ROOT, K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(yamls.sort());
  });

  it('has a Deployment and a PodDisruptionBudget for each role, a Service for the supervisor, a ScaledObject per pool', () => {
    const deployments = ofKind('Deployment');
    const workers = deployments.filter((d) => d.metadata.labels['app.kubernetes.io/component'] === 'worker');
    expect(deployments.length).toBe(workers.length + 1);
    for (const d of deployments) {
      const name = d.metadata.labels['app.kubernetes.io/name'];
      const pdb = ofKind('PodDisruptionBudget').find(
        (p) => p.spec.selector.matchLabels['app.kubernetes.io/name'] === name,
      );
      expect({ name, pdb: !!pdb }).toEqual({ name, pdb: true });
    }
    for (const w of workers) {
      const so = ofKind('ScaledObject').find((s) => s.spec.scaleTargetRef.name === w.metadata.name);
      expect({ name: w.metadata.name, scaledObject: !!so }).toEqual({ name: w.metadata.name, scaledObject: true });
      expect(w.spec.replicas).toBeUndefined(); // KEDA owns it
    }
    expect(ofKind('Service').map((s) => s.metadata.name)).toEqual(['taskfleet-supervisor']);
  });

  it('points every scaler at the supervisor Service by its cluster name, with the reader key from Key Vault', () => {
    const svc = ofKind('Service')[0];
    const base = `http://${svc.metadata.name}.${kustomization.namespace}.svc.cluster.local:${svc.spec.ports[0].port}/v1/scaling/pool?`;
    const auth = ofKind('TriggerAuthentication');
    expect(auth.map((a) => a.spec.azureKeyVault.secrets)).toEqual([[{ parameter: 'token', name: 'scaler-api-key' }]]);
    for (const so of ofKind('ScaledObject')) {
      const [trigger] = so.spec.triggers;
      expect(trigger.type).toBe('metrics-api');
      expect(trigger.metadata.url.startsWith(base)).toBe(true);
      expect(trigger.metadata).toMatchObject({ valueLocation: 'backlog', authMode: 'bearer', format: 'json' });
      expect(trigger.authenticationRef.name).toBe(auth[0].metadata.name);
      const worker = ofKind('Deployment').find((d) => d.metadata.name === so.spec.scaleTargetRef.name)!;
      const args: string[] = worker.spec.template.spec.containers[0].args;
      expect(trigger.metadata.targetValue).toBe(args[args.indexOf('--concurrency') + 1]);
    }
  });

  it("probes the supervisor on /healthz and /readyz, and runs every pod as the images' unprivileged user", () => {
    const sup = ofKind('Deployment').find((d) => d.metadata.name === 'taskfleet-supervisor')!;
    const c = sup.spec.template.spec.containers[0];
    expect([c.startupProbe.httpGet.path, c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path]).toEqual([
      '/healthz',
      '/healthz',
      '/readyz',
    ]);
    for (const d of ofKind('Deployment')) {
      expect(d.spec.template.spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
      });
      expect(d.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    }
  });
});

// ---------------------------------------------------------------- scripts/deploy

const STEPS = ['01-provision.sh', '02-deploy-schema.sh', '03-database-users.sh', '04-rollout.sh'];
const lib = read('scripts/deploy/lib.sh');

/** Functions of lib.sh: the DEPLOY_* variables each reads, itself or through the functions it calls. */
function libFunctions(): Map<string, Set<string>> {
  const bodies = new Map<string, string>();
  for (const m of lib.matchAll(/^(\w+)\(\) \{\n([\s\S]*?)^\}$/gm)) bodies.set(m[1]!, m[2]!);
  for (const m of lib.matchAll(/^(\w+)\(\) \{ (.*) \}$/gm)) bodies.set(m[1]!, m[2]!);
  const reads = (name: string, seen = new Set<string>()): Set<string> => {
    seen.add(name);
    const body = bodies.get(name)!;
    const vars = new Set([...body.matchAll(/DEPLOY_[A-Z_]+/g)].map((m) => m[0]));
    for (const other of bodies.keys()) {
      if (!seen.has(other) && new RegExp(`\\b${other}\\b`).test(body)) for (const v of reads(other, seen)) vars.add(v);
    }
    return vars;
  };
  return new Map([...bodies.keys()].map((f) => [f, reads(f)]));
}

describe('scripts/deploy', () => {
  it('has the four steps, in order, each naming the next', () => {
    const files = readdirSync(path.join(ROOT, 'scripts/deploy')).filter((f) => /^\d\d-.*\.sh$/.test(f));
    expect(files.sort()).toEqual(STEPS);
    STEPS.slice(0, -1).forEach((step, i) =>
      expect(read(`scripts/deploy/${step}`)).toContain(`next: scripts/deploy/${STEPS[i + 1]}`),
    );
  });

  it.each([...STEPS, 'lib.sh'])('%s is bash -n clean', (file) => {
    const res = spawnSync('bash', ['-n', path.join(ROOT, 'scripts/deploy', file)], { encoding: 'utf8' });
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it.each(STEPS)('%s sets -euo pipefail before it does anything', (file) => {
    const code = read(`scripts/deploy/${file}`)
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(code[0]).toBe('set -euo pipefail');
  });

  it.each(STEPS)('%s documents at its top every DEPLOY_ variable it reads, itself or through lib.sh', (file) => {
    const text = read(`scripts/deploy/${file}`);
    const header = text.slice(0, text.indexOf('set -euo pipefail'));
    const body = text.slice(text.indexOf('set -euo pipefail'));
    const fns = libFunctions();
    const used = new Set([...body.matchAll(/DEPLOY_[A-Z_]+/g)].map((m) => m[0]));
    for (const [fn, vars] of fns) if (new RegExp(`\\b${fn}\\b`).test(body)) for (const v of vars) used.add(v);
    const undocumented = [...used].filter((v) => !new RegExp(`^#\\s+(.*\\s)?${v}\\b`, 'm').test(header));
    expect(undocumented).toEqual([]);
  });

  it('passes main.bicep only parameters it declares, and reads only outputs it has', () => {
    const declared = params(bicep).map((p) => p.name);
    const passed = /--parameters stage=[\s\S]*?--only-show-errors/.exec(lib)![0];
    for (const m of passed.matchAll(/(\w+)="/g)) expect(declared).toContain(m[1]);
    const all = [lib, ...STEPS.map((s) => read(`scripts/deploy/${s}`))].join('\n');
    for (const m of all.matchAll(/output (\w+)\)/g)) expect(outputs).toContain(m[1]);
    for (const m of all.matchAll(/deployed_parameter (\w+)/g)) expect(declared).toContain(m[1]);
  });

  it('uses files that exist, and database roles that the migrations create', () => {
    for (const f of ['scripts/deploy-schema.sh', 'scripts/deploy/identity-users.sql', 'infra/docker/app-logins.sql']) {
      expect(existsSync(path.join(ROOT, f))).toBe(true);
    }
    const roles = read('sql/migrations/0003_roles.sql');
    for (const file of ['scripts/deploy/identity-users.sql', 'infra/docker/app-logins.sql']) {
      for (const m of read(file).matchAll(/\$\(Schema\)_(\w+)/g))
        expect(roles).toContain(`CREATE ROLE [$(Schema)_${m[1]}]`);
    }
  });

  it('gives the compose schema service only variables scripts/deploy-schema.sh reads', () => {
    const compose = parse(read('infra/docker/compose.yaml'), { merge: true }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    const script = read('scripts/deploy-schema.sh');
    const schemaEnv = Object.keys(compose.services.schema!.environment).filter((k) => k.startsWith('TASKFLEET_'));
    for (const name of schemaEnv) expect(script).toContain(`\${${name}:-`);
    expect(compose.services.schema!.environment.SQLCMDPASSWORD).toMatch(/^\$\{MSSQL_SA_PASSWORD/);
  });
});
