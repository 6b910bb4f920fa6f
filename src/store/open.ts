import type { Config } from '../config/config';
import type { Store } from './port';
import { openSqliteStore } from './sqlite/sqliteStore';

/** Opens the store the configuration names. */
export async function openStore(config: Config): Promise<Store> {
  switch (config.store) {
    case 'sqlite':
      return openSqliteStore({ path: config.sqlitePath });
  }
}
