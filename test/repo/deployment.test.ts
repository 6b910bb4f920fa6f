/**
 * The deployment definitions against the code they run: infra/docker/compose.yaml, infra/azure/main.bicep
 * (+ modules/worker-app.bicep and main.parameters.json) and infra/k8s/ (kustomize).
 *
 * - Every variable src/config/config.ts reads is set for the supervisor and the workers on each platform, or is on
 *   the allow-lists below with the reason it may be left out; nothing else named TASKFLEET_* is set (the process
 *   would refuse it), and the values set pass loadConfig.
 * - Secrets are never literals: interpolated from .env (compose), Key Vault references (Container Apps secretRef,
 *   kv:// on Kubernetes). Workers never get the admin key.
 * - A worker's drain fits inside the platform's grace period.
 * - The container commands are the CLI commands the test suite itself runs (`taskfleet supervisor`, `taskfleet
 *   worker …`), and the real CLI accepts each of them (it parses them with `--help`, which starts nothing).
 *
 * Nothing here runs Docker, Azure or Kubernetes: those are checked by hand (README, Deployment).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig, SECRET_VARIABLES } from '../../src/config/config';
import { findReferences } from '../../src/config/keyVault';
import { generateApiKey } from '../../src/security/apiKeys';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

type Platform = 'compose' | 'azure' | 'k8s';
type Role = 'supervisor' | 'worker';
/** A variable as a definition sets it: a literal, or where its value comes from (not known here). */
type Setting =
  { kind: 'literal'; value: string } | { kind: 'secretRef'; ref: string } | { kind: 'expression'; text: string };
interface Definition {
  platform: Platform;
  role: Role;
  name: string;
  env: Map<string, Setting>;
  /** The CLI arguments after `taskfleet`. */
  args: string[];
  /** Seconds between SIGTERM and SIGKILL. */
  graceSeconds: number;
}

// ---------------------------------------------------------------- the allow-lists

/** Variables no fleet process needs on any platform. */
const OPTIONAL: Record<string, string> = {
  TASKFLEET_SQLITE_PATH: 'the embedded store; every deployment runs TASKFLEET_STORE=mssql',
  TASKFLEET_SQLITE_SYNCHRONOUS: 'the embedded store; every deployment runs TASKFLEET_STORE=mssql',
  TASKFLEET_MSSQL_CONNECTION_STRING: 'an alternative to the discrete TASKFLEET_MSSQL_* variables, which are set',
  TASKFLEET_TELEMETRY_FILE: 'local debugging: appends every telemetry item to a file; deployments send to Azure',
  TASKFLEET_URL: 'read only by the client commands (taskfleet submit, status), not by a supervisor or a worker',
  TASKFLEET_API_KEY: 'the key the client commands send; no fleet process reads it',
  TASKFLEET_CHECKSUM_ROOT: "unset, the checksum handler reads under the worker image's working directory (/app)",
  TASKFLEET_WEBHOOK_ALLOW_HOSTS:
    'unset on purpose: deployed webhooks reach public https receivers only (the SSRF rule)',
  TASKFLEET_WEBHOOK_RETRY_HOURS: 'the default, about 24 hours of retries, is what the deployments want',
};

const BY_PLATFORM: Record<Platform, Record<string, string>> = {
  compose: {
    TASKFLEET_AZURE_CLIENT_ID: 'no Azure in the local stack: SQL logins, no managed identity',
    TASKFLEET_KEY_VAULT_URL: 'no Azure in the local stack: the secrets come from infra/docker/.env',
    TASKFLEET_POOLS: 'the local stack runs its one worker service always: no pool scales to zero',
  },
  azure: {
    TASKFLEET_MSSQL_USER: 'SQL authentication; the server is Entra-only (TASKFLEET_MSSQL_AUTH=entra)',
    TASKFLEET_MSSQL_PASSWORD: 'SQL authentication; the server is Entra-only (TASKFLEET_MSSQL_AUTH=entra)',
  },
  k8s: {
    TASKFLEET_MSSQL_USER: 'SQL authentication; Entra ID through workload identity instead',
    TASKFLEET_MSSQL_PASSWORD: 'SQL authentication; Entra ID through workload identity instead',
    TASKFLEET_AZURE_CLIENT_ID:
      'workload identity: its webhook sets AZURE_CLIENT_ID and DefaultAzureCredential (the default) uses it',
  },
};

