/** Contract: declared pools (idempotent declaration, list by key, removal). */
import type { DeclaredPool } from '../../src/domain/pool';
import type { CurrentStore } from './store.contract';
import { T0 } from './fixtures';

function declared(overrides: Partial<DeclaredPool> = {}): DeclaredPool {
  return {
    key: 'checksum+echo~fs',
    capabilities: ['fs'],
    types: ['checksum', 'echo'],
    note: 'worker-files, scaled to zero by KEDA',
    declaredBy: 'ops',
    declaredAt: T0,
    ...overrides,
  };
}

export function poolsContract(store: CurrentStore): void {
  describe('declared pools', () => {
    it('stores a declared pool and lists it', async () => {
      expect(await store().declarePool(declared())).toEqual({ pool: declared(), created: true });
      expect(await store().listDeclaredPools()).toEqual([declared()]);
    });

    it('declaring the same key again changes nothing and answers the stored pool', async () => {
      await store().declarePool(declared());
      const again = declared({ note: null, declaredBy: 'someone else', declaredAt: T0 + 5_000 });
      expect(await store().declarePool(again)).toEqual({ pool: declared(), created: false });
      expect(await store().listDeclaredPools()).toEqual([declared()]);
    });

    it('keeps a null note, and a long one whole', async () => {
      const plain = declared({ key: 'echo~', capabilities: [], types: ['echo'], note: null });
      const long = declared({ key: 'echo~gpu', capabilities: ['gpu'], types: ['echo'], note: 'n'.repeat(500) });
      await store().declarePool(plain);
      await store().declarePool(long);
      expect(await store().listDeclaredPools()).toEqual([plain, long]);
    });

    it('lists by key and removes one declaration; an unknown key is false', async () => {
      const gpu = declared({ key: 'echo~gpu', capabilities: ['gpu'], types: ['echo'] });
      await store().declarePool(gpu);
      await store().declarePool(declared());
      expect((await store().listDeclaredPools()).map((p) => p.key)).toEqual(['checksum+echo~fs', 'echo~gpu']);
      expect(await store().removeDeclaredPool('echo~gpu')).toBe(true);
      expect(await store().removeDeclaredPool('echo~gpu')).toBe(false);
      expect(await store().removeDeclaredPool('nothing~')).toBe(false);
      expect(await store().listDeclaredPools()).toEqual([declared()]);
    });

    it('keeps declarations apart from the agents and routes: an empty list on a fresh store', async () => {
      expect(await store().listDeclaredPools()).toEqual([]);
    });
  });
}
