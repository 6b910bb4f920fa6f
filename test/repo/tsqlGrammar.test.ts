/**
 * A T-SQL syntax check with a third-party grammar (antlr4ts-sql's build of the grammars-v4 TSqlParser): every
 * migration batch and every statement of the mssql adapter must parse, apart from the grammar gaps listed in
 * GRAMMAR_GAPS. No SQL Server runs here, so this is the strongest outside check of our T-SQL available; it
 * proves syntax only. What is gathered, and how, is in tsqlSyntax.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  adapterStatements,
  describeProblem,
  migrationBatches,
  parseAll,
  parseTsql,
  REPO_ROOT,
  type SqlUnit,
  type SyntaxProblem,
} from './tsqlSyntax';

/**
 * Valid T-SQL this grammar rejects. In the units an entry names, a line that has the entry's shape as a whole
 * is checked by that shape instead of the grammar, and replaced by a stand-in statement of the same kind that
 * the grammar accepts, so the batch around it (an IF body, say) is still parsed whole. The shapes are strict:
 * a typo on such a line (`GRANT SELET`, a missing `TO`) no longer matches and reaches the grammar.
 */
interface GrammarGap {
  /** The batches or statements where the construct appears, as a unit's `where` names them. */
  units: readonly string[];
  construct: string;
  /** The shape of a whole line (trimmed) that uses the construct correctly. */
  line: RegExp;
  standIn: string;
  /** Why it is valid T-SQL, and what the grammar lacks. */
  why: string;
}

const PERMISSION = '(?:SELECT|INSERT|UPDATE|DELETE)';
const PERMISSIONS = `${PERMISSION}(?:, ${PERMISSION})*`;
const NAME = '\\[[A-Za-z0-9_]+\\]';
const GRANT_STAND_IN = 'GRANT SELECT ON [taskfleet].[tasks] TO [stand_in];';

const GRAMMAR_GAPS: readonly GrammarGap[] = [
  {
    units: [
      'sql/migrations/0003_roles.sql batch 1',
      'sql/migrations/0008_progress_and_logs.sql batch 1',
      'sql/migrations/0010_webhooks.sql batch 1',
      'sql/migrations/0012_agent_metrics.sql batch 1',
      'sql/migrations/0013_schedules.sql batch 1',
      'sql/migrations/0015_route_controls.sql batch 1',
      'sql/migrations/0017_workflows.sql batch 1',
      'sql/migrations/0018_route_minutes.sql batch 1',
    ],
    construct: 'GRANT with a list of permissions, or with the UPDATE or DELETE permission',
    line: new RegExp(`^GRANT (?:${PERMISSION}(?:, ${PERMISSION})+|UPDATE|DELETE) ON ${NAME}\\.${NAME} TO ${NAME};$`),
    standIn: GRANT_STAND_IN,
    why:
      'GRANT takes a comma-separated list of permissions (GRANT permission [ ,...n ] ON securable TO principal), ' +
      'and UPDATE and DELETE are object permissions like SELECT and INSERT. The grammar accepts a single ' +
      'permission from a fixed subset that lacks UPDATE and DELETE.',
  },
  {
    units: ['sql/migrations/0003_roles.sql batch 1'],
    construct: 'DENY, on a table or on a schema (ON SCHEMA::name)',
    line: new RegExp(`^DENY ${PERMISSIONS} ON (?:SCHEMA::${NAME}|${NAME}\\.${NAME}) TO ${NAME};$`),
    standIn: GRANT_STAND_IN,
    why:
      'DENY is one of the three permission statements (GRANT, DENY, REVOKE) and has the syntax of GRANT; ' +
      '`SCHEMA::` names the class of the securable. The grammar knows the DENY keyword but has no statement rule for it.',
  },
];

/** A unit's text as the grammar sees it: each line of a grammar gap replaced by the gap's stand-in. */
function withStandIns(unit: SqlUnit): { text: string; replaced: Array<{ gap: GrammarGap; line: string }> } {
  const replaced: Array<{ gap: GrammarGap; line: string }> = [];
  const lines = unit.text.split('\n').map((line) => {
    const gap = GRAMMAR_GAPS.find(
      (candidate) => candidate.units.includes(unit.where) && candidate.line.test(line.trim()),
    );
    if (!gap) return line;
    replaced.push({ gap, line: line.trim() });
    return `${/^\s*/.exec(line)?.[0] ?? ''}${gap.standIn}`;
  });
  return { text: lines.join('\n'), replaced };
}

/** The grammar's errors in a unit, ready to print (positions and lines are the unit's own: stand-ins keep lines). */
function syntaxErrors(unit: SqlUnit): string[] {
  return problemsOf(withStandIns(unit).text).map((problem) => describeProblem(unit, problem));
}

