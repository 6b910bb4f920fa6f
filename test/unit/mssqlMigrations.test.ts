/**
 * The T-SQL migrations as the Node deployer reads them: the GO splitter and sqlcmd variables, the file list,
 * the ledger logic, and the shape every migration must have (lock, ledger check, one transaction). None of
 * the T-SQL runs here: see the mssql contract suite for that.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  listMigrations,
  migrationsDir,
  MigrationFileError,
  planMigrations,
  splitBatches,
} from '../../src/store/mssql/deploy/migrations';
import { REQUIRED_SCHEMA_VERSION } from '../../src/store/mssql/open';

describe('splitBatches (sqlcmd GO)', () => {
  it('splits on GO alone on a line, in any case, with an optional count and comment', () => {
    const batches = splitBatches('SELECT 1;\nGO\nSELECT 2;\n  go  \nSELECT 3;\nGo 3 -- three times\nSELECT 4;');
    expect(batches.map((b) => [b.text.trim(), b.repeat, b.line])).toEqual([
      ['SELECT 1;', 1, 1],
      ['SELECT 2;', 1, 3],
      ['SELECT 3;', 3, 5],
      ['SELECT 4;', 1, 7],
    ]);
  });

  it('does not split on GO inside words, strings, block comments or bracketed names', () => {
    const script = [
      'SELECT 1 AS going; -- GO here is a comment',
      "PRINT N'text",
      'GO',
      "still text';",
      '/* a comment',
      'GO',
      '/* nested */ still in the comment',
      '*/',
      'SELECT [a',
      'GO',
      'b] FROM t;',
      'GO',
    ].join('\n');
    const batches = splitBatches(script);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.text).toContain("still text';");
    expect(batches[0]?.text).toContain('b] FROM t;');
  });

  it('treats doubled quotes as escapes, and CRLF line ends like LF', () => {
    const batches = splitBatches("PRINT 'it''s';\r\nGO\r\nPRINT 'x';\r\n");
    expect(batches.map((b) => b.text.trim())).toEqual(["PRINT 'it''s';", "PRINT 'x';"]);
  });

  it('skips empty batches', () => {
    expect(splitBatches('GO\n\nGO\n  \n')).toEqual([]);
  });

  it('substitutes $(variables) everywhere, names case-insensitive, and refuses an undefined one', () => {
    const [batch] = splitBatches("CREATE TABLE [$(Schema)].[t] (x int); PRINT '$(schema)';", { Schema: 'tf' });
    expect(batch?.text).toBe("CREATE TABLE [tf].[t] (x int); PRINT 'tf';");
    expect(() => splitBatches('SELECT $(Missing);', {}, 'f.sql')).toThrow(
      new MigrationFileError('f.sql:1: scripting variable $(Missing) is not defined'),
    );
  });

  it('lets :setvar override -v values from its line on, as sqlcmd does, and accepts :on error exit', () => {
    const script = ':on error exit\nSELECT $(Schema);\n:setvar Schema "other"\nSELECT $(Schema);\n:setvar Schema\nGO';
    const [batch] = splitBatches(script, { Schema: 'tf' });
    expect(batch?.text).toBe('SELECT tf;\nSELECT other;');
    expect(batch?.line).toBe(2);
  });

  it('refuses other sqlcmd commands and a script that ends inside a comment or a string', () => {
    expect(() => splitBatches(':r other.sql')).toThrow(/:r is not supported/);
    expect(() => splitBatches('/* open')).toThrow(/ends inside a comment/);
    expect(() => splitBatches("SELECT 'open")).toThrow(/ends inside a quoted text/);
    expect(() => splitBatches('SELECT 1;\nGO 0')).toThrow(/at least 1/);
  });
});

describe('listMigrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskfleet-migrations-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const touch = (...names: string[]) => names.forEach((n) => fs.writeFileSync(path.join(dir, n), 'SELECT 1;\n'));

  it('lists NNNN_name.sql files in order, ignoring other files', () => {
    touch('0002_b.sql', '0001_a.sql', 'README.md');
    expect(listMigrations(dir).map((m) => [m.version, m.name])).toEqual([
      [1, '0001_a'],
      [2, '0002_b'],
    ]);
  });

  it.each([
    [['0001_a.sql', '0003_c.sql'], /expected migration 0002/],
    [['0002_b.sql'], /expected migration 0001/],
    [['0001_a.sql', '0001_b.sql'], /expected migration 0002/],
    [['0001_Bad-Name.sql'], /NNNN_lowercase_words/],
    [[], /no migrations/],
  ])('refuses %p', (names, message) => {
    touch(...names);
    expect(() => listMigrations(dir)).toThrow(message);
  });
});

