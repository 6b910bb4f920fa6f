/**
 * The T-SQL this repository ships, gathered for a syntax check, and the check itself: the grammars-v4 T-SQL
 * grammar as built by `antlr4ts-sql` (run by tsqlParser.js). No SQL Server runs on these machines; a real
 * grammar is the strongest outside check available. It proves syntax only: names, types and permissions are
 * a server's to check.
 *
 * Two kinds of unit are checked:
 * - a migration batch: a file of sql/migrations split on GO the way the Node deployer reads it (sqlcmd
 *   variables substituted, `:setvar` and `:on error` applied and removed), so what is parsed is what is sent;
 * - an adapter statement: every exported value of a module under src/store/mssql/statements/ that has a string
 *   `.text`, found by its shape, not its name, plus every statement an exported function builds from a flags
 *   object (each combination of the flags it reads).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { listMigrations, splitBatches } from '../../src/store/mssql/deploy/migrations';

export const REPO_ROOT = path.join(__dirname, '..', '..');

/** Stands in for the sqlcmd variable `$(Schema)` (the deployer's `-v Schema=…`, the store's configured schema). */
export const SCHEMA = 'taskfleet';

/** A piece of T-SQL sent to the server as one batch. */
export interface SqlUnit {
  /** The file, and the batch or statement in it: `sql/migrations/0001_x.sql batch 2`, `…/lease.ts CLAIM_TASK`. */
  where: string;
  /** For a stretch of a file (a migration batch): the file line of each line of `text`; else null. */
  fileLines: readonly number[] | null;
  text: string;
}

export interface SyntaxProblem {
  /** 1-based line within the unit's text. */
  line: number;
  /** 0-based column, as ANTLR counts. */
  column: number;
  /** The offending token as written in the source (`<EOF>` at the end). */
  token: string;
  message: string;
}

const PARSER = path.join(__dirname, 'tsqlParser.js');

/**
 * Parses batches of T-SQL (each text is one batch) in one plain Node process (see tsqlParser.js): for each text,
 * no problems when the grammar accepts it, else the lexer's errors and the first parse error.
 */
export function parseAll(texts: readonly string[]): SyntaxProblem[][] {
  const run = spawnSync(process.execPath, [PARSER], {
    input: JSON.stringify(texts),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`tsqlParser.js exited with ${run.status ?? run.signal}: ${run.stderr}`);
  return JSON.parse(run.stdout) as SyntaxProblem[][];
}

/** One batch; each call starts a process, so parse many with parseAll. */
export function parseTsql(text: string): SyntaxProblem[] {
  return parseAll([text])[0] ?? [];
}

const EXCERPT = 140;

/** The offending line, cut around the column when it is long (a statement's column list can run to 600 characters). */
function excerpt(line: string, column: number): string {
  if (line.length <= EXCERPT) return line.trim();
  const start = Math.max(0, Math.min(column - 40, line.length - EXCERPT));
  const end = start + EXCERPT;
  return `${start > 0 ? '…' : ''}${line.slice(start, end).trim()}${end < line.length ? '…' : ''}`;
}

/** `where:line:column: at 'token': message` followed by the offending source line, for a failure message. */
export function describeProblem(unit: SqlUnit, problem: SyntaxProblem): string {
  const source = excerpt(unit.text.split('\n')[problem.line - 1] ?? '', problem.column);
  const fileLine = unit.fileLines?.[problem.line - 1];
  const position =
    fileLine === undefined
      ? `${unit.where}, line ${problem.line} of its text, column ${problem.column + 1}`
      : `${unit.where.split(' ')[0]}:${fileLine}:${problem.column + 1} (${unit.where})`;
  return `${position}: at '${problem.token}': ${problem.message}\n    ${source}`;
}

const SQLCMD_COMMAND = /^\s*:\w+/;

/**
 * The file line of each line of a batch. The splitter drops sqlcmd command lines (`:on error exit` below the
 * header comment) from the batch without a trace, so counting on from the batch's first line would be off.
 */
function batchFileLines(fileText: readonly string[], firstLine: number, lineCount: number): number[] {
  const lines: number[] = [];
  for (let fileLine = firstLine; lines.length < lineCount && fileLine <= fileText.length; fileLine++) {
    if (!SQLCMD_COMMAND.test(fileText[fileLine - 1] ?? '')) lines.push(fileLine);
  }
  return lines;
}

/** Every batch of every migration, as the Node deployer sends them. */
export function migrationBatches(dir = path.join(REPO_ROOT, 'sql', 'migrations')): SqlUnit[] {
  return listMigrations(dir).flatMap((file) => {
    const relative = path.relative(REPO_ROOT, file.path);
    const source = fs.readFileSync(file.path, 'utf8');
    const fileText = source.split(/\r?\n/);
    return splitBatches(source, { Schema: SCHEMA }, relative).map((batch, index) => ({
      where: `${relative} batch ${index + 1}`,
      fileLines: batchFileLines(fileText, batch.line, batch.text.split('\n').length),
      text: batch.text,
    }));
  });
}

interface StatementLike {
  name?: unknown;
  text: string;
}

function isStatement(value: unknown): value is StatementLike {
  return typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string';
}

/** Substitutes `$(Schema)` as the store does at open (the only variable it substitutes). */
function bindSchema(text: string): string {
  return text.split('$(Schema)').join(SCHEMA);
}

/** A sqlcmd variable the store leaves in place: inside brackets it would still parse, as a strange name. */
const UNBOUND_VARIABLE = /\$\([A-Za-z_][A-Za-z0-9_-]*\)/;

/**
 * Calls a function with a flags object that answers `true` to every property read, and records the reads: a
 * statement builder such as `listTasksStatement(shape)` reveals its flags without this file naming them.
 */
function probeFlags(builder: (flags: unknown) => unknown): { flags: string[]; result: unknown } {
  const read = new Set<string>();
  const recorder = new Proxy(
    {},
    {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        read.add(key);
        return true;
      },
    },
  );
  const result = builder(recorder);
  return { flags: [...read], result };
}

