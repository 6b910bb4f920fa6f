/**
 * The built `taskfleet` command, run as an operator runs it: a child process (asynchronous, so a supervisor in
 * the test's own process keeps answering) with the test's environment minus its secrets, plus `env`.
 */
import { execFile } from 'node:child_process';
import { withoutSecrets } from '../../src/config/config';
import { BIN } from './fleet';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...withoutSecrets(process.env), TASKFLEET_LOG_LEVEL: 'warn', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