const BY_ROLE: Record<Role, Record<string, string>> = {
  supervisor: {},
  worker: {
    TASKFLEET_PORT: 'a worker serves no HTTP',
    TASKFLEET_HOST: 'a worker serves no HTTP',
    TASKFLEET_STALL_AFTER_MS: "read only by the supervisor's stall watch",
    TASKFLEET_SCHEDULER_INTERVAL_MS: "read only by the supervisor's scheduler",
    TASKFLEET_POOLS: 'read only by the supervisor, which declares the pools at start',
    TASKFLEET_ADMIN_API_KEY: 'never given to a worker (workers run task handlers): checked below',
  },
};

/** Values that may come from a secret store only, never from the definition itself. */
const SECRETS: readonly string[] = [...SECRET_VARIABLES, 'APPLICATIONINSIGHTS_CONNECTION_STRING'];
/** Variables that may differ between the supervisor and the workers of one deployment. */
const PER_ROLE = [
  'TASKFLEET_MSSQL_POOL_MAX',
  'TASKFLEET_AZURE_CLIENT_ID',
  'TASKFLEET_MSSQL_USER',
  'TASKFLEET_MSSQL_PASSWORD',
];
/** Seconds a worker needs after its drain: hand back what is left, mark the agent stopped, flush telemetry. */
const AFTER_DRAIN_SECONDS = 5;

// ---------------------------------------------------------------- loaders

function seconds(text: string): number {
  const m = /^(\d+)(s|m)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function composeDefinitions(): Definition[] {
  const doc = parse(read('infra/docker/compose.yaml'), { merge: true }) as {
    services: Record<string, { environment: Record<string, string>; command?: string[]; stop_grace_period: string }>;
  };
  const cmd = (file: string) => JSON.parse(/^CMD (\[.*\])$/m.exec(read(file))![1]!) as string[];
  return (['supervisor', 'worker'] as const).map((role) => {
    const svc = doc.services[role]!;
    const env = new Map<string, Setting>(
      Object.entries(svc.environment).map(([k, v]): [string, Setting] => [
        k,
        /\$\{/.test(String(v)) ? { kind: 'secretRef', ref: String(v) } : { kind: 'literal', value: String(v) },
      ]),
    );
    const args = svc.command ?? cmd(`infra/docker/${role}.Dockerfile`);
    return { platform: 'compose', role, name: role, env, args, graceSeconds: seconds(svc.stop_grace_period) };
  });
}

/** The `{ name: 'X', value|secretRef: … }` lines of `var <name> = [ … ]` in a Bicep file. */
function bicepEnvBlock(text: string, variable: string): Map<string, Setting> {
  const start = text.indexOf(`var ${variable} = [\n`);
  if (start < 0) throw new Error(`no var ${variable} in main.bicep`);
  const block = text.slice(start, text.indexOf('\n]\n', start));
  const env = new Map<string, Setting>();
  for (const m of block.matchAll(/^\s*\{ name: '([A-Z0-9_]+)', (value|secretRef): (.+) \}$/gm)) {
    const [, name, kind, raw] = m as unknown as [string, string, string, string];
    const literal = /^'([^'$]*)'$/.exec(raw);
    env.set(
      name,
      kind === 'secretRef'
        ? { kind: 'secretRef', ref: raw }
        : literal
          ? { kind: 'literal', value: literal[1]! }
          : { kind: 'expression', text: raw },
    );
  }
  return env;
}

const bicep = read('infra/azure/main.bicep');
const workerModule = read('infra/azure/modules/worker-app.bicep');
const bicepParameters = JSON.parse(read('infra/azure/main.parameters.json')) as {
  parameters: Record<string, { value: unknown }>;
};
interface Pool {
  name: string;
  capabilities: string;
  types: string;
  concurrency: number;
  minReplicas: number;
  maxReplicas: number;
}
const pools = bicepParameters.parameters.workerPools!.value as Pool[];

function bicepInt(name: string): number {
  return Number(new RegExp(`^var ${name} = (\\d+)$`, 'm').exec(bicep)![1]);
}

