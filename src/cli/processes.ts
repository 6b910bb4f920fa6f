/** The long-running commands: `taskfleet supervisor` and `taskfleet worker`. */
import path from 'node:path';
import type { Config } from '../config/config';
import { skewedClock, testClockSkewMs } from '../config/testHooks';
import type { AnyTaskHandler, TaskHandler } from '../../workers/runtime/context';
import { processLogger, type WorkerOptions } from './main';

function onSignals(fn: () => Promise<void>): void {
  let received = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (received) return;
      received = true;
      fn().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

export async function runSupervisor(config: Config): Promise<void> {
  const log = processLogger(config, 'supervisor');
  // Loaded here, not at the top: a worker process never needs the supervisor's modules (and the other way round).
  const { buildSupervisor } = await import('../supervisor/supervisor');
  const sup = await buildSupervisor(config, { log });
  onSignals(() => sup.stop());
}

async function loadHandlerModules(modules: readonly string[]): Promise<AnyTaskHandler[]> {
  const out: AnyTaskHandler[] = [];
  for (const m of modules) {
    const mod = (await import(path.resolve(m))) as { default?: unknown };
    const exported = mod.default ?? mod;
    const list = Array.isArray(exported) ? exported : [exported];
    for (const h of list) {
      if (
        !h ||
        typeof h !== 'object' ||
        typeof (h as TaskHandler).type !== 'string' ||
        typeof (h as TaskHandler).run !== 'function'
      ) {
        throw new Error(`${m} does not export a task handler (an object with type, input and run)`);
      }
      out.push(h as AnyTaskHandler);
    }
  }
  return out;
}

/** The `--exec` handlers; their programs see only the variables the worker passes on by name. */
async function commandHandlers(o: WorkerOptions): Promise<AnyTaskHandler[]> {
  if (o.exec.length === 0) return [];
  const { commandEnvironment, commandHandler } = await import('../../workers/handlers/command');
  const env = commandEnvironment(process.env, o.execEnv);
  return o.exec.map((spec) => commandHandler({ ...spec, env, killGraceMs: o.execKillGrace }));
}

export async function runWorker(config: Config, o: WorkerOptions): Promise<void> {
  const log = processLogger(config, 'worker');
  const [{ WorkerRuntime }, { builtinHandlers }] = await Promise.all([
    import('../../workers/runtime/worker'),
    import('../../workers/handlers'),
  ]);
  // Later handlers replace earlier ones of the same type: an --exec type wins over a built-in one.
  const extra = [...(await loadHandlerModules(o.handlers ?? [])), ...(await commandHandlers(o))];
  // Test-only (see src/config/testHooks.ts): the chaos suite runs a worker whose clock is skewed.
  const skewMs = testClockSkewMs();
  if (skewMs !== 0) log.warn({ skewMs }, 'TASKFLEET_TEST_CLOCK_SKEW_MS is set: this worker runs on a skewed clock');
  const worker = new WorkerRuntime({
    config,
    capabilities: o.capabilities,
    concurrency: o.concurrency,
    handlers: [...builtinHandlers(config), ...extra],
    ...(o.id ? { id: o.id } : {}),
    ...(skewMs !== 0 ? { clock: skewedClock(skewMs) } : {}),
    log,
  });
  // Handlers first: a SIGTERM that arrives while the worker is still starting drains it once started.
  onSignals(() => worker.drain());
  await worker.start();
}
