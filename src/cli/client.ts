/**
 * `taskfleet submit`, `status` and `logs`: the typed client (src/client) with TASKFLEET_URL and
 * TASKFLEET_API_KEY, its errors turned into messages with a hint. `call` is the plain request other commands use.
 */
import { TaskfleetClient, TaskfleetProblem, TaskfleetUnreachable, type TaskSubmission } from '../client';
import type { Config } from '../config/config';

export async function call(
  config: Config,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  let res: Response;
  try {
    res = await fetch(new URL(path, config.apiUrl), {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(config.apiKey === null ? {} : { authorization: `Bearer ${config.apiKey}` }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new Error(
      `no taskfleet supervisor answers at ${config.apiUrl} (set TASKFLEET_URL, or start one: taskfleet dev)`,
    );
  }
  const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!res.ok) {
    const detail = typeof json?.detail === 'string' ? json.detail : res.statusText;
    const hint =
      res.status === 401
        ? config.apiKey === null
          ? '\n  TASKFLEET_API_KEY is not set: export TASKFLEET_API_KEY=<key> (taskfleet dev prints one)'
          : '\n  TASKFLEET_API_KEY is not a valid key for this supervisor (unknown or revoked)'
        : '';
    throw new Error(`${res.status} ${detail}${formatErrors(json)}${hint}`);
  }
  return json ?? {};
}

export function clientOf(config: Config): TaskfleetClient {
  return new TaskfleetClient({ baseUrl: config.apiUrl, apiKey: config.apiKey });
}

/** Runs a command's requests, answering a problem or an absent server with what to do about it. */
export async function explained<T>(config: Config, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof TaskfleetUnreachable) {
      throw new Error(`${err.message} (set TASKFLEET_URL, or start one: taskfleet dev)`);
    }
    if (!(err instanceof TaskfleetProblem)) throw err;
    const hint =
      err.status === 401
        ? config.apiKey === null
          ? '\n  TASKFLEET_API_KEY is not set: export TASKFLEET_API_KEY=<key> (taskfleet dev prints one)'
          : '\n  TASKFLEET_API_KEY is not a valid key for this supervisor (unknown or revoked)'
        : '';
    throw new Error(`${err.status} ${err.detail}${formatErrors(err.body)}${hint}`);
  }
}

function formatErrors(json: Record<string, unknown> | null): string {
  const errors = json?.errors as Array<{ field: string; message: string }> | undefined;
  return errors ? '\n' + errors.map((e) => `  ${e.field}: ${e.message}`).join('\n') : '';
}

export interface SubmitOptions {
  payload: string;
  capabilities: string[];
  priority?: TaskSubmission['priority'];
  maxAttempts?: number;
  timeout?: number;
  delay?: number;
  idempotencyKey?: string;
  sensitive?: boolean;
  wait?: boolean;
}

/** Prints the task; with `--wait`, once it has ended (exit code 1 unless it succeeded). */
export async function runSubmit(config: Config, type: string, o: SubmitOptions): Promise<void> {
  let payload: unknown;
  try {
    payload = JSON.parse(o.payload);
  } catch {
    throw new Error(`--payload is not valid JSON: ${o.payload}`);
  }
  const body: TaskSubmission = {
    type,
    payload,
    requiredCapabilities: o.capabilities,
    ...(o.priority ? { priority: o.priority } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.timeout !== undefined ? { timeoutSeconds: o.timeout } : {}),
    ...(o.delay !== undefined ? { delaySeconds: o.delay } : {}),
    ...(o.sensitive ? { sensitive: true } : {}),
  };
  const client = clientOf(config);
  const task = await explained(config, async () => {
    const submitted = await client.submit(body, o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {});
    return o.wait ? client.wait(submitted.id) : submitted;
  });
  console.log(JSON.stringify(task, null, 2));
  if (o.wait && task.status !== 'succeeded') process.exitCode = 1;
}

/** A task's log lines of one attempt (default the latest), one per line: time, level, message, fields. */
export async function runLogs(config: Config, taskId: string, o: { attempt?: number; json?: boolean }): Promise<void> {
  const logs = await explained(config, () => clientOf(config).logs(taskId, o.attempt));
  if (o.json) {
    console.log(JSON.stringify(logs, null, 2));
    return;
  }
  console.log(`task ${logs.taskId}, attempt ${logs.attempt}: ${logs.lines.length} lines`);
  for (const l of logs.lines) {
    const fields = l.fields ? `  ${JSON.stringify(l.fields)}` : '';
    console.log(`${l.at}  ${l.level.padEnd(5)} ${l.message}${fields}`);
  }
  if (logs.dropped.lines > 0)
    console.log(`(${logs.dropped.lines} lines, ${logs.dropped.bytes} bytes dropped: over the cap)`);
}

export async function runStatus(config: Config, taskId?: string): Promise<void> {
  const client = clientOf(config);
  if (taskId) {
    const [task, events] = await explained(config, () => Promise.all([client.get(taskId), client.eventList(taskId)]));
    console.log(JSON.stringify(task, null, 2));
    for (const e of events) console.log(`${e.at}  ${e.kind.padEnd(16)} attempt ${e.attempt}  ${e.agentId ?? ''}`);
    return;
  }
  const [agents, page] = await explained(config, () =>
    Promise.all([client.agents(), client.listPage({ pageSize: 10 })]),
  );
  console.log(`agents (${agents.length})`);
  for (const a of agents) {
    console.log(
      `  ${a.id.padEnd(28)} ${a.state.padEnd(10)} ${a.live ? 'live ' : 'stale'} ${a.runningTasks}/${a.concurrency} running  ` +
        `caps [${a.capabilities.join(',')}] types [${a.types.join(',')}]  heartbeat ${Math.round(a.heartbeatAgeMs / 100) / 10}s ago`,
    );
    // Why an agent is held, warned or degraded (a running agent's reason says nothing new).
    if (a.stateReason && a.state !== 'running') console.log(`    ${a.state}: ${a.stateReason}`);
  }
  const tasks = page.tasks;
  console.log(`recent tasks (${tasks.length})`);
  for (const t of tasks) {
    console.log(
      `  ${t.id}  ${t.type.padEnd(10)} ${t.status.padEnd(10)} attempt ${t.attempt}${t.routable ? '' : '  (no live worker or declared pool can run it)'}`,
    );
  }
}
