// The schema's versions, for both engines. SQLite took versions 1-9 one by one; PostgreSQL came
// with version 9's schema (its baseline) and takes every version after it beside SQLite. A
// controller applies what its database lacks at start, in one transaction each, and refuses a
// database whose schema is newer than the versions it knows (an older controller would misread it).

/** SQLite's versions 1 to 9, as each release added them. */
const SQLITE_HISTORY = [
  `CREATE TABLE launch_configs (name TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE nodes (id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, address TEXT NOT NULL,
     capacity INTEGER NOT NULL, last_heartbeat INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT 'null');
   CREATE TABLE streams (app TEXT NOT NULL, stream TEXT NOT NULL, settings TEXT NOT NULL, stream_key TEXT NOT NULL,
     status TEXT NOT NULL, transcoder TEXT, ending_since INTEGER, PRIMARY KEY (app, stream));
   CREATE INDEX streams_by_transcoder ON streams (transcoder);`,
  `ALTER TABLE nodes ADD COLUMN since INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE scale_events (id INTEGER PRIMARY KEY AUTOINCREMENT, role TEXT NOT NULL, at INTEGER NOT NULL,
     action TEXT NOT NULL, count INTEGER NOT NULL, reason TEXT NOT NULL, nodes TEXT NOT NULL DEFAULT '[]');`,
  // Streams per node kept by triggers in the same transaction as every assignment change, so
  // allocation reads one row per node instead of counting streams.
  `ALTER TABLE nodes ADD COLUMN assigned INTEGER NOT NULL DEFAULT 0;
   UPDATE nodes SET assigned = (SELECT COUNT(*) FROM streams s WHERE s.transcoder = nodes.id AND s.status != 'idle');
   CREATE TRIGGER streams_assigned_insert AFTER INSERT ON streams WHEN NEW.transcoder IS NOT NULL AND NEW.status != 'idle'
     BEGIN UPDATE nodes SET assigned = assigned + 1 WHERE id = NEW.transcoder; END;
   CREATE TRIGGER streams_assigned_delete AFTER DELETE ON streams WHEN OLD.transcoder IS NOT NULL AND OLD.status != 'idle'
     BEGIN UPDATE nodes SET assigned = assigned - 1 WHERE id = OLD.transcoder; END;
   CREATE TRIGGER streams_assigned_update AFTER UPDATE OF transcoder, status ON streams BEGIN
     UPDATE nodes SET assigned = assigned - 1 WHERE id = OLD.transcoder AND OLD.status != 'idle';
     UPDATE nodes SET assigned = assigned + 1 WHERE id = NEW.transcoder AND NEW.status != 'idle';
   END;`,
  `ALTER TABLE streams ADD COLUMN origin TEXT;`,
  // Only streams that run hold a slot: an ended event keeps its row (and its recording) but not its
  // transcoder's capacity.
  `DROP TRIGGER streams_assigned_insert; DROP TRIGGER streams_assigned_delete; DROP TRIGGER streams_assigned_update;
   UPDATE nodes SET assigned = (SELECT COUNT(*) FROM streams s WHERE s.transcoder = nodes.id AND s.status IN ('live', 'ending'));
   CREATE TRIGGER streams_assigned_insert AFTER INSERT ON streams WHEN NEW.transcoder IS NOT NULL AND NEW.status IN ('live', 'ending')
     BEGIN UPDATE nodes SET assigned = assigned + 1 WHERE id = NEW.transcoder; END;
   CREATE TRIGGER streams_assigned_delete AFTER DELETE ON streams WHEN OLD.transcoder IS NOT NULL AND OLD.status IN ('live', 'ending')
     BEGIN UPDATE nodes SET assigned = assigned - 1 WHERE id = OLD.transcoder; END;
   CREATE TRIGGER streams_assigned_update AFTER UPDATE OF transcoder, status ON streams BEGIN
     UPDATE nodes SET assigned = assigned - 1 WHERE id = OLD.transcoder AND OLD.status IN ('live', 'ending');
     UPDATE nodes SET assigned = assigned + 1 WHERE id = NEW.transcoder AND NEW.status IN ('live', 'ending');
   END;`,
  `ALTER TABLE streams ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;`,
  // Recordings: when the event ended, what its media takes on the storage, when it was deleted.
  `ALTER TABLE streams ADD COLUMN ended_at INTEGER;
   ALTER TABLE streams ADD COLUMN stored_bytes INTEGER;
   ALTER TABLE streams ADD COLUMN media_deleted_at INTEGER;
   UPDATE streams SET ended_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE status = 'ended';`,
  // Ended events kept as versions (<stream>.<N>), as transcoders find them on the storage; and a
  // stream deleted with its media, kept until a transcoder says the media is gone.
  `CREATE TABLE versions (app TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, ended_at INTEGER NOT NULL,
     stored_bytes INTEGER, media_deleted_at INTEGER, PRIMARY KEY (app, stream, version));
   ALTER TABLE streams ADD COLUMN purge_requested_at INTEGER;`,
  // Every transcoder's heartbeat asks for the origins (a transcoder's source) and for the first
  // transcoder that reaches the storage (the one that deletes): indexed, not a scan of every node's figures.
  `CREATE INDEX nodes_by_role ON nodes (role);
   ALTER TABLE nodes ADD COLUMN storage_ok INTEGER NOT NULL DEFAULT 0;
   UPDATE nodes SET storage_ok = COALESCE(json_extract(metrics, '$.storage.available'), 0) = 1;
   CREATE INDEX nodes_with_storage ON nodes (role, state, storage_ok, id);`,
]

