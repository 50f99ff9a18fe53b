// The controller's state in one SQLite file (WAL): launch configs, nodes, streams and their
// assignments. Every change is one transaction, so a kill -9 at any moment leaves either the
// old row or the new one.
import Database from 'better-sqlite3';
import type { Heartbeat, StreamFigures, SystemFigures } from '../common/protocol.js';
import type { DvrSettings, EncodingSettings } from '../common/stream-settings.js';
import type { Role } from './launch-config.js';
import type { NodeState } from './node-states.js';

export type { NodeState };

export interface NodeRow {
  id: string;
  role: Role;
  state: NodeState;
  address: string;
  capacity: number;
  lastHeartbeat: number;
  metrics: NodeMetrics | null;
  /** When the node came into service (warm-up is counted from here). */
  since: number;
  /** Transcoders: streams that run on it now (live, or within their reconnect grace). Kept by the store. */
  assigned?: number;
}

/** What a node's last heartbeat carried, as the controller keeps it (heartbeats.ts builds it from the checked heartbeat). */
export interface NodeMetrics {
  system?: SystemFigures;
  streams?: StreamFigures[];
  storage?: Heartbeat['storage'];
  failedJobs?: Array<{ stream: string; error: string }>;
  /** Serving nodes: viewers or publishers connected. */
  connections?: number;
  /** Serving nodes: whether their nginx answers. */
  nginx?: 'up' | 'down';
  /** Transcoders: the port of their live view. */
  liveViewPort?: number;
}

export interface ScaleEvent { role: string; at: number; action: 'out' | 'in'; count: number; reason: string; nodes: string[] }

export type StreamStatus = 'idle' | 'live' | 'ending' | 'ended';

/** The statuses that hold a transcoder slot: a job runs for them. */
export const RUNNING_STATUSES: readonly StreamStatus[] = ['live', 'ending'];

export interface StreamRow {
  app: string;
  stream: string;
  settings: StreamOptions;
  streamKey: string;
  /**
   * idle: never published (or nowhere to run); live: a publisher is on; ending: it left, and the job
   * stays with its transcoder for the reconnect grace; ended: the grace passed, the event is over
   * (ENDLIST, the recording is VOD) and its transcoder slot is free.
   */
  status: StreamStatus;
  transcoder: string | undefined;
  endingSince: number | undefined;
  /** The node whose origin accepted the current (or last) publish: its transcoder pulls from there. */
  origin?: string | undefined;
  /** Not stored: a stream a transcoder runs from its own config, known by its heartbeats (the appliance's demo). */
  local?: true;
  /**
   * The assignment's epoch: raised each time the stream goes to another transcoder. Its job carries it
   * and its directory records it, so an older writer stops (fencing).
   */
  epoch?: number;
  /** When its last event ended (its publisher left; ms; for events that ended before this was kept, the upgrade's time). */
  endedAt?: number | undefined;
  /** What its media took on the storage, as its transcoder last reported. */
  storedBytes?: number | undefined;
  /** When its media was deleted (its retention ran out). */
  mediaDeletedAt?: number | undefined;
  /** When it was deleted with its media: the row stays until a transcoder says the media is gone. */
  purgeRequestedAt?: number | undefined;
}

/** An ended event kept as <stream>.<version> (archive strategy 'version'). */
export interface VersionRow {
  app: string;
  stream: string;
  version: number;
  endedAt: number;
  storedBytes?: number | undefined;
  mediaDeletedAt?: number | undefined;
}

/** A stream's settings as the API takes them (common/stream-settings.ts), plus signed playback. */
export interface StreamOptions extends EncodingSettings, DvrSettings {
  signedPlayback: boolean;
}

const MIGRATIONS = [
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
];

interface RawNode { id: string; role: Role; state: NodeState; address: string; capacity: number; last_heartbeat: number; metrics: string;
  since: number; assigned: number }
