/**
 * How a worker process is started: the V8 options every launcher of `taskfleet worker` passes (`taskfleet dev`,
 * the worker image, the benchmark).
 *
 * A 4 MiB young generation (Node's default grows to 16 MiB per semi-space): V8 grows it to the maximum while
 * the worker loads its modules, and keeps the pages, so an idle worker held about 84 MiB; with 4 MiB it holds
 * about 75 MiB. Task throughput did not change beyond the machine's noise (the tasks' objects die young).
 * An operator can still set another value in NODE_OPTIONS: a launcher adds this one only when none is set.
 */
export const WORKER_NODE_OPTIONS = '--max-semi-space-size=4';

/** `env` with the worker's V8 options added to NODE_OPTIONS, unless it already sets the young generation. */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const current = env.NODE_OPTIONS ?? '';
  if (current.includes('--max-semi-space-size')) return env;
  return { ...env, NODE_OPTIONS: `${current} ${WORKER_NODE_OPTIONS}`.trim() };
}
