/**
 * `taskfleet dev`: a supervisor (in this process) and three worker processes with different capability
 * sets, on the embedded SQLite store, with human-readable logs. Ctrl-C stops everything.
 *
 * Without TASKFLEET_ADMIN_API_KEY it makes a bootstrap admin key for this session only (never stored),
 * gives it to its own supervisor and to nothing else (the workers talk to the store, not the API, and
 * their environment has no key), and prints it in the banner so that the quick start works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { workerEnv } from './workerProcess';
import path from 'node:path';
import type { Logger } from 'pino';
import { configToEnv, dataKeyEnv, withoutSecrets, type Config } from '../config/config';
import { generateApiKey } from '../security/apiKeys';
import { buildSupervisor, type Supervisor } from '../supervisor/supervisor';
import { PACKAGE_ROOT } from '../version';
import { processLogger } from './main';
import { ensureRedis } from './redisBootstrap';

export const DEV_WORKERS = [
  { id: 'worker-general', capabilities: [] as string[], concurrency: 8 },
  { id: 'worker-files', capabilities: ['fs'], concurrency: 4 },
  { id: 'worker-gpu', capabilities: ['gpu', 'cuda'], concurrency: 2 },
];

type DevRedis = Awaited<ReturnType<typeof ensureRedis>>;

function devConfig(base: Config, redisUrl: string): Config {
  return {
    ...base,
    redisUrl,
    logFormat: process.env.TASKFLEET_LOG_FORMAT ? base.logFormat : 'pretty',
    sqlitePath: path.resolve(base.sqlitePath),
    adminApiKey: base.adminApiKey ?? generateApiKey(),
  };
}

function startDevWorkers(env: NodeJS.ProcessEnv): ChildProcess[] {
  const bin = path.join(PACKAGE_ROOT, 'bin', 'taskfleet.js');
  return DEV_WORKERS.map((worker) =>
    spawn(
      process.execPath,
      [
        bin,
        'worker',
        '--id',
        worker.id,
        '--concurrency',
        String(worker.concurrency),
        ...(worker.capabilities.length ? ['--capabilities', worker.capabilities.join(',')] : []),
      ],
      { env: workerEnv(env), stdio: ['ignore', 'inherit', 'inherit'] },
    ),
  );
}

interface BannerFacts {
  url: string;
  sqlitePath: string;
  redisUrl: string;
  workers: boolean;
  /** The admin key made for this session, or null when it came from TASKFLEET_ADMIN_API_KEY. */
  sessionKey: string | null;
}

function banner({ url, sqlitePath, redisUrl, workers, sessionKey }: BannerFacts): string {
  return [
    '',
    `taskfleet dev: the API listens on ${url}  (store: ${sqlitePath}, Redis: ${redisUrl})`,
    `  workers: ${workers ? DEV_WORKERS.map((w) => `${w.id} [${w.capabilities.join(',') || 'no capabilities'}]`).join(', ') : 'none'}`,
    sessionKey === null
      ? '  API key: the admin key in TASKFLEET_ADMIN_API_KEY (export TASKFLEET_API_KEY=$TASKFLEET_ADMIN_API_KEY)'
      : '  API key: an admin key for this session only (not stored; a new one at each start):',
    ...(sessionKey === null ? [] : [`        export TASKFLEET_API_KEY=${sessionKey}`]),
    `  try:  curl -s -X POST ${url}/v1/tasks -H "Authorization: Bearer $TASKFLEET_API_KEY" -H 'content-type: application/json' -d '{"type":"echo","payload":{"hello":"world"}}'`,
    `        curl -s ${url}/v1/agents -H "Authorization: Bearer $TASKFLEET_API_KEY"`,
    `        TASKFLEET_URL=${url} npx taskfleet status`,
    '        npx taskfleet keys create --role submitter --name my-app   # a lasting key, in the store',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/** On SIGINT or SIGTERM: the workers drain first, then the supervisor and the private Redis stop. */
function stopOnSignal(children: ChildProcess[], supervisor: Supervisor, redis: DevRedis, log: Logger): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: draining workers, then the supervisor');
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await supervisor.stop();
    await redis.private?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

export async function runDev(base: Config, options: { workers: boolean }): Promise<void> {
  const redis = await ensureRedis(base.redisUrl);
  const config = devConfig(base, redis.url);
  const sessionKey = base.adminApiKey === null ? config.adminApiKey : null;
  const log = processLogger(config, 'dev');
  if (redis.private)
    log.info({ url: redis.url }, 'no Redis answered at the configured URL: started a private redis-server');

  let supervisor: Supervisor;
  try {
    supervisor = await buildSupervisor(config, { log: log.child({ name: 'supervisor' }) });
  } catch (err) {
    await redis.private?.stop();
    throw err;
  }
  // The workers need the data key (they open the sensitive tasks they claim), never the admin key.
  const env = {
    ...withoutSecrets(process.env),
    ...configToEnv({ ...config, apiUrl: supervisor.url }),
    ...dataKeyEnv(config),
  };
  const children = options.workers ? startDevWorkers(env) : [];
  const { url } = supervisor;
  console.log(
    banner({ url, sqlitePath: config.sqlitePath, redisUrl: redis.url, workers: options.workers, sessionKey }),
  );
  stopOnSignal(children, supervisor, redis, log);
}