interface RawStream { app: string; stream: string; settings: string; stream_key: string; status: StreamRow['status'];
  transcoder: string | null; ending_since: number | null; origin: string | null; epoch: number; ended_at: number | null;
  stored_bytes: number | null; media_deleted_at: number | null; purge_requested_at: number | null }
interface RawVersion { app: string; stream: string; version: number; ended_at: number; stored_bytes: number | null;
  media_deleted_at: number | null }

const node = (r: RawNode): NodeRow => ({ id: r.id, role: r.role, state: r.state, address: r.address, capacity: r.capacity,
  lastHeartbeat: r.last_heartbeat, metrics: JSON.parse(r.metrics) as NodeMetrics | null, since: r.since, assigned: r.assigned });
const stream = (r: RawStream): StreamRow => ({ app: r.app, stream: r.stream, settings: JSON.parse(r.settings) as StreamOptions,
  streamKey: r.stream_key, status: r.status, transcoder: r.transcoder ?? undefined, endingSince: r.ending_since ?? undefined,
  origin: r.origin ?? undefined, epoch: r.epoch, endedAt: r.ended_at ?? undefined, storedBytes: r.stored_bytes ?? undefined,
  mediaDeletedAt: r.media_deleted_at ?? undefined, purgeRequestedAt: r.purge_requested_at ?? undefined });
const version = (r: RawVersion): VersionRow => ({ app: r.app, stream: r.stream, version: r.version, endedAt: r.ended_at,
  storedBytes: r.stored_bytes ?? undefined, mediaDeletedAt: r.media_deleted_at ?? undefined });

/**
 * Where the controller's state is read and written: every service goes through this seam (the
 * SQLite engine below implements it; PostgreSQL is to implement it for a cluster's controllers).
 * Everything else a service keeps is a cache any controller can rebuild from it.
 */
export interface StateStore {
  /** Runs `fn` as one transaction: all its changes, or none. */
  transaction<T>(fn: () => T): T;
  putLaunchConfig(name: string, body: unknown): boolean;
  replaceLaunchConfig(name: string, body: unknown): boolean;
  launchConfigs(): Array<{ name: string; body: unknown }>;
  deleteLaunchConfig(name: string): boolean;
  upsertNode(n: NodeRow): void;
  node(id: string): NodeRow | undefined;
  nodes(filter?: { role?: string; state?: string }): NodeRow[];
  setNodeState(id: string, state: NodeState): void;
  addScaleEvent(e: ScaleEvent): void;
  scaleEvents(limit?: number): ScaleEvent[];
  lastScaleAt(role: string): number;
  /** Bumped by every change to the streams, so views of them can be cached. */
  readonly streamsVersion: number;
  insertStream(s: StreamRow): boolean;
  updateStreamSettings(app: string, name: string, settings: StreamOptions): boolean;
  stream(app: string, name: string): StreamRow | undefined;
  streams(): StreamRow[];
  streamsOn(transcoder: string): StreamRow[];
  loadOf(role: string): Array<Pick<NodeRow, 'id' | 'role' | 'state' | 'address' | 'capacity'> & { used: number }>;
  assignedCounts(): Map<string, number>;
  setStreamStatus(app: string, name: string, status: StreamRow['status'], transcoder: string | undefined, endingSince?: number): void;
  setStreamOrigin(app: string, name: string, origin: string | undefined): void;
  endStreams(before: number): StreamRow[];
  setStoredBytes(app: string, name: string, bytes: number): void;
  markMediaDeleted(app: string, name: string, endedAt: number, at: number): boolean;
  firstWithStorage(role: string): string | undefined;
  endedWithMedia(): StreamRow[];
  deleteStream(app: string, name: string): boolean;
  /** A version a transcoder found (its end and size); one whose media was deleted stays deleted. */
  upsertVersion(v: VersionRow): void;
  /** Versions whose media is still on the storage. */
  versionsWithMedia(): VersionRow[];
  markVersionDeleted(app: string, name: string, version: number, at: number): boolean;
  /** Asks for a stream to be deleted with its media; false while it runs (live or ending) or when it does not exist. */
  requestPurge(app: string, name: string, at: number): boolean;
  /** Streams whose media is to be removed. */
  purgesPending(): StreamRow[];
  /** A stream's media is gone: its row and its versions' go too. */
  finishPurge(app: string, name: string): boolean;
  close(): void;
}

