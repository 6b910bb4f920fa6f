import { Command, InvalidArgumentError, Option } from 'commander';
import type { Config } from '../config/config';
import { resolveConfig } from '../config/resolve';
import { parseCapabilityList } from '../domain/capabilities';
import { ValidationError } from '../domain/errors';
import { ROLES } from '../domain/security';
import { createLogger } from '../telemetry/logger';
import { VERSION } from '../version';
import { isEnvName, parseExecSpec, type ExecSpec } from '../../workers/handlers/commandLine';
import type { AgentsSetOptions } from './agents';
import type { BenchOptions } from './bench';
import type { SubmitOptions } from './client';
import type { KeysCreateOptions } from './keys';
import type { SchedulesCreateOptions } from './schedules';
import { addWorkflowCommands } from './workflowCommands';

// Each command loads its own modules when it runs (a worker process does not need express, the supervisor, the
// SQL Server driver or the Azure SDK: loading every command's modules cost each worker about 20 MiB of memory).
const commands = {
  agents: () => import('./agents'),
  bench: () => import('./bench'),
  client: () => import('./client'),
  db: () => import('./db'),
  dev: () => import('./dev'),
  keys: () => import('./keys'),
  pools: () => import('./pools'),
  processes: () => import('./processes'),
  routes: () => import('./routes'),
  schedules: () => import('./schedules'),
};

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

const capabilityList = (value: string) => {
  try {
    return parseCapabilityList(value, '--capabilities');
  } catch (err) {
    throw new InvalidArgumentError(
      err instanceof ValidationError ? err.issues.map((i) => i.message).join('; ') : String(err),
    );
  }
};

const nonNegativeInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return n;
};