function azureDefinitions(): Definition[] {
  const common = bicepEnvBlock(bicep, 'commonEnv');
  const grace = bicepInt('terminationGracePeriodSeconds');
  const supervisor: Definition = {
    platform: 'azure',
    role: 'supervisor',
    name: 'supervisor',
    env: new Map([...common, ...bicepEnvBlock(bicep, 'supervisorEnv')]),
    args: JSON.parse(/args: (\['supervisor'\])/.exec(bicep)![1]!.replace(/'/g, '"')) as string[],
    graceSeconds: grace,
  };
  // The worker module builds `args: concat(workerArgs, capabilityArgs)` from these two lines (checked here).
  expect(workerModule).toContain("var workerArgs = ['worker', '--concurrency', string(pool.concurrency)]");
  expect(workerModule).toContain(
    "var capabilityArgs = empty(pool.capabilities) ? [] : ['--capabilities', pool.capabilities]",
  );
  const workers = pools.map((pool): Definition => ({
    platform: 'azure',
    role: 'worker',
    name: `worker-${pool.name}`,
    env: new Map([...common, ...bicepEnvBlock(bicep, 'workerEnv')]),
    args: [
      'worker',
      '--concurrency',
      String(pool.concurrency),
      ...(pool.capabilities ? ['--capabilities', pool.capabilities] : []),
    ],
    graceSeconds: grace,
  }));
  return [supervisor, ...workers];
}

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
}
const K8S = 'infra/k8s';
const kustomization = parse(read(`${K8S}/kustomization.yaml`)) as {
  resources: string[];
  configMapGenerator: Array<{ name: string; envs: string[] }>;
};
const k8sObjects: K8sObject[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(`${K8S}/${file}`)).map((d) => d.toJS() as K8sObject),
);

