import type { z } from 'zod';
import { MAX_CAPABILITIES } from '../../src/domain/capabilities';
import {
  IDEMPOTENCY_KEY_PATTERN,
  MAX_BATCH,
  batchSubmissionSchema,
  stableStringify,
  taskSubmissionSchema,
} from '../../src/domain/submission';
import { PRIORITIES } from '../../src/domain/task';

function ok(body: unknown) {
  const r = taskSubmissionSchema.safeParse(body);
  if (!r.success) throw new Error(`expected success, got ${JSON.stringify(r.error.issues)}`);
  return r.data;
}

/** The issues of a parse that must fail. */
function fails(body: unknown, schema: z.ZodType = taskSubmissionSchema) {
  const r = schema.safeParse(body);
  if (r.success) throw new Error(`expected failure, got ${JSON.stringify(r.data)}`);
  return r.error.issues;
}

const paths = (issues: ReturnType<typeof fails>) => issues.map((i) => i.path.join('.'));

describe('taskSubmissionSchema', () => {
  describe('a minimal body', () => {
    it('needs only a type and fills in the defaults', () => {
      expect(ok({ type: 'echo' })).toStrictEqual({ type: 'echo', requiredCapabilities: [], priority: 'normal' });
    });

    it('leaves unset optional fields absent rather than undefined', () => {
      const s = ok({ type: 'echo' });
      expect(Object.keys(s).sort()).toEqual(['priority', 'requiredCapabilities', 'type']);
    });

    it('rejects a missing type', () => {
      expect(paths(fails({}))).toEqual(['type']);
    });

    it.each([
      ['uppercase', 'Echo'],
      ['space', 'my task'],
      ['empty', ''],
      ['leading dash', '-echo'],
      ['route separator', 'echo~gpu'],
      ['not a string', 42],
    ])('rejects a type with %s (types are not normalised)', (_label, type) => {
      expect(paths(fails({ type }))).toEqual(['type']);
    });

    it.each([null, 'echo', 1, ['echo'], true])('rejects a non-object body %p', (body) => {
      expect(fails(body).length).toBeGreaterThan(0);
    });
  });

  it('accepts and keeps every documented field', () => {
    const body = {
      type: 'checksum',
      payload: { data: 'aGVsbG8=', algorithms: ['sha256'], nested: { n: 1, f: false, z: null } },
      requiredCapabilities: ['gpu'],
      priority: 'critical',
      maxAttempts: 5,
      timeoutSeconds: 12.5,
      delaySeconds: 30,
      deadline: '2030-01-01T00:00:00Z',
    };
    expect(ok(body)).toStrictEqual(body);
  });

  describe('unknown fields', () => {
    it('rejects a misspelt option instead of ignoring it', () => {
      const issues = fails({ type: 'echo', priorty: 'high' });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['priorty'], path: [] });
    });

    it('lists every unknown key', () => {
      const [issue] = fails({ type: 'echo', foo: 1, bar: 2 });
      expect(issue).toMatchObject({ code: 'unrecognized_keys', keys: ['foo', 'bar'] });
    });

    it('reports unknown keys alongside other failures', () => {
      const issues = fails({ type: 'echo', priority: 'urgent', extra: true });
      expect(issues.map((i) => i.code).sort()).toEqual(['invalid_value', 'unrecognized_keys']);
    });
  });

  describe('requiredCapabilities', () => {
    it('trims, lowercases, sorts and deduplicates', () => {
      expect(
        ok({ type: 'echo', requiredCapabilities: [' GPU', 'cuda', 'gpu ', 'AVX2', 'Cuda'] }).requiredCapabilities,
      ).toEqual(['avx2', 'cuda', 'gpu']);
    });

    it('defaults to an empty list, also when given empty', () => {
      expect(ok({ type: 'echo' }).requiredCapabilities).toEqual([]);
      expect(ok({ type: 'echo', requiredCapabilities: [] }).requiredCapabilities).toEqual([]);
    });

    it('names each bad element by index', () => {
      const issues = fails({ type: 'echo', requiredCapabilities: ['ok', 'bad cap', ' ', 'also~bad'] });
      expect(paths(issues)).toEqual(['requiredCapabilities.1', 'requiredCapabilities.2', 'requiredCapabilities.3']);
      expect(issues[0]?.message).toMatch(/1 to 64 characters/);
    });

    it('rejects a non-string element and a non-array value', () => {
      expect(paths(fails({ type: 'echo', requiredCapabilities: ['gpu', 7] }))).toEqual(['requiredCapabilities.1']);
      expect(paths(fails({ type: 'echo', requiredCapabilities: 'gpu' }))).toEqual(['requiredCapabilities']);
    });

    it(`accepts ${MAX_CAPABILITIES} and rejects ${MAX_CAPABILITIES + 1} distinct capabilities`, () => {
      const caps = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
      expect(ok({ type: 'echo', requiredCapabilities: caps(MAX_CAPABILITIES) }).requiredCapabilities).toHaveLength(
        MAX_CAPABILITIES,
      );
      expect(paths(fails({ type: 'echo', requiredCapabilities: caps(MAX_CAPABILITIES + 1) }))).toEqual([
        'requiredCapabilities',
      ]);
    });

    it('counts capabilities after removing duplicates', () => {
      const many = Array.from({ length: MAX_CAPABILITIES + 5 }, () => 'GPU');
      expect(ok({ type: 'echo', requiredCapabilities: many }).requiredCapabilities).toEqual(['gpu']);
    });
  });

  describe('priority', () => {
    it.each(PRIORITIES.map((p) => [p]))('accepts %s', (priority) => {
      expect(ok({ type: 'echo', priority }).priority).toBe(priority);
    });

    it.each(['urgent', 'HIGH', '', 1, null])('rejects %p', (priority) => {
      expect(paths(fails({ type: 'echo', priority }))).toEqual(['priority']);
    });
  });

  describe('maxAttempts', () => {
    it.each([1, 3, 100])('accepts %p', (maxAttempts) => {
      expect(ok({ type: 'echo', maxAttempts }).maxAttempts).toBe(maxAttempts);
    });

    it.each([0, -1, 101, 1.5, '3', null])('rejects %p', (maxAttempts) => {
      expect(paths(fails({ type: 'echo', maxAttempts }))).toEqual(['maxAttempts']);
    });
  });

  describe('timeoutSeconds', () => {
    it.each([0.001, 1, 86_400])('accepts %p', (timeoutSeconds) => {
      expect(ok({ type: 'echo', timeoutSeconds }).timeoutSeconds).toBe(timeoutSeconds);
    });

    it.each([0, -1, 86_401, '10'])('rejects %p', (timeoutSeconds) => {
      expect(paths(fails({ type: 'echo', timeoutSeconds }))).toEqual(['timeoutSeconds']);
    });
  });

  describe('delaySeconds', () => {
    it.each([0, 0.25, 60, 31_536_000])('accepts %p', (delaySeconds) => {
      expect(ok({ type: 'echo', delaySeconds }).delaySeconds).toBe(delaySeconds);
    });

    it('rejects a negative delay with a clear message', () => {
      const issues = fails({ type: 'echo', delaySeconds: -1 });
      expect(paths(issues)).toEqual(['delaySeconds']);
      expect(issues[0]?.message).toBe('must not be negative');
      expect(paths(fails({ type: 'echo', delaySeconds: -0.001 }))).toEqual(['delaySeconds']);
    });

    it('rejects more than a year and a non-number', () => {
      expect(paths(fails({ type: 'echo', delaySeconds: 31_536_001 }))).toEqual(['delaySeconds']);
      expect(paths(fails({ type: 'echo', delaySeconds: '5' }))).toEqual(['delaySeconds']);
    });
  });

  describe('deadline', () => {
    it.each([
      '2030-01-01T00:00:00Z',
      '2030-01-01T00:00:00.123Z',
      '2030-06-30T12:30:00+02:00',
      '2030-06-30T12:30:00-05:30',
    ])('accepts the ISO 8601 date-time %p', (deadline) => {
      expect(ok({ type: 'echo', deadline }).deadline).toBe(deadline);
    });

    it.each([
      ['a date without a time', '2030-01-01'],
      ['a date-time without an offset', '2030-01-01T00:00:00'],
      ['a space instead of T', '2030-01-01 00:00:00Z'],
      ['free text', 'tomorrow'],
      ['epoch milliseconds', 1_900_000_000_000],
      ['an impossible month', '2030-13-01T00:00:00Z'],
    ])('rejects %s', (_label, deadline) => {
      expect(paths(fails({ type: 'echo', deadline }))).toEqual(['deadline']);
    });
  });

  describe('payload', () => {
    it.each([
      ['an object', { a: [1, { b: null }], c: 'x' }],
      ['an array', [1, 'two', false, null]],
      ['a string', 'hello'],
      ['a number', 3.14],
      ['a boolean', true],
      ['null', null],
    ])('accepts %s', (_label, payload) => {
      expect(ok({ type: 'echo', payload }).payload).toEqual(payload);
    });

    it.each([
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['a function', () => 1],
      ['a Date', new Date(0)],
      ['a bigint', 1n],
    ])('rejects %s, which is not JSON', (_label, payload) => {
      expect(paths(fails({ type: 'echo', payload }))).toEqual(['payload']);
    });
  });

  it('reports every failing field at once', () => {
    const issues = fails({ type: 'Bad', priority: 'x', maxAttempts: 0, delaySeconds: -5, deadline: 'soon' });
    expect(paths(issues).sort()).toEqual(['deadline', 'delaySeconds', 'maxAttempts', 'priority', 'type']);
  });
});