/** Every combination of true and false over `flags` (2^n objects). */
function flagCombinations(flags: readonly string[]): Array<Record<string, boolean>> {
  return Array.from({ length: 2 ** flags.length }, (_unused, bits) =>
    Object.fromEntries(flags.map((flag, index) => [flag, (bits & (2 ** index)) !== 0])),
  );
}

const MAX_FLAGS = 8;

const NOT_A_BUILDER =
  'this check parses what a statements/ module exports: statements, and functions that build one from an ' +
  'object of boolean flags; keep other helpers in statement.ts, or teach test/repo/tsqlSyntax.ts to call it';

/** The statements one exported function builds, or why it is not a statement builder. */
function builtStatements(where: string, builder: (flags: unknown) => unknown): SqlUnit[] | string {
  let probe: ReturnType<typeof probeFlags>;
  try {
    probe = probeFlags(builder);
  } catch (err) {
    return `${where} threw when called with a flags object (${(err as Error).message}): ${NOT_A_BUILDER}`;
  }
  if (!isStatement(probe.result)) return `${where} returned no statement for a flags object: ${NOT_A_BUILDER}`;
  if (probe.flags.length > MAX_FLAGS) return `${where} reads ${probe.flags.length} flags (over ${MAX_FLAGS})`;
  return flagCombinations(probe.flags).map((flags) => {
    const built = builder(flags) as StatementLike;
    const on = Object.keys(flags).filter((flag) => flags[flag]);
    return { where: `${where}({${on.join(', ')}})`, fileLines: null, text: bindSchema(built.text) };
  });
}

export interface StatementDiscovery {
  /** The module files found, relative to the repository. */
  modules: string[];
  units: SqlUnit[];
  /**
   * What this check cannot cover: exported functions that build no statement from a flags object, and
   * statements with a sqlcmd variable other than `$(Schema)`.
   */
  problems: string[];
}

/**
 * Every statement of the mssql adapter. The modules are found with readdirSync and loaded with require
 * because test names are decided when Jest collects the file, before any await.
 */
export function adapterStatements(
  dir = path.join(REPO_ROOT, 'src', 'store', 'mssql', 'statements'),
): StatementDiscovery {
  const discovery: StatementDiscovery = { modules: [], units: [], problems: [] };
  for (const file of fs
    .readdirSync(dir)
    .filter((name) => /\.ts$/.test(name) && !name.endsWith('.d.ts'))
    .sort()) {
    const relative = path.relative(REPO_ROOT, path.join(dir, file));
    discovery.modules.push(relative);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(path.join(dir, file)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(exported)) {
      if (isStatement(value)) {
        const name = typeof value.name === 'string' ? value.name : exportName;
        discovery.units.push({ where: `${relative} ${name}`, fileLines: null, text: bindSchema(value.text) });
      } else if (typeof value === 'function') {
        const built = builtStatements(`${relative} ${exportName}`, value as (flags: unknown) => unknown);
        if (typeof built === 'string') discovery.problems.push(built);
        else discovery.units.push(...built);
      }
    }
  }
  for (const unit of discovery.units) {
    const variable = UNBOUND_VARIABLE.exec(unit.text);
    if (variable) discovery.problems.push(`${unit.where} uses ${variable[0]}, which the store never substitutes`);
  }
  return discovery;
}
