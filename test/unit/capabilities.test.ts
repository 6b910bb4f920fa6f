import {
  MAX_CAPABILITIES,
  covers,
  isToken,
  normaliseCapabilities,
  parseCapabilityList,
  parseRouteKey,
  routeKey,
  workerServesRoute,
} from '../../src/domain/capabilities';
import { TaskfleetError, ValidationError, type FieldIssue } from '../../src/domain/errors';

/** Runs `fn`, expects a ValidationError and returns its issues. */
function issuesFrom(fn: () => unknown): FieldIssue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

const distinct = (n: number, prefix = 'cap') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('isToken', () => {
  it.each(['a', '0', 'gpu', 'cuda-12', 'avx2', 'x86_64', 'region.eu-west-1', 'a'.repeat(64)])('accepts %p', (t) => {
    expect(isToken(t)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['uppercase', 'GPU'],
    ['leading dash', '-gpu'],
    ['leading dot', '.gpu'],
    ['leading underscore', '_gpu'],
    ['space inside', 'big gpu'],
    ['surrounding space', ' gpu'],
    ['route separator ~', 'a~b'],
    ['route separator +', 'a+b'],
    ['comma', 'a,b'],
    ['non-ASCII', 'gpü'],
    ['65 characters', 'a'.repeat(65)],
  ])('rejects %s', (_label, t) => {
    expect(isToken(t)).toBe(false);
  });
});

describe('normaliseCapabilities', () => {
  it('trims, lowercases, sorts and deduplicates', () => {
    expect(normaliseCapabilities([' GPU ', 'cuda', 'gpu', 'Avx2', '\tCUDA\n'])).toEqual(['avx2', 'cuda', 'gpu']);
  });

  it('returns an empty list for an empty input', () => {
    expect(normaliseCapabilities([])).toEqual([]);
  });

  it('sorts by code unit order, so the result is independent of input order', () => {
    const a = normaliseCapabilities(['b', 'a.1', 'a-1', 'a_1', 'a1', '10', '9']);
    const b = normaliseCapabilities(['9', '10', 'a1', 'a_1', 'a-1', 'a.1', 'b']);
    expect(a).toEqual(b);
    expect(a).toEqual(['10', '9', 'a-1', 'a.1', 'a1', 'a_1', 'b']);
  });

  it('is idempotent', () => {
    const once = normaliseCapabilities(['Zeta', 'alpha', ' ALPHA ']);
    expect(normaliseCapabilities(once)).toEqual(once);
  });

  it('does not mutate its input', () => {
    const input: readonly string[] = Object.freeze(['B', 'a']);
    expect(normaliseCapabilities(input)).toEqual(['a', 'b']);
    expect(input).toEqual(['B', 'a']);
  });

  it('names every invalid element by its index under the default field', () => {
    const issues = issuesFrom(() => normaliseCapabilities(['ok', '', 'big gpu', ' -x', 'UPPER', 'a+b']));
    expect(issues.map((i) => i.field)).toEqual([
      'requiredCapabilities[1]',
      'requiredCapabilities[2]',
      'requiredCapabilities[3]',
      'requiredCapabilities[5]',
    ]);
  });

  it('quotes the raw (un-normalised) value and states the rule in each message', () => {
    const [issue] = issuesFrom(() => normaliseCapabilities(['fine', ' Bad Token ']));
    expect(issue?.field).toBe('requiredCapabilities[1]');
    expect(issue?.message).toContain('" Bad Token "');
    expect(issue?.message).toMatch(/1 to 64 characters/);
  });

  it('uses the given field name', () => {
    const issues = issuesFrom(() => normaliseCapabilities(['a', 'b c'], 'capabilities'));
    expect(issues).toEqual([{ field: 'capabilities[1]', message: expect.any(String) }]);
  });

  it('throws a 400 validation_failed TaskfleetError whose message names the field', () => {
    let caught: unknown;
    try {
      normaliseCapabilities(['no way']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TaskfleetError);
    const err = caught as ValidationError;
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation_failed');
    expect(err.message).toContain('requiredCapabilities[0]');
  });

  it(`accepts exactly ${MAX_CAPABILITIES} distinct capabilities`, () => {
    expect(normaliseCapabilities(distinct(MAX_CAPABILITIES))).toHaveLength(MAX_CAPABILITIES);
  });

  it(`rejects more than ${MAX_CAPABILITIES} distinct capabilities on the list itself`, () => {
    const issues = issuesFrom(() => normaliseCapabilities(distinct(MAX_CAPABILITIES + 1), 'caps'));
    expect(issues).toEqual([{ field: 'caps', message: `at most ${MAX_CAPABILITIES} capabilities` }]);
  });

  it('counts capabilities after deduplication', () => {
    const input = [...distinct(MAX_CAPABILITIES), ...distinct(MAX_CAPABILITIES).map((c) => c.toUpperCase())];
    expect(normaliseCapabilities(input)).toHaveLength(MAX_CAPABILITIES);
  });

  it('reports invalid elements and the count limit together', () => {
    const input = [...distinct(MAX_CAPABILITIES + 1), 'not valid'];
    const issues = issuesFrom(() => normaliseCapabilities(input));
    expect(issues.map((i) => i.field)).toEqual([
      `requiredCapabilities[${MAX_CAPABILITIES + 1}]`,
      'requiredCapabilities',
    ]);
  });
});

describe('parseCapabilityList', () => {
  it('splits on commas, trims, drops empty items and normalises', () => {
    expect(parseCapabilityList(' gpu, CUDA ,,gpu , avx2,', '--capabilities')).toEqual(['avx2', 'cuda', 'gpu']);
  });

  it('returns an empty list for an empty or blank string', () => {
    expect(parseCapabilityList('', 'X')).toEqual([]);
    expect(parseCapabilityList(' , ,', 'X')).toEqual([]);
  });

  it('names a bad item under the given field', () => {
    const issues = issuesFrom(() => parseCapabilityList('gpu,big gpu', 'TASKFLEET_CAPABILITIES'));
    expect(issues.map((i) => i.field)).toEqual(['TASKFLEET_CAPABILITIES[1]']);
  });
});

describe('covers', () => {
  it('is true when the worker has every required capability (array or Set)', () => {
    expect(covers(['avx2', 'cuda', 'gpu'], ['cuda', 'gpu'])).toBe(true);
    expect(covers(new Set(['avx2', 'cuda', 'gpu']), ['cuda', 'gpu'])).toBe(true);
  });

  it('is true for an equal set', () => {
    expect(covers(['gpu'], ['gpu'])).toBe(true);
  });

  it('is false when any required capability is missing', () => {
    expect(covers(['gpu'], ['cuda', 'gpu'])).toBe(false);
    expect(covers(new Set(['gpu']), ['cuda'])).toBe(false);
    expect(covers([], ['gpu'])).toBe(false);
  });

  it('is true for an empty requirement, whatever the worker has', () => {
    expect(covers([], [])).toBe(true);
    expect(covers(new Set<string>(), [])).toBe(true);
    expect(covers(['gpu'], [])).toBe(true);
  });

  it('compares normalised tokens exactly (callers normalise first)', () => {
    expect(covers(['gpu'], ['GPU'])).toBe(false);
  });
});

describe('routeKey / parseRouteKey', () => {
  it('formats type~cap+cap', () => {
    expect(routeKey('echo', ['cuda', 'gpu'])).toBe('echo~cuda+gpu');
    expect(routeKey('echo', ['gpu'])).toBe('echo~gpu');
  });

  it('formats an empty capability set as type~', () => {
    expect(routeKey('echo', [])).toBe('echo~');
  });

  it.each([
    ['no capabilities', 'echo', [] as string[]],
    ['one capability', 'sleep', ['gpu']],
    ['several capabilities', 'checksum', ['avx2', 'cuda', 'region.eu-west-1', 'x86_64']],
    ['tokens with dots, dashes and underscores', 'my-type.v2_x', ['a-b', 'c.d', 'e_f']],
  ])('round-trips a route with %s', (_label, type, capabilities) => {
    const key = routeKey(type, capabilities);
    expect(parseRouteKey(key)).toEqual({ type, capabilities });
    expect(routeKey(parseRouteKey(key).type, parseRouteKey(key).capabilities)).toBe(key);
  });

  it('gives different keys to different capability sets of one type', () => {
    const keys = new Set([routeKey('t', []), routeKey('t', ['a']), routeKey('t', ['a', 'b']), routeKey('t', ['ab'])]);
    expect(keys.size).toBe(4);
  });

  it('rejects a string without the separator', () => {
    expect(() => parseRouteKey('echo')).toThrow(/not a route key: echo/);
    expect(() => parseRouteKey('')).toThrow(/not a route key/);
  });
});

describe('workerServesRoute', () => {
  const worker = { types: ['echo', 'sleep'], capabilities: ['cuda', 'gpu'] };

  it('serves a route whose type it handles and whose capabilities it covers', () => {
    expect(workerServesRoute(worker, { type: 'echo', capabilities: ['gpu'] })).toBe(true);
    expect(workerServesRoute(worker, { type: 'sleep', capabilities: ['cuda', 'gpu'] })).toBe(true);
  });

  it('serves a route with no capabilities for a type it handles', () => {
    expect(workerServesRoute(worker, { type: 'echo', capabilities: [] })).toBe(true);
    expect(workerServesRoute({ types: ['echo'], capabilities: [] }, parseRouteKey(routeKey('echo', [])))).toBe(true);
  });

  it('does not serve a type it has no handler for, even if it covers the capabilities', () => {
    expect(workerServesRoute(worker, { type: 'checksum', capabilities: [] })).toBe(false);
  });

  it('does not serve a route needing a capability it lacks', () => {
    expect(workerServesRoute(worker, { type: 'echo', capabilities: ['gpu', 'tpu'] })).toBe(false);
  });

  it('does not serve anything without handler types', () => {
    expect(workerServesRoute({ types: [], capabilities: ['gpu'] }, { type: 'echo', capabilities: [] })).toBe(false);
  });
});
