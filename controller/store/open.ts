// The controller's store as its configuration chooses: PostgreSQL when DVR_DATABASE_URL names one
// (a cluster's controllers share it), else the SQLite file in the controller's data directory.
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import type { StateStore } from '../store.js';
import { PostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';

export interface StoreChoice {
  dataDir: string;
  /** postgres://... (DVR_DATABASE_URL); without it, SQLite. */
  databaseUrl?: string | undefined;
  log: Logger;
}

/** Where SQLite keeps the state, in a controller's data directory. */
export const sqliteFile = (dataDir: string): string => path.join(dataDir, 'controller.sqlite');

export async function openStore(o: StoreChoice): Promise<StateStore> {
  if (o.databaseUrl !== undefined && o.databaseUrl !== '') {
    return PostgresStore.open({ url: o.databaseUrl, log: o.log.child({ part: 'postgres' }) });
  }
  return openSqliteStore(sqliteFile(o.dataDir));
}