function envFile(file: string): Map<string, string> {
  return new Map(
    read(file)
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l): [string, string] => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function k8sDefinitions(): Definition[] {
  const configMaps = new Map(
    kustomization.configMapGenerator.map((g) => [g.name, new Map(g.envs.flatMap((f) => [...envFile(`${K8S}/${f}`)]))]),
  );
  return k8sObjects
    .filter((o) => o.kind === 'Deployment')
    .map((d) => {
      const pod = d.spec.template.spec;
      const [container] = pod.containers as Array<{
        args: string[];
        env?: Array<{ name: string; value: string }>;
        envFrom?: Array<{ configMapRef: { name: string } }>;
      }>;
      const env = new Map<string, Setting>();
      for (const from of container!.envFrom ?? []) {
        for (const [k, v] of configMaps.get(from.configMapRef.name)!) env.set(k, k8sSetting(v));
      }
      for (const e of container!.env ?? []) env.set(e.name, k8sSetting(e.value));
      const role = d.metadata.labels!['app.kubernetes.io/component'] as Role;
      return {
        platform: 'k8s',
        role,
        name: d.metadata.name,
        env,
        args: container!.args,
        graceSeconds: pod.terminationGracePeriodSeconds,
      };
    });
}

function k8sSetting(value: string): Setting {
  return value.startsWith('kv://') ? { kind: 'secretRef', ref: value } : { kind: 'literal', value };
}

const definitions: Definition[] = [...composeDefinitions(), ...azureDefinitions(), ...k8sDefinitions()];
const label = (d: Definition) => `${d.platform}/${d.name}`;

/** What a value from a secret store or an Azure expression might be, so that loadConfig can judge the rest. */
function stand_in(name: string, setting: Setting): string {
  if (setting.kind === 'literal') return setting.value;
  if (setting.kind === 'expression' && /^string\((\w+)\)$/.test(setting.text)) {
    return String(bicepInt(/^string\((\w+)\)$/.exec(setting.text)![1]!));
  }
  if (setting.kind === 'secretRef' && /^\$\{\w+:-\}$/.test(setting.ref)) return ''; // optional, empty by default
  const examples: Record<string, string> = {
    TASKFLEET_MSSQL_SERVER: 'sql-example.database.windows.net',
    TASKFLEET_MSSQL_DATABASE: 'taskfleet',
    TASKFLEET_MSSQL_SCHEMA: 'taskfleet',
    TASKFLEET_KEY_VAULT_URL: 'https://kv-example.vault.azure.net/',
    TASKFLEET_AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000000',
    TASKFLEET_REDIS_URL: 'rediss://:key@redis-example.westeurope.redis.azure.net:10000',
    TASKFLEET_ADMIN_API_KEY: generateApiKey(),
    TASKFLEET_MSSQL_PASSWORD: 'Example-Passw0rd',
    APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000',
    TASKFLEET_DATA_KEY: `k1:${Buffer.alloc(32).toString('base64')}`,
    // The parameter's value as deployed, so that loadConfig judges the pool keys of main.parameters.json.
    TASKFLEET_POOLS: String(JSON.parse(read('infra/azure/main.parameters.json')).parameters.declaredPools.value),
  };
  const example = examples[name];
  if (example === undefined) throw new Error(`no stand-in for ${name} (${JSON.stringify(setting)})`);
  return example;
}

// ---------------------------------------------------------------- tests

describe('deployment definitions: environment', () => {
  it('finds the supervisor and the workers of every platform', () => {
    for (const platform of ['compose', 'azure', 'k8s'] as const) {
      const roles = definitions.filter((d) => d.platform === platform).map((d) => d.role);
      expect({ platform, roles: [...new Set(roles)].sort() }).toEqual({ platform, roles: ['supervisor', 'worker'] });
    }
    expect(definitions.filter((d) => d.platform === 'azure' && d.role === 'worker')).toHaveLength(pools.length);
  });

  it('keeps the allow-lists to variables config.ts reads', () => {
    const listed = [OPTIONAL, ...Object.values(BY_PLATFORM), ...Object.values(BY_ROLE)].flatMap((l) => Object.keys(l));
    for (const name of listed) expect({ name, read: CONFIG_VARIABLES.includes(name) }).toEqual({ name, read: true });
  });

  it.each(definitions.map((d) => [label(d), d] as const))(
    '%s sets every variable config.ts reads, or it is allowed to leave it out',
    (_, d) => {
      const allowed = { ...OPTIONAL, ...BY_PLATFORM[d.platform], ...BY_ROLE[d.role] };
      const missing = CONFIG_VARIABLES.filter((v) => !d.env.has(v) && !(v in allowed));
      expect(missing).toEqual([]);
    },
  );

  it.each(definitions.map((d) => [label(d), d] as const))(
    '%s sets no variable config.ts does not read (the process would refuse to start)',
    (_, d) => {
      const unknown = [...d.env.keys()].filter((k) => !CONFIG_VARIABLES.includes(k));
      expect(unknown).toEqual([]);
    },
  );

  it.each(definitions.map((d) => [label(d), d] as const))('%s: its values pass loadConfig', (_, d) => {
    const env = Object.fromEntries([...d.env].map(([k, s]) => [k, stand_in(k, s)]));
    const config = loadConfig(env);
    expect(config.store).toBe('mssql');
    expect(config.logFormat).toBe('json');
  });

  it.each(definitions.map((d) => [label(d), d] as const))('%s takes every secret from a secret store', (_, d) => {
    for (const name of SECRETS) {
      const s = d.env.get(name);
      if (s === undefined) continue;
      expect({ name, kind: s.kind }).toEqual({ name, kind: 'secretRef' });
    }
    // The Redis URL holds the access key on Azure: a literal may only be a URL without a password.
    const redis = d.env.get('TASKFLEET_REDIS_URL')!;
    if (redis.kind === 'literal') expect(new URL(redis.value).password).toBe('');
    else expect(redis.kind).toBe('secretRef');
  });

  it('gives no worker the admin key, and every supervisor one', () => {
    for (const d of definitions) {
      expect({ def: label(d), hasAdminKey: d.env.has('TASKFLEET_ADMIN_API_KEY') }).toEqual({
        def: label(d),
        hasAdminKey: d.role === 'supervisor',
      });
    }
  });

  it('reads secrets from Key Vault by well-formed references (Kubernetes: kv://, checked by the resolver)', () => {
    for (const d of definitions.filter((x) => x.platform === 'k8s')) {
      const env = Object.fromEntries(
        [...d.env].filter(([, s]) => s.kind === 'secretRef').map(([k, s]) => [k, (s as { ref: string }).ref]),
      );
      const refs = findReferences(env, CONFIG_VARIABLES);
      expect(refs.map((r) => r.variable).sort()).toEqual(Object.keys(env).sort());
    }
    const names = (block: string) => [...bicep.matchAll(new RegExp(`var ${block} = \\[([^\\]]*)\\]`, 'g'))][0]![1]!;
    for (const d of definitions.filter((x) => x.platform === 'azure')) {
      const appSecrets = names(d.role === 'supervisor' ? 'supervisorSecrets' : 'workerSecrets');
      for (const s of d.env.values()) {
        if (s.kind === 'secretRef') expect(appSecrets).toContain(s.ref);
      }
    }
  });

  it('lets the supervisor and the workers of a deployment agree on every shared setting', () => {
    for (const platform of ['compose', 'azure', 'k8s'] as const) {
      const defs = definitions.filter((d) => d.platform === platform);
      const sup = defs.find((d) => d.role === 'supervisor')!;
      for (const w of defs.filter((d) => d.role === 'worker')) {
        for (const [name, s] of w.env) {
          if (PER_ROLE.includes(name) || !sup.env.has(name)) continue;
          expect({ def: label(w), name, setting: s }).toEqual({ def: label(w), name, setting: sup.env.get(name) });
        }
      }
    }
  });

  it.each(definitions.filter((d) => d.role === 'worker').map((d) => [label(d), d] as const))(
    "%s drains within the platform's grace period",
    (_, d) => {
      const drainMs = Number(stand_in('TASKFLEET_DRAIN_TIMEOUT_MS', d.env.get('TASKFLEET_DRAIN_TIMEOUT_MS')!));
      expect(drainMs / 1000 + AFTER_DRAIN_SECONDS).toBeLessThanOrEqual(d.graceSeconds);
    },
  );
});

describe('deployment definitions: container commands', () => {
  const BIN = path.join(ROOT, 'bin', 'taskfleet.js');

  it('start the CLI of package.json, the same file the test suite spawns', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(path.normalize(pkg.bin.taskfleet!)).toBe(path.join('bin', 'taskfleet.js'));
    for (const image of ['supervisor', 'worker']) {
      const entrypoint = JSON.parse(
        /^ENTRYPOINT (\[.*\])$/m.exec(read(`infra/docker/${image}.Dockerfile`))![1]!,
      ) as string[];
      // tini as PID 1, then node on /app/bin/taskfleet.js: the runtime stage copies bin/ to /app/bin.
      expect(entrypoint).toEqual(['/usr/bin/tini', '--', 'node', '/app/bin/taskfleet.js']);
    }
    expect(read('test/helpers/fleet.ts')).toMatch(/BIN = path\.join\(ROOT, 'bin', 'taskfleet\.js'\)/);
  });

  it('are the subcommands the test suite runs as processes: taskfleet supervisor and taskfleet worker', () => {
    // test/helpers/fleet.ts spawns `node bin/taskfleet.js worker --id … --concurrency …`, and
    // test/helpers/chaos.ts `… supervisor`: the suite exercises exactly these entry points.
    const helpers = readdirSync(path.join(ROOT, 'test/helpers'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(`test/helpers/${f}`))
      .join('\n');
    expect(helpers).toContain("[BIN, 'worker', '--id', o.id, '--concurrency'");
    expect(helpers).toMatch(/\(\w+, \['supervisor'\]/);
    for (const d of definitions)
      expect({ def: label(d), command: d.args[0] }).toEqual({ def: label(d), command: d.role });
  });

  // Every command a definition runs, and the images' default commands (CMD), once each.
  const images = ['supervisor', 'worker'].map(
    (i) => JSON.parse(/^CMD (\[.*\])$/m.exec(read(`infra/docker/${i}.Dockerfile`))![1]!) as string[],
  );
  const commands = [...new Map([...definitions.map((d) => d.args), ...images].map((a) => [a.join(' '), a])).values()];

  it.each(commands.map((args) => [args.join(' '), args] as const))('the CLI accepts `taskfleet %s`', (_, args) => {
    // `--help` makes the CLI parse the command and its options (with their validators) and start nothing.
    expect(existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))).toBe(true); // `npm test` builds first
    const res = spawnSync(process.execPath, [BIN, ...args, '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout).toMatch(new RegExp(`^Usage: taskfleet ${args[0]} \\[options\\]`));
    for (const flag of args.filter((a) => a.startsWith('--'))) expect(res.stdout).toContain(flag);
  });
});