/** The embedded engine: one SQLite file. */
export class Store implements StateStore {
  private readonly db: Database.Database;
  private closed = false;
  private readonly statements = new Map<string, Database.Statement>();
  /** Bumped by every change to the streams table, so views of it can be cached. */
  streamsVersion = 0;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  transaction<T>(fn: () => T): T { return this.db.transaction(fn)(); }

  /** A statement prepared once per text: the heartbeat path runs the same few thousands of times a second. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  // Launch configs
  putLaunchConfig(name: string, body: unknown): boolean {
    const r = this.sql('INSERT OR IGNORE INTO launch_configs (name, body, created_at) VALUES (?, ?, ?)')
      .run(name, JSON.stringify(body), Date.now());
    return r.changes === 1;
  }
  /** Stores or replaces a launch config; true when it was new. */
  replaceLaunchConfig(name: string, body: unknown): boolean {
    const had = this.sql('SELECT 1 FROM launch_configs WHERE name = ?').get(name) !== undefined;
    this.sql(`INSERT INTO launch_configs (name, body, created_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET body = excluded.body`).run(name, JSON.stringify(body), Date.now());
    return !had;
  }
  launchConfigs(): Array<{ name: string; body: unknown }> {
    return (this.sql('SELECT name, body FROM launch_configs ORDER BY name').all() as Array<{ name: string; body: string }>)
      .map((r) => ({ name: r.name, body: JSON.parse(r.body) as unknown }));
  }
  deleteLaunchConfig(name: string): boolean {
    return this.sql('DELETE FROM launch_configs WHERE name = ?').run(name).changes === 1;
  }

  // Nodes
  upsertNode(n: NodeRow): void {
    this.sql(`INSERT INTO nodes (id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET role = excluded.role, state = excluded.state, address = excluded.address,
        capacity = excluded.capacity, last_heartbeat = excluded.last_heartbeat, metrics = excluded.metrics, since = excluded.since,
        storage_ok = excluded.storage_ok`)
      .run(n.id, n.role, n.state, n.address, n.capacity, n.lastHeartbeat, JSON.stringify(n.metrics ?? null), n.since,
        n.metrics?.storage?.available === true ? 1 : 0);
  }
  node(id: string): NodeRow | undefined {
    const r = this.sql('SELECT * FROM nodes WHERE id = ?').get(id) as RawNode | undefined;
    return r ? node(r) : undefined;
  }
  nodes(filter: { role?: string; state?: string } = {}): NodeRow[] {
    // One statement per combination of filters, so the role's index serves the role's.
    const where = [filter.role !== undefined ? 'role = @role' : '', filter.state !== undefined ? 'state = @state' : ''].filter(Boolean);
    const params = { ...(filter.role !== undefined ? { role: filter.role } : {}),
      ...(filter.state !== undefined ? { state: filter.state } : {}) };
    return (this.sql(`SELECT * FROM nodes${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`)
      .all(params) as RawNode[]).map(node);
  }
  setNodeState(id: string, state: NodeState): void {
    this.sql('UPDATE nodes SET state = ? WHERE id = ?').run(state, id);
  }