/** Collects repeated `--exec <type>=<command>`, each type once. */
const execSpecs = (value: string, previous: ExecSpec[]): ExecSpec[] => {
  let spec: ExecSpec;
  try {
    spec = parseExecSpec(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  if (previous.some((s) => s.type === spec.type)) throw new InvalidArgumentError(`${spec.type} is given twice`);
  return [...previous, spec];
};

const envNames = (value: string, previous: string[]): string[] => {
  if (!isEnvName(value)) throw new InvalidArgumentError(`"${value}" is not an environment variable name`);
  return [...previous, value];
};

export interface WorkerOptions {
  capabilities: string[];
  concurrency: number;
  id?: string;
  handlers?: string[];
  exec: ExecSpec[];
  execEnv: string[];
  execKillGrace: number;
}

/** The configuration, read on first use: `--help` and a bad option must not need a valid environment. */
export type GetConfig = () => Promise<Config>;

function addProcessCommands(program: Command, getConfig: GetConfig): void {
  program
    .command('supervisor')
    .description('serve the HTTP API and run the background loops (reconciler, lease reaper)')
    .action(async () => (await commands.processes()).runSupervisor(await getConfig()));

  program
    .command('worker')
    .description('register as an agent and run the tasks this worker is capable of')
    .option('-c, --capabilities <list>', 'comma-separated capabilities', capabilityList, [] as string[])
    .option('-n, --concurrency <n>', 'tasks run at once', positiveInt('--concurrency'), 4)
    .option('--id <name>', 'agent id (default: host-pid-random)')
    .option('--handlers <modules...>', 'extra handler modules (each exports a handler or an array of handlers)')
    .option(
      '--exec <type=command>',
      'run a program per task of <type>: payload on stdin, result on stdout, exit 3 = permanent (repeatable)',
      execSpecs,
      [] as ExecSpec[],
    )
    .option('--exec-env <name>', 'pass this variable on to the --exec programs (repeatable)', envNames, [] as string[])
    .option(
      '--exec-kill-grace <ms>',
      'between SIGTERM and SIGKILL when an --exec program is stopped',
      nonNegativeInt('--exec-kill-grace'),
      5000,
    )
    .action(async (options: WorkerOptions) => (await commands.processes()).runWorker(await getConfig(), options));

  program
    .command('dev')
    .description('a supervisor and three workers on the embedded store, in one command (Ctrl-C stops all)')
    .option('--no-workers', 'start the supervisor only')
    .action(async (options: { workers: boolean }) => (await commands.dev()).runDev(await getConfig(), options));
}

function addClientCommands(program: Command, getConfig: GetConfig): void {
  program
    .command('submit')
    .description('submit a task and print it')
    .argument('<type>', 'task type, e.g. echo')
    .option('-p, --payload <json>', 'JSON payload', '{}')
    .option('-c, --capabilities <list>', 'required capabilities', capabilityList, [] as string[])
    .addOption(new Option('--priority <p>', 'priority').choices(['low', 'normal', 'high', 'critical']))
    .option('--max-attempts <n>', 'attempts before dead', positiveInt('--max-attempts'))
    .option('--timeout <s>', 'handler time limit in seconds', Number)
    .option('--delay <s>', 'seconds before it may start', Number)
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .option('--sensitive', 'store the payload and result encrypted (needs TASKFLEET_DATA_KEY on the fleet)')
    .option('-w, --wait', 'wait until the task ends and print its final state')
    .action(async (type: string, options: SubmitOptions) =>
      (await commands.client()).runSubmit(await getConfig(), type, options),
    );

  program
    .command('status')
    .description('show a task (with its events), or the fleet: agents and recent tasks')
    .argument('[taskId]')
    .action(async (taskId?: string) => (await commands.client()).runStatus(await getConfig(), taskId));

  program
    .command('logs')
    .description("print a task's log lines (ctx.log) of one attempt, by default the latest")
    .argument('<taskId>')
    .option('-a, --attempt <n>', 'the attempt (1 is the first)', positiveInt('--attempt'))
    .option('--json', 'print JSON')
    .action(async (taskId: string, options: { attempt?: number; json?: boolean }) =>
      (await commands.client()).runLogs(await getConfig(), taskId, options),
    );
}

const typeList = (value: string) => typeListOf(value, '--types');

function typeListOf(value: string, name: string): string[] {
  try {
    return parseCapabilityList(value, name);
  } catch (err) {
    throw new InvalidArgumentError(
      err instanceof ValidationError ? err.issues.map((i) => i.message).join('; ') : String(err),
    );
  }
}

function addPoolsCommands(program: Command, getConfig: GetConfig): void {
  const pools = program
    .command('pools')
    .description('worker pools (a capability set and handler types), learned from workers or declared');
  pools
    .command('list')
    .description('every pool: key, workers, slots, running, backlog, declared or learned')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => (await commands.pools()).runPoolsList(await getConfig(), options));
  pools
    .command('declare')
    .description('declare a pool (admin), so its tasks are routable while it has no worker (scaled to zero)')
    .option('-c, --capabilities <list>', "the workers' capabilities", capabilityList, [] as string[])
    .requiredOption('-t, --types <list>', "the workers' handler types, e.g. checksum,echo,sleep", typeList)
    .option('--note <text>', 'why the pool exists (shown in the list)')
    .action(async (options: { capabilities: string[]; types: string[]; note?: string }) =>
      (await commands.pools()).runPoolsDeclare(await getConfig(), options),
    );
  pools
    .command('remove')
    .description('remove a declared pool by its key (admin); its workers, if any, keep running')
    .argument('<key>', 'the pool key, e.g. checksum+echo~fs')
    .action(async (key: string) => (await commands.pools()).runPoolsRemove(await getConfig(), key));
}

const concurrencyArg = (value: string): number | 'own' => {
  if (value === 'own') return 'own';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('a whole number 1 to 1000, or own');
  return n;
};

const collect = (name: string) => (value: string, previous: string[]) => [...previous, ...typeListOf(value, name)];

function addAgentsCommands(program: Command, getConfig: GetConfig): void {
  const agents = program.command('agents').description('the fleet: workers and HTTP agents, and their settings');
  agents
    .command('list')
    .description('every agent: state, slots (applied, and asked), types served, disabled types')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => (await commands.agents()).runAgentsList(await getConfig(), options));
  agents
    .command('set')
    .description("change an agent's settings (admin); it applies them at its next heartbeat, without a restart")
    .argument('<id>', 'the agent id')
    .option('--concurrency <n>', 'slots, 1 to 1000, or own: the concurrency it registered with', concurrencyArg)
    .option('--disable-type <list>', 'stop serving these task types (repeatable)', collect('--disable-type'), [])
    .option('--enable-type <list>', 'serve these disabled types again (repeatable)', collect('--enable-type'), [])
    .action(async (id: string, options: AgentsSetOptions) =>
      (await commands.agents()).runAgentsSet(await getConfig(), id, options),
    );
}

