import type { Config } from '../config/config';
import type { Store } from './port';
import { watchStoreSpace } from './spaceWatch';
import { sealStore } from './sealedStore';
import { openSqliteStore } from './sqlite/sqliteStore';

/**
 * Opens the store the configuration names (TASKFLEET_STORE), sealing sensitive tasks with TASKFLEET_DATA_KEY
 * (sealedStore.ts). The mssql adapter is loaded only when chosen.
 * `supervisor`: this process runs the background loops, so it also keeps an embedded store's WAL short.
 */
export async function openStore(config: Config, opts: { supervisor?: boolean } = {}): Promise<Store> {
  return sealStore(await openAdapter(config, opts), config.dataKeys);
}

async function openAdapter(config: Config, opts: { supervisor?: boolean }): Promise<Store> {
  switch (config.store) {
    case 'sqlite':
      return openSqliteStore({
        path: config.sqlitePath,
        synchronous: config.sqliteSynchronous,
        checkpointInBackground: opts.supervisor === true,
      });
    case 'mssql': {
      const { openMssqlStore } = await import('./mssql/open');
      return watchStoreSpace(await openMssqlStore(config));
    }
  }
}
