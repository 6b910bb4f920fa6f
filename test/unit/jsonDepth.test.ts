/**
 * How deep submitted JSON may nest (MAX_JSON_DEPTH), measured without recursion: the walk itself, the payload
 * schema (which must answer an issue, never overflow the stack, whoever calls it) and the body check the API
 * runs before anything recursive reads a body.
 */
import { ValidationError } from '../../src/domain/errors';
import { JSON_DEPTH_RULE, MAX_JSON_DEPTH, taskSubmissionSchema, tooDeepAt } from '../../src/domain/submission';
import { assertShallow } from '../../src/supervisor/validation';

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('tooDeepAt', () => {
  it('measures objects and arrays, not scalars, and names the path to the first level too deep', () => {
    expect(tooDeepAt(1, 0)).toBeNull();
    expect(tooDeepAt({ a: [1] }, 2)).toBeNull();
    expect(tooDeepAt({ a: [1] }, 1)).toEqual(['a']);
    expect(tooDeepAt({ ok: 1, p: { q: [[2]] } }, 3)).toEqual(['p', 'q', 0]);
  });

  it('walks 100,000 levels without recursion', () => {
    expect(tooDeepAt(nested(100_000), 100_000)).toBeNull();
    expect(tooDeepAt(nested(100_000), MAX_JSON_DEPTH)).toHaveLength(MAX_JSON_DEPTH);
  });
});

describe('the payload schema', () => {
  it(`takes a payload ${MAX_JSON_DEPTH} levels deep and answers an issue, not a stack overflow, past it`, () => {
    expect(taskSubmissionSchema.safeParse({ type: 'echo', payload: nested(MAX_JSON_DEPTH) }).success).toBe(true);
    const deep = taskSubmissionSchema.safeParse({ type: 'echo', payload: nested(5_000) });
    expect(deep.error?.issues).toEqual([expect.objectContaining({ path: ['payload'], message: JSON_DEPTH_RULE })]);
  });
});

describe('assertShallow', () => {
  it('names the field of the body that nests too deep, under the prefix of its batch item', () => {
    expect(() => assertShallow({ type: 'echo', payload: nested(MAX_JSON_DEPTH) })).not.toThrow();
    const issues = (body: unknown, prefix?: string) => {
      try {
        assertShallow(body, prefix);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as ValidationError).issues;
      }
    };
    expect(issues({ type: 'echo', payload: nested(MAX_JSON_DEPTH + 1) })).toEqual([
      { field: 'payload', message: JSON_DEPTH_RULE },
    ]);
    expect(issues({ type: 'echo', labels: { a: nested(9_999) } }, 'tasks[2]')).toEqual([
      { field: 'tasks[2].labels', message: JSON_DEPTH_RULE },
    ]);
  });
});
