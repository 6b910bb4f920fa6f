'use strict';
/**
 * Parses batches of T-SQL with the grammars-v4 T-SQL grammar, as built by `antlr4ts-sql`.
 *
 * Input (stdin): a JSON array of texts. Output (stdout): a JSON array, for each text, of its problems
 * `{ line, column, token, message }` (line 1-based, column 0-based): empty when the grammar accepts the text,
 * else the lexer's errors and the first parse error.
 *
 * tsqlSyntax.ts runs this in a plain Node process, once for every text a test file needs: inside Jest's module
 * sandbox the parser runs about three times slower (7.7 s of CPU rather than 2.8 s for the first migration).
 */
const fs = require('node:fs');
const { BailErrorStrategy, NoViableAltException, RecognitionException, Token } = require('antlr4ts');
const { PredictionMode } = require('antlr4ts/atn');
const { ParseCancellationException } = require('antlr4ts/misc');
const { antlr4tsSQL, SQLDialect } = require('antlr4ts-sql');

const tsql = new antlr4tsSQL(SQLDialect.TSQL);

/** The token as written: antlr4ts-sql lexes an upper-cased copy of the text, whose tokens print as `<835>`. */
function tokenText(text, token) {
  return token.type === Token.EOF ? '<EOF>' : text.slice(token.startIndex, token.stopIndex + 1);
}

function lexerErrors(text, problems) {
  return {
    syntaxError(_recognizer, _symbol, line, column, message) {
      const token = text.split('\n')[line - 1]?.slice(column, column + 1) ?? '';
      problems.push({ line, column, token, message });
    },
  };
}

/** The first token the grammar could not fit, and the tokens it would have taken when they are few. */
function fromException(text, parser, error) {
  const token = error.getOffendingToken(parser) ?? parser.currentToken;
  const kind = error instanceof NoViableAltException ? 'no viable alternative' : 'unexpected token';
  const expected = error.expectedTokens?.toArray() ?? [];
  const names = expected.map((type) => parser.vocabulary.getDisplayName(type));
  const hint = names.length > 0 && names.length <= 6 ? `, expecting ${names.join(' or ')}` : '';
  return { line: token.line, column: token.charPositionInLine, token: tokenText(text, token), message: kind + hint };
}

/** One parse that stops at the first error, with the given prediction mode. */
function parseOnce(text, mode) {
  const problems = [];
  const parser = tsql.getParser(tsql.getTokens(text, [lexerErrors(text, problems)]), []);
  parser.interpreter.setPredictionMode(mode);
  parser.errorHandler = new BailErrorStrategy();
  try {
    tsql.getParseTree(parser);
  } catch (err) {
    if (!(err instanceof ParseCancellationException)) throw err;
    const cause = err.getCause();
    if (!(cause instanceof RecognitionException)) throw cause;
    problems.push(fromException(text, parser, cause));
  }
  return problems;
}

/**
 * Stops at the first error because ANTLR's recovery, on this grammar, costs seconds per error (it computes
 * sets of hundreds of tokens). SLL prediction goes first: it is several times faster and never accepts what
 * full LL refuses (it can only fail where LL succeeds), so only its failures are parsed again, with LL.
 */
function parseTsql(text) {
  const fast = parseOnce(text, PredictionMode.SLL);
  return fast.length === 0 ? fast : parseOnce(text, PredictionMode.LL);
}

if (require.main === module) {
  const texts = JSON.parse(fs.readFileSync(0, 'utf8'));
  process.stdout.write(JSON.stringify(texts.map(parseTsql)));
}

module.exports = { parseTsql };