function addSchedulesCommands(program: Command, getConfig: GetConfig): void {
  const schedules = program.command('schedules').description('recurring tasks: a submission fired once per cron slot');
  schedules
    .command('list')
    .description('every schedule: name, cron and zone, next slot, last task')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) =>
      (await commands.schedules()).runSchedulesList(await getConfig(), options),
    );
  schedules
    .command('create')
    .description('create a schedule (admin)')
    .argument('<name>', 'a-z, 0-9, ".", "_" and "-", e.g. nightly-report')
    .requiredOption('--cron <expr>', "5 fields, or 6 with seconds first, e.g. '30 2 * * *'")
    .option('--timezone <zone>', 'an IANA time zone (default UTC)')
    .requiredOption('--task <json>', 'the task, as for POST /v1/tasks, e.g. \'{"type":"echo"}\'')
    .addOption(new Option('--overlap <mode>', 'skip: not while the last task runs').choices(['allow', 'skip']))
    .addOption(new Option('--catch-up <mode>', 'one: fire once after downtime').choices(['none', 'one']))
    .action(async (name: string, options: SchedulesCreateOptions) =>
      (await commands.schedules()).runSchedulesCreate(await getConfig(), name, options),
    );
  for (const action of ['pause', 'resume'] as const) {
    schedules
      .command(action)
      .description(action === 'pause' ? 'pause a schedule (admin)' : 'resume a schedule from its next slot (admin)')
      .argument('<name>')
      .action(async (name: string) => (await commands.schedules()).runSchedulesAction(await getConfig(), name, action));
  }
  schedules
    .command('delete')
    .description('delete a schedule and its runs (admin); its tasks stay')
    .argument('<name>')
    .action(async (name: string) => (await commands.schedules()).runSchedulesDelete(await getConfig(), name));
}

function addRoutesCommands(program: Command, getConfig: GetConfig): void {
  addWorkflowCommands(program, getConfig);

  const routes = program.command('routes').description('routes (a task type and capability set): state and controls');
  routes
    .command('list')
    .description('every route: state, queue, rate limit, cap, circuit')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => (await commands.routes()).runRoutesList(await getConfig(), options));
  routes
    .command('show')
    .description('one route with its settings and latest events')
    .argument('<route>', 'the route key, e.g. echo~ or render~cuda+gpu')
    .action(async (key: string) => (await commands.routes()).runRoutesShow(await getConfig(), key));
  for (const action of ['pause', 'resume'] as const) {
    routes
      .command(action)
      .description(action === 'pause' ? 'pause a route: its queued tasks wait (admin)' : 'resume a route (admin)')
      .argument('<route>')
      .action(async (key: string) => (await commands.routes()).runRoutesAction(await getConfig(), key, action));
  }
  routes
    .command('limit')
    .description("set a route's fleet-wide rate limit and concurrency cap (admin)")
    .argument('<route>')
    .option('--rate <n>', 'tasks started per second, or none')
    .option('--cap <n>', 'tasks running at once, or none')
    .action(async (key: string, options: { rate?: string; cap?: string }) =>
      (await commands.routes()).runRoutesLimit(await getConfig(), key, options),
    );
  const breakers = program.command('breakers').description('circuit breakers, per task type');
  breakers
    .command('list')
    .description('every circuit breaker')
    .action(async () => (await commands.routes()).runBreakersList(await getConfig()));
  breakers
    .command('set')
    .description("open a type's routes after failures of their last attempts (admin)")
    .argument('<type>')
    .requiredOption('--failures <n>', 'failed attempts that open the route', positiveInt('--failures'))
    .requiredOption('--window <n>', 'of the last this many attempts', positiveInt('--window'))
    .requiredOption('--cooldown-ms <n>', 'before one probe task may start', positiveInt('--cooldown-ms'))
    .action(async (type: string, options: { failures: number; window: number; cooldownMs: number }) =>
      (await commands.routes()).runBreakersSet(await getConfig(), type, options),
    );
  breakers
    .command('remove')
    .description("remove a type's circuit breaker (admin)")
    .argument('<type>')
    .action(async (type: string) => (await commands.routes()).runBreakersRemove(await getConfig(), type));
}

