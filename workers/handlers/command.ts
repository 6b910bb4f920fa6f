/**
 * A handler that runs a program per task (`taskfleet worker --exec <type>=<command>`): the payload as JSON on
 * stdin, the result as JSON on stdout, stderr lines as the task's log (at `info`). Exit 0 is success, exit 3
 * (PERMANENT_EXIT_CODE) a permanent failure, any other exit or a signal a failure that is retried.
 *
 * The program runs in its own process group, so that a timeout, a cancel or a lost lease (ctx.signal) ends its
 * children too: SIGTERM to the group, SIGKILL after a grace period. Its environment is the one given here,
 * never the worker's (which holds the store's and Redis's credentials).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { MAX_LOG_MESSAGE_CHARS } from '../../src/domain/taskLog';
import { defineHandler, PermanentError, type TaskContext, type TaskHandler } from '../runtime/context';
import { PERMANENT_EXIT_CODE } from './commandLine';

export const DEFAULT_KILL_GRACE_MS = 5_000;
/** stdout is read whole (it is the result); past this the program is stopped rather than buffered. */
export const MAX_STDOUT_BYTES = 4 * 1024 * 1024;

export interface CommandHandlerOptions {
  type: string;
  /** The program and its arguments, fixed by the operator (commandLine.ts splits them). */
  argv: readonly string[];
  /** The program's whole environment, besides TASKFLEET_TASK_ID, TASKFLEET_TASK_ATTEMPT and TASKFLEET_TASK_TYPE. */
  env: Readonly<Record<string, string>>;
  /** Between SIGTERM and SIGKILL when the task is aborted. */
  killGraceMs?: number;
  maxStdoutBytes?: number;
}

/** Variables every program gets from the worker's environment when set; `--exec-env` names more. */
export const BASE_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'TZ'] as const;

/** The programs' environment: the base variables and the `passed` ones, from `source` (the worker's), when set. */
export function commandEnvironment(source: NodeJS.ProcessEnv, passed: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASE_ENV_NAMES, ...passed]) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A handler for `o.type`; throws at once when `o.argv[0]` is not an executable file (on the program's PATH). */
export function commandHandler(o: CommandHandlerOptions): TaskHandler<unknown, unknown> {
  const program = o.argv[0];
  if (program === undefined) throw new Error(`the command of ${o.type} is empty`);
  if (findExecutable(program, o.env.PATH ?? '') === null) {
    throw new Error(
      `the command of ${o.type}: ${program} is not an executable file${program.includes('/') ? '' : ' on PATH'}`,
    );
  }
  return defineHandler({ type: o.type, input: z.unknown(), run: (input, ctx) => runCommand(o, input, ctx) });
}

function findExecutable(program: string, searchPath: string): string | null {
  const candidates = program.includes('/')
    ? [path.resolve(program)]
    : searchPath
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => path.join(dir, program));
  return (
    candidates.find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }) ?? null
  );
}

/**
 * Process groups this worker started that may still have members. A worker that exits (a drain, a stop) does
 * not wait for a grace period to run out: whatever is left is killed on the way out.
 */
const liveGroups = new Set<ProcessGroup>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group has no member left.
  }
}

/** The process group of one run, led by the program (spawned with `detached`, its pid is the group's id). */
class ProcessGroup {
  private killTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pgid: number,
    private readonly graceMs: number,
  ) {
    liveGroups.add(this);
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const group of liveGroups) signalGroup(group.pgid, 'SIGKILL');
    });
  }

  /** SIGTERM now, SIGKILL after the grace period; once. */
  stop(): void {
    if (this.killTimer !== null) return;
    signalGroup(this.pgid, 'SIGTERM');
    this.killTimer = setTimeout(() => {
      signalGroup(this.pgid, 'SIGKILL');
      liveGroups.delete(this);
    }, this.graceMs);
    this.killTimer.unref();
  }

  /** Children the program left behind share its group: they go with it (and keep stdout open until then). */
  leaderExited(): void {
    if (signalGroup(this.pgid, 0)) return this.stop();
    // Empty: forgotten at once, so that no later signal can reach a group that reuses the id.
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    liveGroups.delete(this);
  }
}

