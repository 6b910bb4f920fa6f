/**
 * The operator's side of `taskfleet worker --exec <type>=<command>`: the command line is split into argv once,
 * at start-up, and nothing of a task ever reaches it. No shell runs it, so `$VAR`, globs, pipes and `;` are
 * plain characters; quotes and backslashes only group words.
 *
 * Kept apart from command.ts (which spawns) so that the CLI can check its options without loading more.
 */
import { isToken, TOKEN_RULE } from '../../src/domain/capabilities';

/** The exit code a command uses for a failure that retrying cannot fix: the task goes to `dead` at once. */
export const PERMANENT_EXIT_CODE = 3;

export interface ExecSpec {
  type: string;
  argv: string[];
}

/**
 * Splits a command line into words as a POSIX shell would, minus every expansion: whitespace separates words;
 * '…' keeps everything literally; "…" keeps everything but `\"`, `\\`, `\$` and `` \` ``, which lose their
 * backslash; outside quotes a backslash keeps the next character literally. Throws on an unclosed quote or a
 * trailing backslash.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        const next = line[j + 1];
        if (line[j] === '\\' && next !== undefined && '"\\$`'.includes(next)) j++;
        word += line[j];
      }
      if (j >= line.length) throw new Error(`unclosed " in: ${line}`);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error(`trailing \\ in: ${line}`);
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Parses one `--exec` value, `<type>=<command>`; throws with a message fit for the command line. */
export function parseExecSpec(value: string): ExecSpec {
  const eq = value.indexOf('=');
  if (eq < 0) throw new Error(`"${value}" is not <type>=<command>`);
  const type = value.slice(0, eq).trim();
  if (!isToken(type)) throw new Error(`the type "${type}" is not ${TOKEN_RULE}`);
  const argv = splitCommand(value.slice(eq + 1));
  if (argv.length === 0) throw new Error(`the command of ${type} is empty`);
  return { type, argv };
}

/** An environment variable name `--exec-env` accepts. */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
