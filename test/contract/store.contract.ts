/**
 * The store port's conformance suite: every adapter runs it (`test/contract/<adapter>.test.ts`).
 * `open` must return a store on a fresh, empty database each call; `cleanup` runs after each test, once the
 * store is closed. `statusChanges`, when the adapter's test can record them (a trigger), returns every change
 * of a task's status the store wrote since the store was opened: the suite then proves `canTransition` (the
 * lifecycle table of src/domain/transitions.ts) is exactly what the store does.
 */
import { TASK_STATUSES, type TaskStatus } from '../../src/domain/task';
import { canTransition, TRANSITIONS } from '../../src/domain/transitions';
import type { Store } from '../../src/store/port';
import { agentContract } from './agents.contract';
import { agentSettingsContract } from './agentSettings.contract';
import { backgroundContract } from './background.contract';
import { fleetContract } from './fleet.contract';
import { leaseContract } from './lease.contract';
import { poolsContract } from './pools.contract';
import { progressLogsContract } from './progressLogs.contract';
import { purgeContract } from './purge.contract';
import { retryContract } from './retry.contract';
import { rulesContract } from './rules.contract';
import { routeControlsContract } from './routeControls.contract';
import { routeMinutesContract } from './routeMinutes.contract';
import { schedulesContract } from './schedules.contract';
import { securityContract } from './security.contract';
import { sensitiveContract } from './sensitive.contract';
import { statsContract } from './stats.contract';
import { submissionContract } from './submission.contract';
import { webhooksContract } from './webhooks.contract';
import { workflowsContract } from './workflows.contract';

/** The store of the running test. */
export type CurrentStore = () => Store;

/** A status change a store wrote: `from` null for an inserted task. */
export interface StatusChange {
  from: TaskStatus | null;
  to: TaskStatus;
}

export function storeContract(
  name: string,
  open: () => Promise<Store>,
  cleanup?: () => Promise<void>,
  statusChanges?: () => Promise<StatusChange[]>,
): void {
  describe(`store contract: ${name}`, () => {
    let store: Store | undefined;
    /** Every status change seen across the suite, as `from → to`. */
    const changesSeen = new Set<string>();
    const current: CurrentStore = () => {
      if (!store) throw new Error('no store is open');
      return store;
    };

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      if (statusChanges && store) {
        const changes = await statusChanges();
        for (const change of changes) changesSeen.add(`${change.from ?? 'new'} → ${change.to}`);
        const refused = changes.filter((c) => (c.from === null ? c.to !== 'queued' : !canTransition(c.from, c.to)));
        expect({ statusChangesNotAllowedByCanTransition: refused }).toEqual({
          statusChangesNotAllowedByCanTransition: [],
        });
      }
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
    routeControlsContract(current);
    routeMinutesContract(current);
    leaseContract(current);
    backgroundContract(current);
    agentContract(current);
    agentSettingsContract(current);
    fleetContract(current);
    statsContract(current);
    securityContract(current);
    poolsContract(current);
    progressLogsContract(current);
    rulesContract(current);
    sensitiveContract(current);
    retryContract(current);
    webhooksContract(current);
    schedulesContract(current);
    workflowsContract(current);
    purgeContract(current);

    // Last, so that it sees the changes of every test above (jest runs a file's tests in order).
    if (statusChanges) {
      it('changes task statuses exactly as canTransition allows: each change allowed, each allowed change made', () => {
        const allowed = TASK_STATUSES.flatMap((from) => TRANSITIONS[from].map((to) => `${from} → ${to}`));
        expect([...changesSeen].sort()).toEqual(['new → queued', ...allowed].sort());
      });
    }
  });
}
