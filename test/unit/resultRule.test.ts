/**
 * The rule every handler result meets before it is stored (src/domain/result.ts): JSON as it is, bounded in
 * depth and in bytes, with a message that says where and why when it is not.
 */
import { serialiseResult } from '../../src/domain/result';
import { MAX_JSON_DEPTH } from '../../src/domain/submission';

const MiB = 1024 * 1024;

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('serialiseResult', () => {
  it('takes plain JSON, reports its size, and stores undefined as null', () => {
    expect(serialiseResult({ a: [1, 'é', null, true] }, MiB)).toEqual({
      ok: true,
      value: { a: [1, 'é', null, true] },
      json: '{"a":[1,"é",null,true]}',
      bytes: 24,
    });
    expect(serialiseResult(undefined, MiB)).toMatchObject({ ok: true, value: null, json: 'null' });
  });

  it('leaves out undefined properties and takes what toJSON returns, as JSON.stringify does', () => {
    const at = new Date(Date.UTC(2026, 0, 2));
    expect(serialiseResult({ a: undefined, at, b: 1 }, MiB)).toMatchObject({
      ok: true,
      json: '{"at":"2026-01-02T00:00:00.000Z","b":1}',
    });
  });

  it('accepts a value shared by two branches: only a value inside itself is a cycle', () => {
    const shared = { n: 1 };
    expect(serialiseResult({ x: shared, y: [shared] }, MiB)).toMatchObject({
      ok: true,
      json: '{"x":{"n":1},"y":[{"n":1}]}',
    });
  });

  it.each<[string, unknown, string]>([
    ['a BigInt', { total: 2n ** 64n }, 'the result at $.total is a BigInt'],
    ['a BigInt as the whole result', 5n, 'the result is a BigInt'],
    ['a function', { f: () => 1 }, 'the result at $.f is a function'],
    ['a symbol', [Symbol('s')], 'the result at $[0] is a symbol'],
    ['NaN', { n: NaN }, 'the result at $.n is NaN'],
    ['Infinity', { 'odd key': [Infinity] }, 'the result at $["odd key"][0] is Infinity'],
    ['undefined in an array', [1, undefined], 'the result at $[1] is undefined inside an array'],
    ['a Map', { m: new Map([[1, 2]]) }, 'the result at $.m is a Map'],
    ['a Set', new Set([1]), 'the result is a Set'],
  ])('refuses %s, naming where it is', (_, value, where) => {
    const out = serialiseResult(value, MiB);
    expect(out).toMatchObject({ ok: false, kind: 'unserialisable_result' });
    expect(out.ok ? '' : out.message).toContain(`the result could not be serialised: ${where}`);
  });

  it('refuses a circular structure, naming the reference that closes the circle', () => {
    const node: { name: string; children: unknown[] } = { name: 'root', children: [] };
    node.children.push({ name: 'child', parent: node });
    const out = serialiseResult(node, MiB);
    expect(out).toEqual({
      ok: false,
      kind: 'unserialisable_result',
      message:
        'the result could not be serialised: the result at $.children[0].parent refers back to an object that contains it (a circular structure)',
    });
  });

  it(`refuses a result nested deeper than ${MAX_JSON_DEPTH} levels, and never overflows the stack doing so`, () => {
    expect(serialiseResult(nested(MAX_JSON_DEPTH), MiB).ok).toBe(true);
    const out = serialiseResult(nested(100_000), MiB);
    expect(out).toMatchObject({ ok: false, kind: 'unserialisable_result' });
    expect(out.ok ? '' : out.message).toContain(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('refuses a result over the byte limit, naming its size and the limit; a result at the limit passes', () => {
    expect(serialiseResult('x'.repeat(98), 100)).toMatchObject({ ok: true, bytes: 100 });
    expect(serialiseResult('x'.repeat(99), 100)).toEqual({
      ok: false,
      kind: 'result_too_large',
      message: 'the result is 101 bytes of JSON, over the limit of 100 bytes (TASKFLEET_RESULT_MAX_BYTES)',
    });
  });
});
