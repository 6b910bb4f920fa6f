/** The parsers of configuration values shared by config.ts and its parts (mssql.ts, retention.ts). */
import { z } from 'zod';

/** A whole number written in decimal digits ("0x10", "1e3" and " " are errors, not numbers). */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * A duration: a whole number with a unit (`7d`, `12h`, `30m`, `45s`, `500ms`), or `0`, in milliseconds. The
 * retention settings read it: days are what an operator thinks in, not milliseconds.
 */
const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const duration = z
  .string()
  .trim()
  .regex(/^(0|\d+(ms|s|m|h|d))$/, 'must be 0 or a whole number with a unit: ms, s, m, h or d (e.g. 7d)')
  .transform((text) => {
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text)!;
    return Number(m[1]) * (DURATION_UNITS_MS[m[2] ?? 'ms'] ?? 1);
  })
  .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));
