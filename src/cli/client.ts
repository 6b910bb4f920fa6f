/**
 * `taskfleet submit` and `taskfleet status`: thin HTTP clients of the API. They send TASKFLEET_API_KEY as
 * `Authorization: Bearer <key>`.
 */
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

function formatErrors(json: Record<string, unknown> | null): string {
  const errors = json?.errors as Array<{ field: string; message: string }> | undefined;
  return errors ? '\n' + errors.map((e) => `  ${e.field}: ${e.message}`).join('\n') : '';
}

const TERMINAL = new Set(['succeeded', 'dead', 'cancelled', 'expired']);

export interface SubmitOptions {
  payload: string;
  capabilities: string[];
  priority?: string;
  maxAttempts?: number;
  timeout?: number;
  delay?: number;
  idempotencyKey?: string;
  sensitive?: boolean;
  wait?: boolean;
}

export async function runSubmit(config: Config, type: string, o: SubmitOptions): Promise<void> {
  let payload: unknown;
  try {
    payload = JSON.parse(o.payload);
  } catch {
    throw new Error(`--payload is not valid JSON: ${o.payload}`);
  }
  const body = {
    type,
    payload,
    requiredCapabilities: o.capabilities,
    ...(o.priority ? { priority: o.priority } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.timeout !== undefined ? { timeoutSeconds: o.timeout } : {}),
    ...(o.delay !== undefined ? { delaySeconds: o.delay } : {}),
    ...(o.sensitive ? { sensitive: true } : {}),
  };
  let task = await call(
    config,
    'POST',
    '/v1/tasks',
    body,
    o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {},
  );
  if (o.wait) {
    while (!TERMINAL.has(String(task.status))) {
      await new Promise((r) => setTimeout(r, 200));
      task = await call(config, 'GET', `/v1/tasks/${String(task.id)}`);
    }
  }
  console.log(JSON.stringify(task, null, 2));
  if (o.wait && task.status !== 'succeeded') process.exitCode = 1;
}

export async function runStatus(config: Config, taskId?: string): Promise<void> {
  if (taskId) {
    const task = await call(config, 'GET', `/v1/tasks/${encodeURIComponent(taskId)}`);
    const { events } = (await call(config, 'GET', `/v1/tasks/${encodeURIComponent(taskId)}/events`)) as {
      events: Array<{ at: string; kind: string; attempt: number; agentId?: string }>;
    };
    console.log(JSON.stringify(task, null, 2));
    for (const e of events) console.log(`${e.at}  ${e.kind.padEnd(16)} attempt ${e.attempt}  ${e.agentId ?? ''}`);
    return;
  }
  const { agents } = (await call(config, 'GET', '/v1/agents')) as {
    agents: Array<{
      id: string;
      state: string;
      stateReason?: string;
      live: boolean;
      capabilities: string[];
      types: string[];
      runningTasks: number;
      concurrency: number;
      heartbeatAgeMs: number;
    }>;
  };
  console.log(`agents (${agents.length})`);
  for (const a of agents) {
    console.log(
      `  ${a.id.padEnd(28)} ${a.state.padEnd(10)} ${a.live ? 'live ' : 'stale'} ${a.runningTasks}/${a.concurrency} running  ` +
        `caps [${a.capabilities.join(',')}] types [${a.types.join(',')}]  heartbeat ${Math.round(a.heartbeatAgeMs / 100) / 10}s ago`,
    );
    // Why an agent is held, warned or degraded (a running agent's reason says nothing new).
    if (a.stateReason && a.state !== 'running') console.log(`    ${a.state}: ${a.stateReason}`);
  }
  const { tasks } = (await call(config, 'GET', '/v1/tasks?limit=10')) as {
    tasks: Array<{ id: string; type: string; status: string; attempt: number; routable: boolean }>;
  };
  console.log(`recent tasks (${tasks.length})`);
  for (const t of tasks) {
    console.log(
      `  ${t.id}  ${t.type.padEnd(10)} ${t.status.padEnd(10)} attempt ${t.attempt}${t.routable ? '' : '  (no live worker or declared pool can run it)'}`,
    );
  }
}
