/**
 * How a worker process is started: the V8 options every launcher of `taskfleet worker` passes (`taskfleet dev`,
 * the worker image, the benchmark).
 *
 * A 2 MiB young generation (Node's default grows to 16 MiB per semi-space): V8 grows it to the maximum while
 * the worker loads its modules, and keeps the pages, so an idle worker held about 84 MiB; with 2 MiB it holds
 * about 74 MiB. The tasks' objects die young, so the cost is a little more scavenging: worker CPU per task
 * moved by 0 to 4 %, within the machine's noise (benchmark: 4,740 against 4,227 tasks/s with 4 MiB).
 * An operator can still set another value in NODE_OPTIONS: a launcher adds this one only when none is set.
 */
export const WORKER_NODE_OPTIONS = '--max-semi-space-size=2';

/** `env` with the worker's V8 options added to NODE_OPTIONS, unless it already sets the young generation. */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const current = env.NODE_OPTIONS ?? '';
  if (current.includes('--max-semi-space-size')) return env;
  return { ...env, NODE_OPTIONS: `${current} ${WORKER_NODE_OPTIONS}`.trim() };
}
