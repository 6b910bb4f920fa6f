/**
 * Renders domain constants (state lists, error texts) into statement text at module load, so both adapters'
 * SQL carries the one value decided in src/domain. Only for constants written in the code, never for input:
 * values a caller sends are always bound as parameters.
 */

/** A single-quoted SQL string literal ('' escapes a quote, in SQLite and T-SQL alike). */
export function sqlString(value: string): string {
  return `'${value.split("'").join("''")}'`;
}

/** A comma-separated list of string literals for `IN (…)`: ('a', 'b'). Throws on an empty list. */
export function sqlStringList(values: readonly string[]): string {
  if (values.length === 0) throw new Error('sqlStringList: an empty IN list matches nothing and is invalid SQL');
  return values.map(sqlString).join(', ');
}

/** A value as JSON in a string literal, for a JSON column written with a constant. */
export function sqlJson(value: unknown): string {
  return sqlString(JSON.stringify(value));
}