/** The 1-based line of the first occurrence of `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.indexOf(needle);
  if (index < 0) throw new Error(`"${needle}" not found`);
  return text.slice(0, index).split('\n').length;
}

const batches = migrationBatches();
const statements = adapterStatements();
const units = [...batches, ...statements.units];

/** `unit` with the first `from` replaced by `to`, or undefined when no unit has `from`. */
function broken(unit: SqlUnit | undefined, from: string | RegExp, to: string): SqlUnit | undefined {
  return unit && { ...unit, text: unit.text.replace(from, to) };
}

const HINT_LIST = /WITH \((UPDLOCK|READPAST)[A-Z, ]*\)/;
const hintList = statements.units.find((unit) => HINT_LIST.test(unit.text));
const hintListText = hintList ? (HINT_LIST.exec(hintList.text)?.[0] ?? '') : '';

/** Real T-SQL made wrong in one place; each must be refused there. */
const BROKEN = {
  outpt: statements.units
    .filter((unit) => /\bOUTPUT\b/.test(unit.text))
    .map((unit) => ({ unit, broken: broken(unit, /\bOUTPUT\b/, 'OUTPT') as SqlUnit })),
  hintList: broken(hintList, hintListText, hintListText.slice(0, -1)),
  createTable: broken(
    batches.find((unit) => unit.text.includes('CREATE TABLE [')),
    'CREATE TABLE [',
    'CREATE TABLE IF NOT EXISTS [',
  ),
  onGapLine: broken(
    units.find((unit) => unit.text.includes('GRANT SELECT, INSERT ON')),
    'GRANT SELECT, INSERT ON',
    'GRANT SELECT, INSRT ON',
  ),
};

/** The same mistakes in small statements of their own. */
const SNIPPETS = {
  outpt: "UPDATE [t].[tasks]\nSET status = 'running'\nOUTPT inserted.id\nWHERE id = @id;",
  hintList: 'SELECT TOP (1) id\nFROM [t].[tasks] WITH (UPDLOCK, ROWLOCK\nWHERE id = @id;',
  createTable: 'CREATE TABLE IF NOT EXISTS [t].[x] (id int NOT NULL);',
};

/**
 * Every text the tests look at, parsed up front in one process (starting the parser and warming it up costs
 * seconds; each text after that, milliseconds). A text missed here is parsed on its own when asked for.
 */
const verdicts = (() => {
  const variants = [
    ...BROKEN.outpt.map((entry) => entry.broken),
    BROKEN.hintList,
    BROKEN.createTable,
    BROKEN.onGapLine,
  ];
  const texts = [
    ...[...units, ...variants].flatMap((unit) => (unit ? [withStandIns(unit).text] : [])),
    ...units.flatMap((unit) => withStandIns(unit).replaced.map((entry) => entry.line)),
    ...Object.values(SNIPPETS),
  ];
  const unique = [...new Set(texts)];
  const problems = parseAll(unique);
  return new Map(unique.map((text, index) => [text, problems[index] ?? []]));
})();

function problemsOf(text: string): SyntaxProblem[] {
  let problems = verdicts.get(text);
  if (!problems) {
    problems = parseTsql(text);
    verdicts.set(text, problems);
  }
  return problems;
}

describe('T-SQL grammar: the migrations', () => {
  it('finds the migration batches', () => {
    expect(batches.length).toBeGreaterThan(0);
  });

  it.each(batches.map((unit) => [unit.where, unit] as const))('%s parses', (_where, unit) => {
    expect(syntaxErrors(unit)).toEqual([]);
  });
});