function addKeysCommands(program: Command, getConfig: GetConfig): void {
  const keys = program
    .command('keys')
    .description('API keys, on the store directly (TASKFLEET_STORE); every change is audited as cli:<user>');
  keys
    .command('create')
    .description('create a key and print it (once: only its hash is stored)')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .requiredOption('--name <name>', 'who or what uses the key, e.g. ci-pipeline')
    .option('--agent-id <id>', 'an agent key: the one agent it may act as')
    .option('--agent-prefix <prefix>', 'an agent key: it may act as any agent whose id starts with this')
    .option('--json', 'print the key and its record as JSON')
    .action(async (options: KeysCreateOptions) => (await commands.keys()).runKeysCreate(await getConfig(), options));
  keys
    .command('list')
    .description('list keys: id, name, role, prefix, created, revoked (never the key)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => (await commands.keys()).runKeysList(await getConfig(), options));
  keys
    .command('revoke')
    .description('revoke a key by its id; it is refused from the next request on')
    .argument('<id>')
    .action(async (id: string) => (await commands.keys()).runKeysRevoke(await getConfig(), id));
  keys
    .command('generate')
    .description('print a fresh random key without storing it (for TASKFLEET_ADMIN_API_KEY)')
    .action(async () => (await commands.keys()).runKeysGenerate());
}

function addDbCommands(program: Command, getConfig: GetConfig): void {
  const db = program
    .command('db')
    .description('the Azure SQL schema (TASKFLEET_STORE=mssql): apply the T-SQL migrations in sql/migrations');
  db.command('deploy')
    .description('apply the pending migrations (idempotent; safe with several deployers at once)')
    .option('--dry-run', 'list the pending migrations and apply nothing')
    .action(async (options: { dryRun?: boolean }) => (await commands.db()).runDbDeploy(await getConfig(), options));
  db.command('status')
    .description('list each migration as applied or pending')
    .action(async () => (await commands.db()).runDbStatus(await getConfig()));
}

function printFigures(figures: Record<string, number>, json: boolean): void {
  if (json) console.log(JSON.stringify(figures, null, 2));
  else
    for (const [name, value] of Object.entries(figures))
      console.log(`${name.padEnd(22)} ${Number.isInteger(value) ? value : value.toFixed(2)}`);
}

function addBenchCommand(program: Command, getConfig: GetConfig): void {
  program
    .command('bench')
    .description('measure end-to-end throughput and dispatch latency on this machine (own supervisor and workers)')
    .option('--tasks <n>', 'no-op tasks for the throughput run', positiveInt('--tasks'), 5000)
    .option('--workers <n>', 'worker processes', positiveInt('--workers'), 2)
    .option('--concurrency <n>', 'concurrency of each worker', positiveInt('--concurrency'), 50)
    .option('--latency-samples <n>', 'single submits on the idle fleet', positiveInt('--latency-samples'), 200)
    .option('--json', 'print the figures as JSON')
    .action(async (options: BenchOptions & { json?: boolean }) => {
      const figures = await (await commands.bench()).runBench(await getConfig(), options);
      printFigures(figures, options.json === true);
    });
}

export async function main(argv: string[]): Promise<void> {
  let config: Config | undefined;
  // Read once, Key Vault references resolved (kv://), then validated: a bad value stops the command.
  const getConfig = async () => (config ??= await resolveConfig());
  const program = new Command('taskfleet')
    .version(VERSION)
    .description('A queue-backed worker fleet with durable jobs.')
    .showHelpAfterError();
  // Registered in this order because `--help` lists the commands in it.
  addProcessCommands(program, getConfig);
  addClientCommands(program, getConfig);
  addPoolsCommands(program, getConfig);
  addAgentsCommands(program, getConfig);
  addSchedulesCommands(program, getConfig);
  addRoutesCommands(program, getConfig);
  addKeysCommands(program, getConfig);
  addDbCommands(program, getConfig);
  addBenchCommand(program, getConfig);
  await program.parseAsync(argv);
}

export function processLogger(config: Config, name: string) {
  return createLogger({ level: config.logLevel, format: config.logFormat, name });
}
