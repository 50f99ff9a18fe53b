// Backups of the controller's state, for either engine: SQLite's online backup (a consistent copy
// of the file while the controller runs) or pg_dump's custom format; and their restore into a
// stopped controller's store (SQLite: the file replaced, the old one kept beside it; PostgreSQL:
// pg_restore over the database, its objects replaced).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { DvrError, errnoCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { SCHEMA_VERSION } from './migrations.js';
import { openStore, sqliteFile, type StoreChoice } from './open.js';
import { passwordEnv, redact } from './postgres.js';

/** A controller seen this recently (its lease rounds say it is alive every second or so) is running. */
const LIVE_MS = 10_000;

/** Writes a backup of the store `o` chooses to `file`; what it says is what was written. */
export async function backupStore(o: StoreChoice, file: string): Promise<string> {
  // As it is: a newer release taking a backup does not upgrade a database older controllers use.
  const store = await openStore({ ...o, migrate: false });
  try {
    await store.backup(file);
    const { size } = await fs.stat(file);
    return `${store.engine} backup written to ${file} (${size} bytes)`;
  } finally {
    await store.close();
  }
}

/** The SQLite backup's schema version, or an error naming the file. */
function sqliteVersion(file: string): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return db.pragma('user_version', { simple: true }) as number;
  } catch (err) {
    throw new DvrError('DVR_ERR_CONFIG', `${file}: not a SQLite backup of the controller `
      + `(${err instanceof Error ? err.message : String(err)})`);
  } finally {
    db?.close();
  }
}

/**
 * Restores `file` into the store `o` chooses. The controller must be stopped (`running` says whether
 * one answers); the store is then at the backup's state, brought to this release's schema at start.
 */
export async function restoreStore(o: StoreChoice & { log: Logger }, file: string, running: boolean): Promise<string> {
  if (running) {
    throw new DvrError('DVR_ERR_CONFLICT', 'a controller answers on this data directory\'s API: stop it first (systemctl stop '
      + 'dvr-controller), then restore, then start it again');
  }
  await fs.access(file).catch(() => { throw new DvrError('DVR_ERR_CONFIG', `${file}: no such backup`); });
  if (o.databaseUrl) {
    // Every controller of the cluster, not only this machine's, must be stopped.
    const live = await openStore({ ...o, migrate: false }).then(async (store) => {
      try {
        return (await store.controllers().catch(() => [])).filter((c) => Date.now() - c.lastSeen < LIVE_MS).map((c) => c.id);
      } finally {
        await store.close();
      }
    });
    if (live.length > 0) {
      throw new DvrError('DVR_ERR_CONFLICT', `controllers still use this database (${live.join(', ')} seen in the last `
        + `${LIVE_MS / 1000} s): stop every controller of the cluster first, then restore`);
    }
    await promisify(execFile)('pg_restore', ['--clean', '--if-exists', '--no-owner', '--single-transaction',
      `--dbname=${redact(o.databaseUrl, '')}`, file], { env: { ...process.env, ...passwordEnv(o.databaseUrl) }, timeout: 600_000 })
      .catch((err: unknown) => {
        const e = err as { stderr?: string; message?: string };
        throw new DvrError('DVR_ERR_DEPENDENCY', `pg_restore ${file} into ${redact(o.databaseUrl ?? '')}: `
          + `${(e.stderr ?? e.message ?? '').trim().slice(-400)}`);
      });
  } else {
    const version = sqliteVersion(file);
    if (version > SCHEMA_VERSION) {
      throw new DvrError('DVR_ERR_CONFIG', `${file}: its schema is version ${version}, newer than this controller knows `
        + `(${SCHEMA_VERSION}); restore it with the release that wrote it`);
    }
    const target = sqliteFile(o.dataDir);
    await fs.mkdir(o.dataDir, { recursive: true, mode: 0o750 });
    const kept = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    // The old file with its write-ahead log (commits not yet checkpointed into the file live there).
    for (const side of ['', '-wal']) {
      await fs.rename(`${target}${side}`, `${kept}${side}`).catch((err: unknown) => { if (errnoCode(err) !== 'ENOENT') throw err; });
    }
    await fs.rm(`${target}-shm`, { force: true });
    await fs.copyFile(file, target);
    await fs.chmod(target, 0o600);
  }
  // Opened once: brought to this release's schema, and proved readable.
  const store = await openStore(o);
  try {
    const [streams, nodes] = [(await store.streams()).length, (await store.nodes()).length];
    return `restored ${file} into the ${store.engine} store: ${streams} streams, ${nodes} nodes`;
  } finally {
    await store.close();
  }
}