function runCommand(o: CommandHandlerOptions, input: unknown, ctx: TaskContext): Promise<unknown> {
  ctx.signal.throwIfAborted();
  const [program, ...args] = o.argv as [string, ...string[]];
  // Failures are shown to submitters: they name the program, never its path or arguments.
  const name = path.basename(program);
  const maxStdout = o.maxStdoutBytes ?? MAX_STDOUT_BYTES;
  const child = spawn(program, args, {
    shell: false,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...o.env,
      TASKFLEET_TASK_ID: ctx.taskId,
      TASKFLEET_TASK_ATTEMPT: String(ctx.attempt),
      TASKFLEET_TASK_TYPE: o.type,
    },
  });
  const group = child.pid === undefined ? null : new ProcessGroup(child.pid, o.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  const stop = () => group?.stop();
  ctx.signal.addEventListener('abort', stop, { once: true });

  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let overflow = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (overflow) return;
    stdoutBytes += chunk.length;
    if (stdoutBytes > maxStdout) {
      overflow = true;
      stdout.length = 0;
      stop();
    } else stdout.push(chunk);
  });
  let lastStderr = '';
  const stderr = lineSplitter((line) => {
    lastStderr = line;
    ctx.log.info(line, { stream: 'stderr' });
  });
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  // A program that exits without reading its input closes the pipe: EPIPE is its business, not a failure.
  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify(input ?? null));

  child.once('exit', () => group?.leaderExited());

  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', stop);
      try {
        fn();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    child.once('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(new Error(`cannot run ${name}: ${err.code ?? err.message}`))),
    );
    child.once('close', (code, signal) =>
      settle(() => {
        stderr.end();
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const said = lastStderr === '' ? '' : `: ${lastStderr}`;
        if (overflow) throw new PermanentError(`${name} wrote more than ${maxStdout} bytes to stdout`);
        if (signal !== null) throw new Error(`${name} was killed by ${signal}${said}`);
        if (code === PERMANENT_EXIT_CODE) throw new PermanentError(`${name} exited with code ${code}${said}`);
        if (code !== 0) throw new Error(`${name} exited with code ${code}${said}`);
        resolve(parseResult(name, Buffer.concat(stdout).toString('utf8')));
      }),
    );
  });
}

/** Empty stdout is a null result; anything else must be one JSON value, or retrying would print it again. */
function parseResult(name: string, text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const start = JSON.stringify(text.trim().slice(0, 80));
    throw new PermanentError(`${name} exited with 0 but its stdout is not JSON; it begins: ${start}`);
  }
}

/**
 * Calls `emit` with each non-empty line, holding no more of a line than ctx.log keeps (MAX_LOG_MESSAGE_CHARS);
 * a longer line is cut with the mark ctx.log would give it, naming its whole length.
 */
function lineSplitter(emit: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  const decoder = new StringDecoder('utf8');
  let kept = '';
  let length = 0;
  const flush = () => {
    const line = length > kept.length ? cut(kept, length) : kept.replace(/\r$/, '');
    kept = '';
    length = 0;
    if (line.trim() !== '') emit(line);
  };
  const take = (text: string) => {
    for (let start = 0; ;) {
      const nl = text.indexOf('\n', start);
      const piece = text.slice(start, nl < 0 ? undefined : nl);
      length += piece.length;
      if (kept.length < MAX_LOG_MESSAGE_CHARS) kept += piece.slice(0, MAX_LOG_MESSAGE_CHARS - kept.length);
      if (nl < 0) return;
      flush();
      start = nl + 1;
    }
  };
  return {
    push: (chunk) => take(decoder.write(chunk)),
    end: () => {
      take(decoder.end());
      flush();
    },
  };
}

function cut(kept: string, length: number): string {
  const mark = `… (cut from ${length} characters)`;
  return `${kept.slice(0, MAX_LOG_MESSAGE_CHARS - mark.length)}${mark}`;
}