  // Scale events: the audit trail, and the cool-down clock
  addScaleEvent(e: ScaleEvent): void {
    this.sql('INSERT INTO scale_events (role, at, action, count, reason, nodes) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.role, e.at, e.action, e.count, e.reason, JSON.stringify(e.nodes));
  }
  scaleEvents(limit = 100): ScaleEvent[] {
    return (this.sql('SELECT role, at, action, count, reason, nodes FROM scale_events ORDER BY id DESC LIMIT ?').all(limit) as
      Array<Omit<ScaleEvent, 'nodes'> & { nodes: string }>).map((e) => ({ ...e, nodes: JSON.parse(e.nodes) as string[] }));
  }
  lastScaleAt(role: string): number {
    const r = this.sql('SELECT MAX(at) AS at FROM scale_events WHERE role = ?').get(role) as { at: number | null };
    return r.at ?? 0;
  }

  // Streams
  insertStream(s: StreamRow): boolean {
    this.streamsVersion++;
    return this.sql(`INSERT OR IGNORE INTO streams (app, stream, settings, stream_key, status, transcoder, ending_since)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(s.app, s.stream, JSON.stringify(s.settings), s.streamKey, s.status, s.transcoder ?? null,
      s.endingSince ?? null).changes === 1;
  }
  updateStreamSettings(app: string, name: string, settings: StreamOptions): boolean {
    this.streamsVersion++;
    return this.sql('UPDATE streams SET settings = ? WHERE app = ? AND stream = ?')
      .run(JSON.stringify(settings), app, name).changes === 1;
  }
  stream(app: string, name: string): StreamRow | undefined {
    const r = this.sql('SELECT * FROM streams WHERE app = ? AND stream = ?').get(app, name) as RawStream | undefined;
    return r ? stream(r) : undefined;
  }
  streams(): StreamRow[] {
    return (this.sql('SELECT * FROM streams ORDER BY app, stream').all() as RawStream[]).map(stream);
  }
  streamsOn(transcoder: string): StreamRow[] {
    return (this.sql('SELECT * FROM streams WHERE transcoder = ? ORDER BY app, stream').all(transcoder) as RawStream[]).map(stream);
  }
  /** Each node of a role with the streams assigned to it: the light input allocation needs. */
  loadOf(role: string): Array<Pick<NodeRow, 'id' | 'role' | 'state' | 'address' | 'capacity'> & { used: number }> {
    return this.sql('SELECT id, role, state, address, capacity, assigned AS used FROM nodes WHERE role = ?').all(role) as
      Array<Pick<NodeRow, 'id' | 'role' | 'state' | 'address' | 'capacity'> & { used: number }>;
  }

  /** Streams assigned per transcoder, for allocation. */
  assignedCounts(): Map<string, number> {
    const rows = this.sql('SELECT id, assigned FROM nodes WHERE assigned > 0').all() as Array<{ id: string; assigned: number }>;
    return new Map(rows.map((r) => [r.id, r.assigned]));
  }
  /** Sets a stream's status and transcoder; a different transcoder is a new assignment (its epoch goes up). */
  setStreamStatus(app: string, name: string, status: StreamRow['status'], transcoder: string | undefined, endingSince?: number): void {
    this.streamsVersion++;
    this.sql(`UPDATE streams SET epoch = CASE WHEN @t IS NOT NULL AND (transcoder IS NULL OR transcoder != @t) `
      + `THEN epoch + 1 ELSE epoch END,
      status = @status, transcoder = @t, ending_since = @since,
      ended_at = CASE WHEN @status = 'live' THEN NULL ELSE ended_at END,
      media_deleted_at = CASE WHEN @status = 'live' THEN NULL ELSE media_deleted_at END WHERE app = @app AND stream = @stream`)
      .run({ t: transcoder ?? null, status, since: endingSince ?? null, app, stream: name });
  }
  setStreamOrigin(app: string, name: string, origin: string | undefined): void {
    this.streamsVersion++;
    this.sql('UPDATE streams SET origin = ? WHERE app = ? AND stream = ?').run(origin ?? null, app, name);
  }
  /** Ends every stream whose publisher left before `before` (ms): its slot is freed. Returns them. */
  endStreams(before: number): StreamRow[] {
    return this.transaction(() => {
      const rows = (this.sql(`SELECT * FROM streams WHERE status = 'ending' AND ending_since < ?`).all(before) as RawStream[])
        .map(stream);
      const end = this.sql(
        `UPDATE streams SET status = 'ended', ended_at = ending_since, transcoder = NULL, ending_since = NULL
         WHERE app = ? AND stream = ?`);
      for (const r of rows) end.run(r.app, r.stream);
      if (rows.length > 0) this.streamsVersion++;
      return rows;
    });
  }
  /** What a stream's media takes on the storage, as its transcoder reports it. */
  setStoredBytes(app: string, name: string, bytes: number): void {
    this.sql('UPDATE streams SET stored_bytes = ? WHERE app = ? AND stream = ?').run(Math.round(bytes), app, name);
  }
  /** The media of the event that ended at `endedAt` is gone from the storage (its retention ran out); a later event is untouched. */
  markMediaDeleted(app: string, name: string, endedAt: number, at: number): boolean {
    this.streamsVersion++;
    return this.sql(`UPDATE streams SET media_deleted_at = ?, stored_bytes = 0 WHERE app = ? AND stream = ? AND status = 'ended'
      AND media_deleted_at IS NULL AND ended_at = ?`).run(at, app, name, endedAt).changes === 1;
  }
  /** The first node of a role in service whose last heartbeat said its storage is available, by id (one query). */
  firstWithStorage(role: string): string | undefined {
    const r = this.sql(`SELECT MIN(id) AS id FROM nodes WHERE role = ? AND state = 'inservice' AND storage_ok = 1`)
      .get(role) as { id: string | null };
    return r.id ?? undefined;
  }
  /** Ended streams whose media is still on the storage. */
  endedWithMedia(): StreamRow[] {
    return (this.sql(`SELECT * FROM streams WHERE status = 'ended' AND media_deleted_at IS NULL ORDER BY ended_at, app, stream`)
      .all() as RawStream[]).map(stream);
  }
  deleteStream(app: string, name: string): boolean {
    this.streamsVersion++;
    return this.sql('DELETE FROM streams WHERE app = ? AND stream = ?').run(app, name).changes === 1;
  }
  upsertVersion(v: VersionRow): void {
    this.sql(`INSERT INTO versions (app, stream, version, ended_at, stored_bytes) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (app, stream, version) DO UPDATE SET ended_at = excluded.ended_at, stored_bytes = excluded.stored_bytes
      WHERE versions.media_deleted_at IS NULL`).run(v.app, v.stream, v.version, Math.round(v.endedAt), v.storedBytes ?? null);
  }
  versionsWithMedia(): VersionRow[] {
    return (this.sql('SELECT * FROM versions WHERE media_deleted_at IS NULL ORDER BY ended_at, app, stream, version')
      .all() as RawVersion[]).map(version);
  }
  markVersionDeleted(app: string, name: string, v: number, at: number): boolean {
    return this.sql(`UPDATE versions SET media_deleted_at = ?, stored_bytes = 0 WHERE app = ? AND stream = ? AND version = ?
      AND media_deleted_at IS NULL`).run(at, app, name, v).changes === 1;
  }
  requestPurge(app: string, name: string, at: number): boolean {
    this.streamsVersion++;
    return this.sql(`UPDATE streams SET purge_requested_at = COALESCE(purge_requested_at, ?) WHERE app = ? AND stream = ?
      AND status NOT IN ('live', 'ending')`).run(at, app, name).changes === 1;
  }
  purgesPending(): StreamRow[] {
    return (this.sql('SELECT * FROM streams WHERE purge_requested_at IS NOT NULL ORDER BY purge_requested_at')
      .all() as RawStream[]).map(stream);
  }
  finishPurge(app: string, name: string): boolean {
    return this.transaction(() => {
      this.sql('DELETE FROM versions WHERE app = ? AND stream = ?').run(app, name);
      this.streamsVersion++;
      return this.sql('DELETE FROM streams WHERE app = ? AND stream = ? AND purge_requested_at IS NOT NULL')
        .run(app, name).changes === 1;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
