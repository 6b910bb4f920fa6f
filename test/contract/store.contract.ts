/**
 * The store port's conformance suite: every adapter runs it (`test/contract/<adapter>.test.ts`).
 * `open` must return a store on a fresh, empty database each call; `cleanup` runs after each test, once the
 * store is closed.
 */
import type { Store } from '../../src/store/port';
import { agentContract } from './agents.contract';
import { backgroundContract } from './background.contract';
import { fleetContract } from './fleet.contract';
import { leaseContract } from './lease.contract';
import { rulesContract } from './rules.contract';
import { securityContract } from './security.contract';
import { statsContract } from './stats.contract';
import { submissionContract } from './submission.contract';

/** The store of the running test. */
export type CurrentStore = () => Store;

export function storeContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store | undefined;
    const current: CurrentStore = () => {
      if (!store) throw new Error('no store is open');
      return store;
    };

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store?.close();
      store = undefined;
      await cleanup?.();
    });

    it(`reports its kind and answers ping`, async () => {
      expect(['sqlite', 'mssql']).toContain(current().kind);
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('closes idempotently, and ping rejects once closed', async () => {
      await current().close();
      await current().close();
      await expect(current().ping()).rejects.toThrow();
    });

    submissionContract(current);
    leaseContract(current);
    backgroundContract(current);
    agentContract(current);
    fleetContract(current);
    statsContract(current);
    securityContract(current);
    rulesContract(current);
  });
}