/** PostgreSQL's schema at version 9: what SQLite's versions 1-9 made, in PostgreSQL's words. */
const POSTGRES_BASELINE = `
  CREATE TABLE launch_configs (name TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
  CREATE TABLE nodes (id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, address TEXT NOT NULL,
    capacity INTEGER NOT NULL, last_heartbeat BIGINT NOT NULL, metrics TEXT NOT NULL DEFAULT 'null', since BIGINT NOT NULL DEFAULT 0,
    assigned INTEGER NOT NULL DEFAULT 0, storage_ok INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX nodes_by_role ON nodes (role);
  CREATE INDEX nodes_with_storage ON nodes (role, state, storage_ok, id);
  CREATE TABLE streams (app TEXT NOT NULL, stream TEXT NOT NULL, settings TEXT NOT NULL, stream_key TEXT NOT NULL,
    status TEXT NOT NULL, transcoder TEXT, ending_since BIGINT, origin TEXT, epoch INTEGER NOT NULL DEFAULT 0, ended_at BIGINT,
    stored_bytes BIGINT, media_deleted_at BIGINT, purge_requested_at BIGINT, PRIMARY KEY (app, stream));
  CREATE INDEX streams_by_transcoder ON streams (transcoder);
  CREATE TABLE scale_events (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL, at BIGINT NOT NULL, action TEXT NOT NULL,
    count INTEGER NOT NULL, reason TEXT NOT NULL, nodes TEXT NOT NULL DEFAULT '[]');
  CREATE TABLE versions (app TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, ended_at BIGINT NOT NULL,
    stored_bytes BIGINT, media_deleted_at BIGINT, PRIMARY KEY (app, stream, version));
  -- Streams per node, kept in the same transaction as every assignment change (as SQLite's triggers do).
  CREATE FUNCTION dvr_streams_assigned() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.transcoder IS NOT NULL AND OLD.status IN ('live', 'ending') THEN
      UPDATE nodes SET assigned = assigned - 1 WHERE id = OLD.transcoder;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.transcoder IS NOT NULL AND NEW.status IN ('live', 'ending') THEN
      UPDATE nodes SET assigned = assigned + 1 WHERE id = NEW.transcoder;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER streams_assigned AFTER INSERT OR DELETE OR UPDATE OF transcoder, status ON streams
    FOR EACH ROW EXECUTE FUNCTION dvr_streams_assigned();
  -- Every controller's caches of the streams and launch configs follow the others' changes (LISTEN dvr_changes).
  CREATE FUNCTION dvr_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_notify('dvr_changes', TG_TABLE_NAME); RETURN NULL; END $$;
  -- Not the sizes transcoders report (a figure, written every 10 s a stream): nothing cached depends on them.
  CREATE TRIGGER streams_changed AFTER INSERT OR DELETE OR UPDATE OF settings, status, transcoder, ending_since, origin, epoch, ended_at,
    media_deleted_at, purge_requested_at ON streams FOR EACH STATEMENT EXECUTE FUNCTION dvr_notify_change();
  CREATE TRIGGER launch_configs_changed AFTER INSERT OR UPDATE OR DELETE ON launch_configs
    FOR EACH STATEMENT EXECUTE FUNCTION dvr_notify_change();`;

/** One version of the schema after the baseline: the same change in each engine's words. */
interface Migration { sqlite: string; postgres: string }

/** Versions 10 and on. */
const SHARED: Migration[] = [
  // 10: several controllers: the leader lease, who is alive, the secrets they share.
  {
    sqlite: `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, term INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE controllers (id TEXT PRIMARY KEY, url TEXT NOT NULL, started_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
      CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);`,
    postgres: `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, term BIGINT NOT NULL, expires_at BIGINT NOT NULL);
      CREATE TABLE controllers (id TEXT PRIMARY KEY, url TEXT NOT NULL, started_at BIGINT NOT NULL, last_seen BIGINT NOT NULL);
      CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
];

/** The newest version this controller knows. */
export const SCHEMA_VERSION = SQLITE_HISTORY.length + SHARED.length;

/** SQLite's step to version `v` (1-based). */
export function sqliteMigration(v: number): string {
  return v <= SQLITE_HISTORY.length ? SQLITE_HISTORY[v - 1] as string : (SHARED[v - SQLITE_HISTORY.length - 1] as Migration).sqlite;
}

/** PostgreSQL's step to version `v` from `v - 1` (the baseline when the database is empty: to version 9 at once). */
export function postgresMigration(v: number): string {
  return v <= SQLITE_HISTORY.length ? POSTGRES_BASELINE : (SHARED[v - SQLITE_HISTORY.length - 1] as Migration).postgres;
}

/** PostgreSQL's first version: the baseline's. */
export const POSTGRES_BASELINE_VERSION = SQLITE_HISTORY.length;
