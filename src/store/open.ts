import type { Config } from '../config/config';
import type { Store } from './port';
import { openSqliteStore } from './sqlite/sqliteStore';

/** Opens the store the configuration names (TASKFLEET_STORE). The mssql adapter is loaded only when chosen. */
export async function openStore(config: Config): Promise<Store> {
  switch (config.store) {
    case 'sqlite':
      return openSqliteStore({ path: config.sqlitePath });
    case 'mssql': {
      const { openMssqlStore } = await import('./mssql/open');
      return openMssqlStore(config);
    }
  }
}