describe('batchSubmissionSchema', () => {
  it('accepts 1 to MAX_BATCH tasks without validating the tasks themselves', () => {
    expect(batchSubmissionSchema.parse({ tasks: [{ type: 'echo' }] }).tasks).toHaveLength(1);
    expect(batchSubmissionSchema.parse({ tasks: [42, 'anything'] }).tasks).toEqual([42, 'anything']);
    expect(batchSubmissionSchema.parse({ tasks: Array.from({ length: MAX_BATCH }, () => ({})) }).tasks).toHaveLength(
      MAX_BATCH,
    );
  });

  it('rejects an empty batch', () => {
    const issues = fails({ tasks: [] }, batchSubmissionSchema);
    expect(issues).toMatchObject([{ path: ['tasks'], message: 'at least one task' }]);
  });

  it('rejects a batch over the limit', () => {
    const issues = fails({ tasks: Array.from({ length: MAX_BATCH + 1 }, () => ({})) }, batchSubmissionSchema);
    expect(issues).toMatchObject([{ path: ['tasks'], message: `at most ${MAX_BATCH} tasks` }]);
  });

  it('rejects a missing or non-array tasks field and unknown fields', () => {
    expect(paths(fails({}, batchSubmissionSchema))).toEqual(['tasks']);
    expect(paths(fails({ tasks: { type: 'echo' } }, batchSubmissionSchema))).toEqual(['tasks']);
    expect(fails({ tasks: [{}], wait: true }, batchSubmissionSchema)).toMatchObject([
      { code: 'unrecognized_keys', keys: ['wait'] },
    ]);
  });
});

