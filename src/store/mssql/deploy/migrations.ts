/**
 * The T-SQL migrations as files (sql/migrations/NNNN_name.sql), read the way sqlcmd reads them, and the ledger
 * logic that decides which ones a database still needs. No database here: deployer.ts runs what this plans.
 *
 * sqlcmd semantics kept: `$(Name)` variables are substituted everywhere, from `-v` values, overridden by
 * `:setvar` in the file (sqlcmd's precedence); an undefined variable is an error; `GO [count]` alone on a line,
 * outside comments and quoted text, ends a batch; `:on error exit` is accepted (the deployer always stops on
 * the first error); any other sqlcmd command is refused rather than silently skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Batch {
  text: string;
  /** `GO n` runs the batch n times. */
  repeat: number;
  /** 1-based line of the file where the batch starts. */
  line: number;
}

export class MigrationFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationFileError';
  }
}

const GO = /^\s*go(?:\s+(\d+))?\s*(?:--.*)?$/i;
const COMMAND = /^\s*:(\w+)\b(.*)$/;
const VARIABLE = /\$\(([A-Za-z_][A-Za-z0-9_-]*)\)/g;

type Lexical = { kind: 'code' } | { kind: 'block'; depth: number } | { kind: 'quote'; close: string };

/** The lexical state after `line`, from `state` at its start: comments and quoted text may span lines. */
function scan(line: string, state: Lexical): Lexical {
  let s = state;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    const next = line[i + 1];
    if (s.kind === 'block') {
      if (c === '*' && next === '/') {
        s = s.depth === 1 ? { kind: 'code' } : { kind: 'block', depth: s.depth - 1 };
        i++;
      } else if (c === '/' && next === '*') {
        s = { kind: 'block', depth: s.depth + 1 };
        i++;
      }
    } else if (s.kind === 'quote') {
      if (c === s.close) {
        if (next === s.close)
          i++; // '' (or ]] or "") is an escaped quote
        else s = { kind: 'code' };
      }
    } else if (c === '-' && next === '-') {
      return s; // a line comment: the rest of the line
    } else if (c === '/' && next === '*') {
      s = { kind: 'block', depth: 1 };
      i++;
    } else if (c === "'") s = { kind: 'quote', close: "'" };
    else if (c === '"') s = { kind: 'quote', close: '"' };
    else if (c === '[') s = { kind: 'quote', close: ']' };
  }
  return s;
}

function substitute(line: string, vars: Map<string, string>, where: string): string {
  return line.replace(VARIABLE, (_m, name: string) => {
    const value = vars.get(name.toLowerCase());
    if (value === undefined) throw new MigrationFileError(`${where}: scripting variable $(${name}) is not defined`);
    return value;
  });
}

function sqlcmdCommand(name: string, rest: string, vars: Map<string, string>, where: string): void {
  const command = name.toLowerCase();
  if (command === 'on' && /^\s*error\s+exit\s*$/i.test(rest)) return;
  if (command === 'setvar') {
    const m = /^\s+([A-Za-z_][A-Za-z0-9_-]*)(?:\s+(?:"((?:[^"]|"")*)"|(\S+)))?\s*$/.exec(rest);
    if (!m?.[1]) throw new MigrationFileError(`${where}: malformed :setvar`);
    if (m[2] === undefined && m[3] === undefined) vars.delete(m[1].toLowerCase());
    else vars.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/""/g, '"') : (m[3] ?? ''));
    return;
  }
  throw new MigrationFileError(`${where}: the sqlcmd command :${name} is not supported by the Node deployer`);
}

/** Splits a script into batches on GO, substituting variables (`vars`: sqlcmd's -v, names case-insensitive). */
export function splitBatches(source: string, vars: Record<string, string> = {}, file = 'script'): Batch[] {
  const variables = new Map(Object.entries(vars).map(([k, v]) => [k.toLowerCase(), v]));
  const batches: Batch[] = [];
  let lines: string[] = [];
  let start = 1;
  let state = { kind: 'code' } as Lexical;
  const finish = (repeat: number, nextLine: number) => {
    const text = lines.join('\n');
    if (text.trim() !== '') batches.push({ text, repeat, line: start });
    lines = [];
    start = nextLine;
  };
  source.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const where = `${file}:${lineNo}`;
    if (state.kind === 'code') {
      const go = GO.exec(raw);
      if (go) {
        const repeat = go[1] === undefined ? 1 : Number(go[1]);
        if (repeat < 1) throw new MigrationFileError(`${where}: GO needs a count of at least 1`);
        finish(repeat, lineNo + 1);
        return;
      }
      const command = COMMAND.exec(raw);
      if (command?.[1]) {
        sqlcmdCommand(command[1], command[2] ?? '', variables, where);
        if (lines.length === 0) start = lineNo + 1;
        return;
      }
    }
    const line = substitute(raw, variables, where);
    state = scan(line, state);
    lines.push(line);
  });
  if (state.kind !== 'code') {
    throw new MigrationFileError(`${file}: ends inside a ${state.kind === 'block' ? 'comment' : 'quoted text'}`);
  }
  finish(1, 0);
  return batches;
}

export interface MigrationFile {
  version: number;
  /** The file name without `.sql`, as the ledger records it: `0001_tasks_and_agents`. */
  name: string;
  path: string;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The migration files of `dir`, in order; numbered 0001, 0002, … without gaps or repeats. */
export function listMigrations(dir: string): MigrationFile[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const out = files.map((f, i) => {
    const m = FILE_NAME.exec(f);
    if (!m?.[1]) throw new MigrationFileError(`${f}: a migration is named NNNN_lowercase_words.sql`);
    const version = Number(m[1]);
    if (version !== i + 1) {
      throw new MigrationFileError(`${f}: expected migration ${String(i + 1).padStart(4, '0')} (no gaps, no repeats)`);
    }
    return { version, name: f.slice(0, -'.sql'.length), path: path.join(dir, f) };
  });
  if (out.length === 0) throw new MigrationFileError(`${dir}: no migrations`);
  return out;
}

/** A row of the ledger, [schema].[schema_version]. */
export interface LedgerEntry {
  version: number;
  name: string;
}

export interface MigrationPlan {
  applied: MigrationFile[];
  pending: MigrationFile[];
}

/**
 * Which migrations a database needs. The ledger must agree with the files: a recorded version this build
 * does not have (the database is newer), or one recorded under another name (a file was renamed or
 * replaced: migrations are append-only), stops the deploy before it touches anything.
 */
export function planMigrations(files: readonly MigrationFile[], ledger: readonly LedgerEntry[]): MigrationPlan {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const entry of ledger) {
    const file = byVersion.get(entry.version);
    if (!file) {
      throw new MigrationFileError(
        `the database has migration ${entry.name} (version ${entry.version}), which this build does not have: deploy from a build that has it`,
      );
    }
    if (file.name !== entry.name) {
      throw new MigrationFileError(
        `version ${entry.version} is recorded as ${entry.name} but the file is ${file.name}: migrations are append-only, add a new one instead`,
      );
    }
  }
  const done = new Set(ledger.map((e) => e.version));
  return {
    applied: files.filter((f) => done.has(f.version)),
    pending: files.filter((f) => !done.has(f.version)),
  };
}

/** sql/migrations of this package, from a source tree (src/…) or a build (dist/src/…). */
export function migrationsDir(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'sql', 'migrations');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new MigrationFileError(`no sql/migrations folder above ${from}`);
  }
}