describe('planMigrations (the ledger)', () => {
  const files = [1, 2, 3].map((v) => ({ version: v, name: `000${v}_m${v}`, path: `/m/000${v}_m${v}.sql` }));

  it('plans everything for a new database, and nothing for an up-to-date one', () => {
    expect(planMigrations(files, []).pending.map((f) => f.version)).toEqual([1, 2, 3]);
    const ledger = files.map((f) => ({ version: f.version, name: f.name }));
    expect(planMigrations(files, ledger)).toEqual({ applied: files, pending: [] });
  });

  it('plans only what the ledger lacks', () => {
    const plan = planMigrations(files, [{ version: 1, name: '0001_m1' }]);
    expect(plan.applied.map((f) => f.version)).toEqual([1]);
    expect(plan.pending.map((f) => f.version)).toEqual([2, 3]);
  });

  it('refuses a database newer than the build, and a migration recorded under another name', () => {
    expect(() => planMigrations(files, [{ version: 4, name: '0004_future' }])).toThrow(/does not have/);
    expect(() => planMigrations(files, [{ version: 2, name: '0002_renamed' }])).toThrow(/append-only/);
  });
});

describe('the migrations in sql/migrations', () => {
  const files = listMigrations(migrationsDir());
  const texts = files.map((f) => ({ ...f, text: fs.readFileSync(f.path, 'utf8') }));

  it('are found from the source tree, and the store requires the last of them', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(REQUIRED_SCHEMA_VERSION).toBe(files.length);
  });

  it.each(texts.map((t) => [t.name, t] as const))('%s is one guarded transaction that records itself', (name, m) => {
    const batches = splitBatches(m.text, { Schema: 'tf_check' }, name);
    expect(batches).toHaveLength(1);
    const sql = batches[0]?.text ?? '';
    expect(sql).not.toContain('$(');
    expect(sql).toMatch(/^SET XACT_ABORT ON;/m);
    expect(sql.match(/BEGIN TRANSACTION;/g)).toHaveLength(1);
    expect(sql).toContain("EXEC @lock = sys.sp_getapplock @Resource = N'taskfleet.migrations.tf_check'");
    expect(sql).toContain("@LockOwner = N'Transaction'");
    expect(sql).toContain(`IF EXISTS (SELECT 1 FROM [tf_check].[schema_version] WHERE version = ${m.version})`);
    expect(sql).toContain(
      `INSERT INTO [tf_check].[schema_version] (version, name) VALUES (${m.version}, N'${m.name}');\nCOMMIT TRANSACTION;`,
    );
    // Every path out of the transaction commits or rolls back: a RETURN follows a COMMIT, a THROW a ROLLBACK.
    for (const match of sql.matchAll(/^\s*RETURN;/gm)) {
      expect(sql.slice(0, match.index).trimEnd()).toMatch(/PRINT N'[^']*';$/);
    }
    for (const match of sql.matchAll(/^\s*THROW /gm)) {
      expect(sql.slice(0, match.index).trimEnd()).toMatch(/ROLLBACK TRANSACTION;$/);
    }
    // Parentheses and BEGIN … END balance (outside strings and comments).
    const code = sql.replace(/--.*$/gm, '').replace(/N?'(?:[^']|'')*'/g, "''");
    expect((code.match(/\(/g) ?? []).length).toBe((code.match(/\)/g) ?? []).length);
    const begins = (code.match(/\bBEGIN\b(?!\s+TRANSACTION)/g) ?? []).length;
    expect(begins).toBe((code.match(/\bEND\b/g) ?? []).length);
  });

  it('guard every CREATE with a catalog check, and never use syntax T-SQL lacks', () => {
    for (const m of texts) {
      const lines = m.text.split('\n');
      lines.forEach((line, i) => {
        if (/^\s*CREATE (TABLE|UNIQUE|NONCLUSTERED|ROLE|INDEX)/.test(line)) {
          expect({ file: m.name, line: i + 1, guard: lines[i - 1] }).toEqual({
            file: m.name,
            line: i + 1,
            guard: expect.stringMatching(
              /^\s*IF (NOT EXISTS \(SELECT 1 FROM sys\.|OBJECT_ID\(|DATABASE_PRINCIPAL_ID\()/,
            ),
          });
        }
      });
      expect(m.text).not.toMatch(/IF NOT EXISTS\s+[A-Za-z[]/); // CREATE TABLE IF NOT EXISTS is not T-SQL
      expect(m.text).not.toMatch(/\bADD\s+IF\b/i);
      expect(m.text).not.toMatch(/\bdatetime\b(?!2)/); // datetime2 only
    }
  });

  it('declare every JSON column with an ISJSON check', () => {
    const jsonColumns = texts.flatMap((m) => [...m.text.matchAll(/^\s+(\w+)\s+nvarchar\(max\)/gm)].map((x) => x[1]));
    const all = texts.map((m) => m.text).join('\n');
    for (const column of jsonColumns.filter((c) => c !== 'reason')) {
      expect({ column, checked: new RegExp(`ISJSON\\(${column}\\b`).test(all) }).toEqual({ column, checked: true });
    }
  });
});
