import { routeKey } from '../../src/domain/capabilities';
import { ValidationError } from '../../src/domain/errors';
import {
  attributeRoutes,
  learnPools,
  parsePoolKey,
  placementOrder,
  poolCovers,
  poolKey,
  poolSignature,
  type PoolSignature,
} from '../../src/domain/pool';

const pool = (types: string[], capabilities: string[]): PoolSignature => ({ types, capabilities });

describe('pool signatures and keys', () => {
  it('normalises both lists (trim, lowercase, sort, deduplicate)', () => {
    expect(poolSignature({ capabilities: [' GPU', 'fs', 'gpu'], types: ['echo', 'Checksum'] })).toEqual({
      capabilities: ['fs', 'gpu'],
      types: ['checksum', 'echo'],
    });
  });

  it('names each bad element and an empty type list', () => {
    const err = (() => {
      try {
        poolSignature({ capabilities: ['ok', 'Bad Token'], types: [] });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.field)).toEqual(['capabilities[1]', 'types']);
  });

  it('keys a pool as types~capabilities, the form of a route key, and parses it back', () => {
    const sig = poolSignature({ capabilities: ['gpu', 'fs'], types: ['echo', 'checksum'] });
    expect(poolKey(sig)).toBe('checksum+echo~fs+gpu');
    expect(poolKey(pool(['echo'], []))).toBe('echo~');
    expect(poolKey(pool(['echo'], ['fs']))).toBe(routeKey('echo', ['fs']));
    expect(parsePoolKey('checksum+echo~fs+gpu')).toEqual(sig);
    expect(encodeURIComponent(poolKey(sig))).toBe(poolKey(sig).replace(/\+/g, '%2B'));
  });

  it.each(['echo', '~fs', 'echo+echo~', 'echo~gpu+fs', 'Echo~', 'echo~fs+'])('refuses the key %j', (key) => {
    expect(() => parsePoolKey(key)).toThrow(ValidationError);
  });
});

describe('poolCovers and placementOrder', () => {
  const route = { type: 'echo', capabilities: ['fs'] };

  it('covers a route when the pool has its type and every capability', () => {
    expect(poolCovers(pool(['echo'], ['fs']), route)).toBe(true);
    expect(poolCovers(pool(['checksum', 'echo'], ['fs', 'gpu']), route)).toBe(true);
    expect(poolCovers(pool(['checksum'], ['fs']), route)).toBe(false);
    expect(poolCovers(pool(['echo'], ['gpu']), route)).toBe(false);
  });

  it('orders the covering pools tightest first, leaving out the others', () => {
    const general = pool(['echo'], ['fs']);
    const gpu = pool(['checksum', 'echo', 'render'], ['fs', 'gpu']);
    const wide = pool(['checksum', 'echo'], ['fs']);
    const other = pool(['echo'], []);
    expect(placementOrder([gpu, other, wide, general], route)).toEqual([general, wide, gpu]);
    // A generic task: the pool with nothing extra first, the gpu pool last.
    expect(placementOrder([gpu, general, other], { type: 'echo', capabilities: [] })).toEqual([other, general, gpu]);
  });

  it('breaks ties by fewer extra capabilities, then by key, whatever the input order', () => {
    const extraCap = pool(['echo'], ['fs', 'gpu']);
    const extraType = pool(['checksum', 'echo'], ['fs']);
    const extraType2 = pool(['echo', 'sleep'], ['fs']);
    const expected = [extraType, extraType2, extraCap];
    expect(placementOrder([extraCap, extraType2, extraType], route)).toEqual(expected);
    expect(placementOrder([extraType2, extraCap, extraType], route)).toEqual(expected);
  });
});

describe('attributeRoutes', () => {
  const general = pool(['echo', 'sleep'], []);
  const gpu = pool(['echo', 'sleep'], ['cuda', 'gpu']);
  const files = pool(['checksum'], ['fs']);
  const generic = { type: 'echo', capabilities: [] };
  const onGpu = { type: 'sleep', capabilities: ['gpu'] };

  it('puts each route under its tightest covering pool only, keyed by pool key', () => {
    const map = attributeRoutes([generic, onGpu], [gpu, general, files]);
    expect([...map.entries()]).toEqual([
      ['echo+sleep~', [generic]],
      ['echo+sleep~cuda+gpu', [onGpu]],
    ]);
  });

  it('gives a generic route to a wider pool when it is the only one that covers it', () => {
    expect([...attributeRoutes([generic], [gpu, files]).entries()]).toEqual([['echo+sleep~cuda+gpu', [generic]]]);
  });

  it('breaks ties as placementOrder does: fewer extra capabilities, then by key', () => {
    const route = { type: 'echo', capabilities: ['fs'] };
    const extraCap = pool(['echo'], ['fs', 'gpu']);
    const extraType = pool(['checksum', 'echo'], ['fs']);
    const extraType2 = pool(['echo', 'sleep'], ['fs']);
    for (const pools of [
      [extraCap, extraType2, extraType],
      [extraType2, extraCap, extraType],
    ]) {
      expect([...attributeRoutes([route], pools).keys()]).toEqual([poolKey(placementOrder(pools, route)[0]!)]);
      expect([...attributeRoutes([route], pools).keys()]).toEqual(['checksum+echo~fs']);
    }
  });

  it("leaves out the routes no pool covers, and hands back the caller's own route objects", () => {
    const render = { type: 'render', capabilities: ['gpu'], queued: 3 };
    const sleep = { type: 'sleep', capabilities: ['gpu'], queued: 2 };
    const map = attributeRoutes([render, sleep], [general, gpu]);
    expect([...map.keys()]).toEqual(['echo+sleep~cuda+gpu']);
    expect(map.get('echo+sleep~cuda+gpu')![0]).toBe(sleep);
    expect(attributeRoutes([render], [general, gpu]).size).toBe(0);
    expect(attributeRoutes([generic], []).size).toBe(0);
  });

  it('attracts routes to a declared pool with no workers like any other (a signature is all it needs)', () => {
    const declared = {
      ...files,
      key: poolKey(files),
      note: null,
      declaredBy: 'ops',
      declaredAt: 0,
    };
    const map = attributeRoutes([{ type: 'checksum', capabilities: ['fs'] }, generic], [declared, gpu]);
    expect(map.get('checksum~fs')).toEqual([{ type: 'checksum', capabilities: ['fs'] }]);
    expect(map.get('echo+sleep~cuda+gpu')).toEqual([generic]);
  });
});

describe('learnPools', () => {
  it('groups live agents by signature with their slots and running tasks', () => {
    const agent = (id: string, types: string[], capabilities: string[], concurrency: number, runningTasks: number) => ({
      id,
      types,
      capabilities,
      concurrency,
      runningTasks,
    });
    expect(
      learnPools([
        agent('a', ['echo', 'checksum'], ['fs'], 4, 1),
        agent('b', ['checksum', 'echo'], ['fs'], 2, 2),
        agent('c', ['echo'], [], 8, 0),
      ]),
    ).toEqual([
      {
        key: 'checksum+echo~fs',
        types: ['checksum', 'echo'],
        capabilities: ['fs'],
        agents: ['a', 'b'],
        slots: 6,
        running: 3,
      },
      { key: 'echo~', types: ['echo'], capabilities: [], agents: ['c'], slots: 8, running: 0 },
    ]);
  });
});