describe('IDEMPOTENCY_KEY_PATTERN', () => {
  it.each(['a', 'order-42', 'b7f1c0de-1d2e-4f00-9a00-000000000000', '!~', 'x'.repeat(200)])('accepts %p', (key) => {
    expect(IDEMPOTENCY_KEY_PATTERN.test(key)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a space', 'a b'],
    ['a tab', 'a\tb'],
    ['non-ASCII', 'clé'],
    ['201 characters', 'x'.repeat(201)],
  ])('rejects %s', (_label, key) => {
    expect(IDEMPOTENCY_KEY_PATTERN.test(key)).toBe(false);
  });
});

describe('stableStringify', () => {
  it('is independent of key order', () => {
    expect(stableStringify({ a: 1, b: 2, c: 3 })).toBe(stableStringify({ c: 3, a: 1, b: 2 }));
    expect(stableStringify({ b: 2, a: 1 })).toBe('{"a":1,"b":2}');
  });

  it('sorts keys at every depth, including objects inside arrays', () => {
    const one = { z: { y: 1, x: [{ b: 1, a: 2 }, [{ d: 4, c: 3 }]] }, a: null };
    const two = { a: null, z: { x: [{ a: 2, b: 1 }, [{ c: 3, d: 4 }]], y: 1 } };
    expect(stableStringify(one)).toBe(stableStringify(two));
    expect(stableStringify(one)).toBe('{"a":null,"z":{"x":[{"a":2,"b":1},[{"c":3,"d":4}]],"y":1}}');
  });

  it('keeps array order significant', () => {
    expect(stableStringify([1, 2])).not.toBe(stableStringify([2, 1]));
    expect(stableStringify({ a: [[1, 2], [3]] })).not.toBe(stableStringify({ a: [[3], [1, 2]] }));
  });

  it('serialises nested arrays like JSON', () => {
    expect(stableStringify([[], [[]], [1, [2, [3, ['four']]]]])).toBe('[[],[[]],[1,[2,[3,["four"]]]]]');
  });

  it('matches JSON.stringify for primitives and already-sorted structures', () => {
    for (const v of [null, true, false, 0, -1.5, 'text', 'quo"te\\\n', '', { a: 1, b: [true, null, 'x'] }, []]) {
      expect(stableStringify(v)).toBe(JSON.stringify(v));
    }
  });

  it('escapes keys', () => {
    expect(stableStringify({ 'we"ird': 1 })).toBe('{"we\\"ird":1}');
  });

  it('omits undefined properties, as JSON does', () => {
    expect(stableStringify({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(stableStringify({ a: 1, b: undefined })).toBe(stableStringify({ a: 1 }));
  });

  it('writes undefined array elements and a bare undefined as null', () => {
    expect(stableStringify([1, undefined])).toBe('[1,null]');
    expect(stableStringify(undefined)).toBe('null');
  });

  it('distinguishes bodies that differ only in a nested value', () => {
    expect(stableStringify({ a: { b: [1, { c: 1 }] } })).not.toBe(stableStringify({ a: { b: [1, { c: 2 }] } }));
  });

  it('distinguishes a string from a number and an empty object from an empty array', () => {
    expect(stableStringify({ a: '1' })).not.toBe(stableStringify({ a: 1 }));
    expect(stableStringify({})).toBe('{}');
    expect(stableStringify([])).toBe('[]');
  });

  it('round-trips through JSON.parse to an equal value', () => {
    const v = { type: 'echo', payload: { list: [3, 1, 2], nested: { y: 'y', x: 'x' } }, priority: 'high' };
    expect(JSON.parse(stableStringify(v))).toEqual(v);
  });
});
