/**
 * The Python agent (examples/python/agent.py) as a real `python3` process for fleet tests, and the agent key it
 * needs, made with `taskfleet keys create --role agent` as an operator makes it.
 *
 * The agent gets only what it needs in its environment (no admin key, no store or Redis settings): it reaches the
 * fleet through the supervisor's HTTP API alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './cli';
import { ROOT, waitFor } from './fleet';

export const AGENT_PY = path.join(ROOT, 'examples', 'python', 'agent.py');

export interface PythonAgent {
  id: string;
  child: ChildProcess;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  logFile: string;
}

export interface PythonAgentOptions {
  id: string;
  capabilities?: string[];
  types?: string[];
  concurrency?: number;
  /** Extra command-line arguments, e.g. ['--drain-seconds', '1']. */
  args?: string[];
  /** Whether `spawn` waits for the registration (true by default). */
  waitRegistered?: boolean;
}

/** An agent key bound to `prefix`, created with the CLI on the fleet's SQLite file. */
export async function createAgentKey(sqlitePath: string, prefix: string): Promise<string> {
  const run = await runCli(
    ['keys', 'create', '--role', 'agent', '--agent-prefix', prefix, '--name', `${prefix}agents`],
    {
      TASKFLEET_SQLITE_PATH: sqlitePath,
    },
  );
  const key = /tfk_[A-Za-z0-9_-]{43}/.exec(run.stdout)?.[0];
  if (run.code !== 0 || key === undefined) throw new Error(`keys create failed (${run.code}): ${run.stderr}`);
  return key;
}

/** Python agents of one test file; `killAll` (for afterEach/afterAll) leaves none running. */
export class PythonAgents {
  readonly started: PythonAgent[] = [];

  constructor(private readonly options: { logDir: () => string }) {}

  /** Starts an agent against `url`; resolves once it has registered (it logs "registered <id>"). */
  async spawn(url: string, key: string, o: PythonAgentOptions): Promise<PythonAgent> {
    const args = [AGENT_PY, '--url', url, '--id', o.id, '--concurrency', String(o.concurrency ?? 4)];
    if (o.capabilities?.length) args.push('--capabilities', o.capabilities.join(','));
    if (o.types?.length) args.push('--types', o.types.join(','));
    args.push(...(o.args ?? []));
    const logFile = path.join(this.options.logDir(), `${o.id}-${this.started.length}.log`);
    const out = createWriteStream(logFile);
    const child = spawn('python3', args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TASKFLEET_API_KEY: key,
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Both pipes into one file, ended once the child's output is closed: `exited` resolves only when every line
    // the agent wrote is in the file (on 'exit' the last lines could still be in the pipe, seen under load).
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => out.end(() => resolve(code))));
    const agent = { id: o.id, child, exited, logFile };
    this.started.push(agent);
    if (o.waitRegistered === false) return agent;
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes(`registered ${o.id} `)) {
          child.stderr?.off('data', onData);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => reject(new Error(`agent ${o.id} did not register: ${seen}`)), 20_000);
      child.stderr?.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`agent ${o.id} exited with ${code}: ${seen}`));
      });
    });
    return agent;
  }

  /** SIGKILLs every agent still running and waits until each is gone. */
  async killAll(): Promise<void> {
    for (const agent of this.started) {
      if (isRunning(agent)) agent.child.kill('SIGKILL');
    }
    await Promise.all(this.started.map((agent) => agent.exited));
  }
}

/** Waits until the agent's log (stdout and stderr) holds `text`. */
export async function waitForLog(agent: PythonAgent, text: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => readFileSync(agent.logFile, 'utf8').includes(text), timeoutMs, `"${text}" in ${agent.id}'s log`);
}

export function isRunning(agent: PythonAgent): boolean {
  return agent.child.exitCode === null && agent.child.signalCode === null;
}
