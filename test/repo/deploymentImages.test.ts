/**
 * The container images as files: infra/docker/supervisor.Dockerfile and worker.Dockerfile, .dockerignore, and the
 * HEALTHCHECK script infra/docker/healthcheck.js (run here against a real HTTP server and a fake /proc). No image is
 * built here (no Docker engine): README, Deployment, says how to build and check them.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WORKER_NODE_OPTIONS, workerEnv } from '../../src/cli/workerProcess';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    if (pending) {
      const [op, ...rest] = pending.split(/\s+/);
      out.push({ op: op!.toUpperCase(), args: rest.join(' ') });
    }
    pending = '';
  }
  return out;
}

function stages(file: string): { preamble: Instruction[]; stages: Stage[] } {
  const all = instructions(read(file));
  const preamble: Instruction[] = [];
  const result: Stage[] = [];
  for (const i of all) {
    if (i.op === 'FROM') {
      const m = /^(\S+) AS (\S+)$/.exec(i.args)!;
      result.push({ from: m[1]!, name: m[2]!, instructions: [] });
    } else if (result.length === 0) preamble.push(i);
    else result[result.length - 1]!.instructions.push(i);
  }
  return { preamble, stages: result };
}

const IMAGES = ['supervisor', 'worker'] as const;
const dockerfile = (image: string) => `infra/docker/${image}.Dockerfile`;
const ops = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op).map((i) => i.args);
const runtimeOf = (image: string) => stages(dockerfile(image)).stages.find((s) => s.name === 'runtime')!;
const buildOf = (image: string) => stages(dockerfile(image)).stages.find((s) => s.name === 'build')!;

describe('Dockerfiles', () => {
  it.each(IMAGES)('%s: two stages, build and runtime, on node:20-bookworm-slim', (image) => {
    const { preamble, stages: s } = stages(dockerfile(image));
    expect(preamble).toEqual([{ op: 'ARG', args: 'NODE_IMAGE=node:20-bookworm-slim' }]);
    expect(s.map((x) => [x.name, x.from])).toEqual([
      ['build', '${NODE_IMAGE}'],
      ['runtime', '${NODE_IMAGE}'],
    ]);
  });

  it('builds the supervisor and the worker with the same build stage', () => {
    expect(buildOf('worker')).toEqual(buildOf('supervisor'));
  });

  it('installs and builds as .ci/run does: npm ci, whose prepare script is the build, then prunes dev dependencies', () => {
    const ciInstall = /^npm ci .*$/m.exec(read('.ci/run'))![0];
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('npm run build');
    const runs = ops(buildOf('supervisor'), 'RUN');
    expect(runs).toContain(ciInstall);
    expect(runs.indexOf('npm prune --omit=dev --no-audit --no-fund')).toBe(runs.indexOf(ciInstall) + 1);
    // better-sqlite3 compiles from source when it has to.
    expect(runs.join('\n')).toMatch(/apt-get install -y --no-install-recommends python3 make g\+\+/);
  });

  it('copies into the build stage everything the build compiles, before npm ci', () => {
    const build = buildOf('supervisor');
    const copied = ops(build, 'COPY').flatMap((a) => a.split(' ').slice(0, -1));
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { include: string[]; extends: string };
    for (const need of [
      'package.json',
      'package-lock.json',
      'tsconfig.build.json',
      path.basename(tsconfig.extends),
      'bin',
    ]) {
      expect(copied).toContain(need);
    }
    for (const dir of tsconfig.include) expect(copied).toContain(dir);
    // Every project the build script compiles (the CLI, and the client's type declarations).
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const projects = [...pkg.scripts.build!.matchAll(/tsc -p (\S+)/g)].map((m) => m[1]);
    expect(projects.length).toBeGreaterThan(1);
    for (const project of projects) expect(copied).toContain(project);
    const firstRunAfterCopies = build.instructions.findIndex((i) => i.op === 'RUN' && i.args.startsWith('npm ci'));
    expect(build.instructions.slice(firstRunAfterCopies).some((i) => i.op === 'COPY')).toBe(false);
  });

  it.each(IMAGES)('%s: the runtime holds only dist/, bin/, production node_modules, package.json and sql/', (image) => {
    const runtime = runtimeOf(image);
    const fromBuild = ops(runtime, 'COPY')
      .filter((a) => a.startsWith('--from=build '))
      .map((a) => a.split(' ')[1]);
    expect(fromBuild.sort()).toEqual(['/src/bin', '/src/dist', '/src/node_modules', '/src/package.json', '/src/sql']);
    const fromContext = ops(runtime, 'COPY').filter((a) => !a.startsWith('--from='));
    expect(fromContext).toEqual(['infra/docker/healthcheck.js ./healthcheck.js']);
    expect(ops(runtime, 'RUN').join('\n')).not.toMatch(/\bnpm\b/);
  });

  it.each(IMAGES)('%s: runs as an unprivileged user, by number', (image) => {
    const users = ops(runtimeOf(image), 'USER');
    expect(users).toEqual(['1000:1000']);
  });

  it.each(IMAGES)('%s: tini is PID 1 and passes SIGTERM on', (image) => {
    const runtime = runtimeOf(image);
    expect(ops(runtime, 'RUN').join('\n')).toMatch(/apt-get install -y --no-install-recommends tini/);
    expect(ops(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(JSON.parse(ops(runtime, 'ENTRYPOINT')[0]!)).toEqual([
      '/usr/bin/tini',
      '--',
      'node',
      '/app/bin/taskfleet.js',
    ]);
  });

  it('starts workers with the V8 options every worker launcher uses, and leaves the supervisor at Node’s', () => {
    const env = (image: string) => ops(runtimeOf(image), 'ENV').filter((a) => a.startsWith('NODE_OPTIONS='));
    expect(env('worker')).toEqual([`NODE_OPTIONS=${WORKER_NODE_OPTIONS}`]);
    expect(env('supervisor')).toEqual([]);
  });

  it('adds the worker’s V8 options to NODE_OPTIONS unless the operator set the young generation', () => {
    expect(workerEnv({ A: '1' })).toEqual({ A: '1', NODE_OPTIONS: WORKER_NODE_OPTIONS });
    expect(workerEnv({ NODE_OPTIONS: '--enable-source-maps' }).NODE_OPTIONS).toBe(
      `--enable-source-maps ${WORKER_NODE_OPTIONS}`,
    );
    expect(workerEnv({ NODE_OPTIONS: '--max-semi-space-size=16' }).NODE_OPTIONS).toBe('--max-semi-space-size=16');
  });

  it.each(IMAGES)('%s: HEALTHCHECK runs healthcheck.js for its role', (image) => {
    const [check] = ops(runtimeOf(image), 'HEALTHCHECK');
    const m = /^(--\S+ )+CMD (\[.*\])$/.exec(check!)!;
    expect(JSON.parse(m[2]!)).toEqual(['node', '/app/healthcheck.js', image]);
  });

  it('exposes the supervisor on TASKFLEET_PORT, and nothing for a worker', () => {
    expect(ops(runtimeOf('supervisor'), 'EXPOSE')).toEqual(['8080']);
    expect(ops(runtimeOf('worker'), 'EXPOSE')).toEqual([]);
  });
});

// ---------------------------------------------------------------- .dockerignore

/** A .dockerignore pattern as a regular expression: `*` within a path segment, `**` across segments. */
function globToRegExp(pattern: string): RegExp {
  const escape = (t: string) => t.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const body = pattern
    .split('**')
    .map((part) => part.split('*').map(escape).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${body}(/.*)?$`);
}

/** Whether the build context keeps `file` (Docker's rules: the last matching pattern wins, `!` re-includes). */
function kept(patterns: string[], file: string): boolean {
  let keep = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    if (globToRegExp((negate ? raw.slice(1) : raw).replace(/\/$/, '')).test(file)) keep = negate;
  }
  return keep;
}

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps every file the Dockerfiles copy from the build context', () => {
    const sources = IMAGES.flatMap((image) =>
      stages(dockerfile(image)).stages.flatMap((s) =>
        ops(s, 'COPY')
          .filter((a) => !a.startsWith('--from='))
          .flatMap((a) => a.split(' ').slice(0, -1)),
      ),
    );
    const files = sources.flatMap((src) =>
      statSync(path.join(ROOT, src)).isDirectory()
        ? readdirSync(path.join(ROOT, src), { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
        : [src],
    );
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((f) => !kept(patterns, f))).toEqual([]);
  });

  it('leaves out secrets, local state and everything built on this machine', () => {
    for (const f of [
      '.env',
      'infra/docker/.env',
      'data/taskfleet.db',
      'node_modules/zod/package.json',
      'dist/src/cli/main.js',
      '.git/HEAD',
      'coverage/lcov.info',
      'test/repo/deployment.test.ts',
      'infra/azure/main.bicep',
      'scripts/deploy/01-provision.sh',
    ]) {
      expect({ f, kept: kept(patterns, f) }).toEqual({ f, kept: false });
    }
  });
});

// ---------------------------------------------------------------- healthcheck.js

// eslint-disable-next-line @typescript-eslint/no-require-imports
const healthcheck = require('../../infra/docker/healthcheck.js') as {
  check: (kind: string, env?: NodeJS.ProcessEnv, proc?: string) => Promise<string | null>;
};

describe('healthcheck.js supervisor', () => {
  let server: http.Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is healthy when GET /healthz on TASKFLEET_PORT answers 200', async () => {
    status = 200;
    expect(await healthcheck.check('supervisor', { TASKFLEET_PORT: String(port) })).toBeNull();
  });

  it('is unhealthy on any other answer, and when nothing listens', async () => {
    status = 503;
    expect(await healthcheck.check('supervisor', { TASKFLEET_PORT: String(port) })).toMatch(/answered 503/);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await healthcheck.check('supervisor', { TASKFLEET_PORT: String(free) })).toMatch(/ECONNREFUSED/);
  });
});

describe('healthcheck.js worker', () => {
  let proc: string;
  const addProcess = (pid: number, argv: string[], state: string) => {
    mkdirSync(path.join(proc, String(pid)));
    writeFileSync(path.join(proc, String(pid), 'cmdline'), argv.join('\0') + '\0');
    writeFileSync(path.join(proc, String(pid), 'stat'), `${pid} (node) ${state} 1 1 1 0 -1 4194560`);
  };
  beforeEach(() => {
    proc = mkdtempSync(path.join(os.tmpdir(), 'tf-proc-'));
    mkdirSync(path.join(proc, 'self'));
    addProcess(1, ['/usr/bin/tini', '--', 'node', '/app/bin/taskfleet.js', 'worker', '--concurrency', '8'], 'S');
  });
  afterEach(() => rmSync(proc, { recursive: true, force: true }));

  it('is healthy while a taskfleet worker process runs or sleeps', async () => {
    addProcess(7, ['node', '/app/bin/taskfleet.js', 'worker', '--concurrency', '8'], 'S');
    expect(await healthcheck.check('worker', {}, proc)).toBeNull();
  });

  it('is unhealthy when the worker is stopped or a zombie, or missing', async () => {
    addProcess(7, ['node', '/app/bin/taskfleet.js', 'worker'], 'Z');
    expect(await healthcheck.check('worker', {}, proc)).toMatch(/stopped or dead/);
    rmSync(path.join(proc, '7'), { recursive: true });
    addProcess(7, ['node', '/app/bin/taskfleet.js', 'worker'], 'T');
    expect(await healthcheck.check('worker', {}, proc)).toMatch(/stopped or dead/);
    rmSync(path.join(proc, '7'), { recursive: true });
    addProcess(9, ['node', '/app/healthcheck.js', 'worker'], 'R'); // the check itself does not count
    expect(await healthcheck.check('worker', {}, proc)).toBe('no taskfleet worker process');
  });

  it('refuses an unknown kind', async () => {
    expect(await healthcheck.check('database')).toMatch(/usage/);
  });
});
