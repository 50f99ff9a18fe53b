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
  /** Bring the schema to this release's version (default: yes; a backup leaves the database as it is). */
  migrate?: boolean;
}

/** Where SQLite keeps the state, in a controller's data directory. */
export const sqliteFile = (dataDir: string): string => path.join(dataDir, 'controller.sqlite');

export async function openStore(o: StoreChoice): Promise<StateStore> {
  if (o.databaseUrl !== undefined && o.databaseUrl !== '') {
    return PostgresStore.open({ url: o.databaseUrl, log: o.log.child({ part: 'postgres' }), migrate: o.migrate !== false });
  }
  return openSqliteStore(sqliteFile(o.dataDir), { migrate: o.migrate !== false });
}
