/**
 * Readiness of a store that cannot see its own free space (Azure SQL): not ready for a while after a write
 * failed for lack of space, ready again by itself once writes stop failing. The store here is a stand-in for
 * the mssql one, which cannot run on this machine.
 */
import { StoreFullError, UnavailableError } from '../../src/domain/errors';
import type { Store } from '../../src/store/port';
import { watchStoreSpace } from '../../src/store/spaceWatch';

function fakeStore(failWith: () => unknown) {
  let failing = true;
  const store = {
    kind: 'mssql' as const,
    ping: async () => undefined,
    insertTasks: async () => {
      if (failing) throw failWith();
      return [];
    },
  };
  return { store: store as unknown as Store, stopFailing: () => (failing = false) };
}

describe('watchStoreSpace', () => {
  it('is not ready from a write that failed for lack of space until the window passes without another', async () => {
    let now = 1_000;
    const { store: inner, stopFailing } = fakeStore(() => new StoreFullError('mssql: the database is full (1105)'));
    const store = watchStoreSpace(inner, 30_000, () => now);
    await expect(store.ping()).resolves.toBeUndefined();

    await expect(store.insertTasks([])).rejects.toBeInstanceOf(StoreFullError);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreFullError);
    now += 20_000;
    await expect(store.insertTasks([])).rejects.toBeInstanceOf(StoreFullError); // still full: the window restarts
    now += 20_000;
    await expect(store.ping()).rejects.toBeInstanceOf(StoreFullError);

    stopFailing();
    await expect(store.insertTasks([])).resolves.toEqual([]);
    now += 30_000;
    await expect(store.ping()).resolves.toBeUndefined();
    expect(store.kind).toBe('mssql');
  });

  it('ignores every other failure', async () => {
    const { store: inner } = fakeStore(() => new UnavailableError('mssql: timeout'));
    const store = watchStoreSpace(inner, 30_000, () => 0);
    await expect(store.insertTasks([])).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