describe('T-SQL grammar: the statements of the mssql adapter', () => {
  it('finds every module, a statement in each, and every statement a builder makes', () => {
    expect(statements.modules.length).toBeGreaterThan(0);
    for (const module of statements.modules) {
      expect([module, statements.units.some((unit) => unit.where.startsWith(`${module} `))]).toEqual([module, true]);
    }
    expect(statements.problems).toEqual([]);
    // A builder's statements are named by the flags set, `name({a, b})`: the one with none set must be there, and
    // combinations of several, or the builder's flags were not found.
    const built = statements.units.filter((unit) => unit.where.endsWith(')'));
    expect(built.some((unit) => unit.where.endsWith('({})'))).toBe(true);
    expect(built.some((unit) => /\(\{\w+(, \w+)+\}\)$/.test(unit.where))).toBe(true);
  });

  it('finds statements by their shape, expands builders, and reports what it cannot cover', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsql-statements-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'sample.ts'),
        [
          "export const ONE = { name: 'ONE', text: 'SELECT 1 FROM [$(Schema)].[t];' };",
          "export const OTHER = { name: 'OTHER', text: 'SELECT 1 FROM [$(Other)].[t];' };",
          "export const WORDS = ['not', 'a', 'statement'];",
          'export function build(shape: { a: boolean; b: boolean }) {',
          "  return { name: 'BUILT', text: `SELECT ${shape.a ? 1 : 0} + ${shape.b ? 1 : 0};` };",
          '}',
          "export function helper(names: string[]) { return names.map((n) => `'${n}'`).join(', '); }",
        ].join('\n'),
      );
      const found = adapterStatements(dir);
      const where = (unit: SqlUnit) => unit.where.slice(unit.where.indexOf(' ') + 1);
      expect(found.units.map((unit) => [where(unit), unit.text])).toEqual([
        ['ONE', 'SELECT 1 FROM [taskfleet].[t];'],
        ['OTHER', 'SELECT 1 FROM [$(Other)].[t];'],
        ['build({})', 'SELECT 0 + 0;'],
        ['build({a})', 'SELECT 1 + 0;'],
        ['build({b})', 'SELECT 0 + 1;'],
        ['build({a, b})', 'SELECT 1 + 1;'],
      ]);
      expect(found.problems).toEqual([
        expect.stringMatching(/sample\.ts helper threw when called with a flags object/),
        expect.stringMatching(/sample\.ts OTHER uses \$\(Other\), which the store never substitutes/),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(statements.units.map((unit) => [unit.where, unit] as const))('%s parses', (_where, unit) => {
    expect(syntaxErrors(unit)).toEqual([]);
  });
});

describe('T-SQL grammar: the allow-list of grammar gaps', () => {
  it('has no stale entry: each one replaces a line in every unit it names, and only lines the grammar rejects', () => {
    for (const gap of GRAMMAR_GAPS) {
      for (const where of gap.units) {
        const unit = units.find((candidate) => candidate.where === where);
        const lines = unit ? withStandIns(unit).replaced.filter((entry) => entry.gap === gap) : [];
        expect([gap.construct, where, lines.length > 0]).toEqual([gap.construct, where, true]);
        const accepted = lines.filter((entry) => problemsOf(entry.line).length === 0).map((entry) => entry.line);
        expect([gap.construct, accepted]).toEqual([gap.construct, []]);
      }
    }
  });

  it('still catches a typo on an allow-listed line', () => {
    if (!BROKEN.onGapLine) throw new Error('no unit grants SELECT, INSERT');
    const errors = syntaxErrors(BROKEN.onGapLine);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toContain('INSRT');
  });
});

describe('T-SQL grammar: it catches', () => {
  it('a typo, OUTPT for OUTPUT, in every statement with an OUTPUT clause, naming the statement and line', () => {
    expect(BROKEN.outpt.length).toBeGreaterThan(0);
    for (const { unit, broken: typo } of BROKEN.outpt) {
      const [first] = problemsOf(typo.text);
      if (!first) throw new Error(`${unit.where}: OUTPT was accepted`);
      const line = lineOf(typo.text, 'OUTPT');
      expect([unit.where, first.line]).toEqual([unit.where, line]);
      const message = describeProblem(typo, first);
      expect(message).toContain(`${unit.where}, line ${line} of its text`);
      expect(message).toContain(`at '${first.token}'`);
      expect(message).toContain('OUTPT');
    }
    expect(problemsOf(SNIPPETS.outpt).map((problem) => problem.line)).toEqual([3]);
  });

  it('an unclosed table-hint list', () => {
    if (!BROKEN.hintList) throw new Error('no statement has a table-hint list');
    const [first] = problemsOf(BROKEN.hintList.text);
    if (!first) throw new Error(`${BROKEN.hintList.where}: an unclosed hint list was accepted`);
    // The list can only be seen to be unclosed at the token after it, at the end of its line or on the next.
    const line = lineOf(BROKEN.hintList.text, hintListText.slice(0, -1));
    expect([line, line + 1]).toContain(first.line);
    expect(problemsOf(SNIPPETS.hintList).length).toBeGreaterThan(0);
  });

  it('CREATE TABLE IF NOT EXISTS, naming the migration file and its line', () => {
    const unit = BROKEN.createTable;
    if (!unit?.fileLines) throw new Error('no migration creates a table');
    const [first] = problemsOf(unit.text);
    const line = lineOf(unit.text, 'IF NOT EXISTS [');
    expect(first && [first.line, first.token]).toEqual([line, 'IF']);
    const file = unit.where.split(' ')[0] ?? '';
    const fileLine = unit.fileLines[line - 1] ?? 0;
    expect(describeProblem(unit, first!)).toContain(`${file}:${fileLine}:${first!.column + 1} `);
    expect(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n')[fileLine - 1]).toContain('CREATE TABLE [');
    expect(problemsOf(SNIPPETS.createTable).map((problem) => problem.token)).toEqual(['IF']);
  });
});
