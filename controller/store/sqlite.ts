// The embedded engine: the controller's state in one SQLite file (WAL), for one machine. Its
// queries are answered at once; a transaction holds the connection until it ends (other queries
// wait for it), so a transaction may await between its queries as on PostgreSQL.
import { promises as fs } from 'node:fs';
import Database from 'better-sqlite3';
import { DvrError } from '../../common/errors.js';
import {
  QUERY_NAMES, type ControllerRow, type Lease, type NodeRow, type NodeState, type ScaleEvent, type StateStore, type StoreOps,
  type StoreQueries, type StreamOptions, type StreamRow, type VersionRow,
} from '../store.js';
import { SCHEMA_VERSION, sqliteMigration } from './migrations.js';
import { node, stream, version, type RawNode, type RawStream, type RawVersion } from './rows.js';


/** The queries on one SQLite connection, answered at once (the engine's promises wrap them). */
class SqliteQueries implements StoreQueries {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database, private readonly changed: (table: 'streams' | 'launch_configs') => void) {}

  private transaction<T>(fn: () => T): T { return this.db.transaction(fn)(); }

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
    if (r.changes === 1) this.changed('launch_configs');
    return r.changes === 1;
  }
  /** Stores or replaces a launch config; true when it was new. */
  replaceLaunchConfig(name: string, body: unknown): boolean {
    const had = this.sql('SELECT 1 FROM launch_configs WHERE name = ?').get(name) !== undefined;
    this.sql(`INSERT INTO launch_configs (name, body, created_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET body = excluded.body`).run(name, JSON.stringify(body), Date.now());
    this.changed('launch_configs');
    return !had;
  }
  launchConfigs(): Array<{ name: string; body: unknown }> {
    return (this.sql('SELECT name, body FROM launch_configs ORDER BY name').all() as Array<{ name: string; body: string }>)
      .map((r) => ({ name: r.name, body: JSON.parse(r.body) as unknown }));
  }
  deleteLaunchConfig(name: string): boolean {
    const gone = this.sql('DELETE FROM launch_configs WHERE name = ?').run(name).changes === 1;
    if (gone) this.changed('launch_configs');
    return gone;
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
  writeHeartbeats(rows: ReadonlyArray<{ row: NodeRow; was: NodeState | undefined }>): string[] {
    const st = this.sql(`INSERT INTO nodes (id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET role = excluded.role, state = excluded.state, address = excluded.address,
        capacity = excluded.capacity, last_heartbeat = excluded.last_heartbeat, metrics = excluded.metrics, since = excluded.since,
        storage_ok = excluded.storage_ok WHERE nodes.state = ?`);
    return this.transaction(() => rows.filter(({ row: n, was }) => st.run(n.id, n.role, n.state, n.address, n.capacity,
      n.lastHeartbeat, JSON.stringify(n.metrics ?? null), n.since, n.metrics?.storage?.available === true ? 1 : 0, was ?? null)
      .changes === 1).map(({ row }) => row.id));
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
    this.changed('streams');
    return this.sql(`INSERT OR IGNORE INTO streams (app, stream, settings, stream_key, status, transcoder, ending_since)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(s.app, s.stream, JSON.stringify(s.settings), s.streamKey, s.status, s.transcoder ?? null,
      s.endingSince ?? null).changes === 1;
  }
  updateStreamSettings(app: string, name: string, settings: StreamOptions): boolean {
    this.changed('streams');
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
  runningStreams(): StreamRow[] {
    return (this.sql(`SELECT * FROM streams WHERE status IN ('live', 'ending') AND transcoder IS NOT NULL ORDER BY transcoder, app, stream`)
      .all() as RawStream[]).map(stream);
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
    this.changed('streams');
    this.sql(`UPDATE streams SET epoch = CASE WHEN @t IS NOT NULL AND (transcoder IS NULL OR transcoder != @t) `
      + `THEN epoch + 1 ELSE epoch END,
      status = @status, transcoder = @t, ending_since = @since,
      ended_at = CASE WHEN @status = 'live' THEN NULL ELSE ended_at END,
      media_deleted_at = CASE WHEN @status = 'live' THEN NULL ELSE media_deleted_at END WHERE app = @app AND stream = @stream`)
      .run({ t: transcoder ?? null, status, since: endingSince ?? null, app, stream: name });
  }
  setStreamOrigin(app: string, name: string, origin: string | undefined): void {
    this.changed('streams');
    this.sql('UPDATE streams SET origin = ? WHERE app = ? AND stream = ?').run(origin ?? null, app, name);
  }
  publishEnded(app: string, name: string, at: number, origin: string | undefined): boolean {
    const done = this.sql(`UPDATE streams SET status = 'ending', ending_since = ? WHERE app = ? AND stream = ? AND status = 'live'
      AND (? IS NULL OR origin IS NULL OR origin = ?)`).run(at, app, name, origin ?? null, origin ?? null).changes === 1;
    if (done) this.changed('streams');
    return done;
  }
  failSilentNode(id: string, state: NodeState, lastHeartbeat: number): boolean {
    return this.sql('UPDATE nodes SET state = ? WHERE id = ? AND last_heartbeat = ?').run(state, id, lastHeartbeat).changes === 1;
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
      if (rows.length > 0) this.changed('streams');
      return rows;
    });
  }
  /** What a stream's media takes on the storage, as its transcoder reports it. */
  setStoredBytes(app: string, name: string, bytes: number): void {
    this.sql('UPDATE streams SET stored_bytes = ? WHERE app = ? AND stream = ?').run(Math.round(bytes), app, name);
  }
  /** The media of the event that ended at `endedAt` is gone from the storage (its retention ran out); a later event is untouched. */
  markMediaDeleted(app: string, name: string, endedAt: number, at: number): boolean {
    this.changed('streams');
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
    this.changed('streams');
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
    this.changed('streams');
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
      this.changed('streams');
      return this.sql('DELETE FROM streams WHERE app = ? AND stream = ? AND purge_requested_at IS NOT NULL')
        .run(app, name).changes === 1;
    });
  }

  // Several controllers (one, with SQLite: it leads, and the lease says since when)
  lockAllocation(): void {
    // A SQLite transaction is already alone (BEGIN IMMEDIATE).
  }
  lead(holder: string, ttlMs: number): Lease {
    const now = Date.now();
    this.sql(`INSERT INTO leases (name, holder, term, expires_at) VALUES ('leader', @holder, 1, @until)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
        term = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > @now THEN leases.term ELSE leases.term + 1 END
      WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`).run({ holder, until: now + ttlMs, now });
    return this.sql(`SELECT holder, term, expires_at AS expiresAt FROM leases WHERE name = 'leader'`).get() as Lease;
  }
  holdsLease(holder: string, term: number): boolean {
    return this.sql(`SELECT 1 FROM leases WHERE name = 'leader' AND holder = ? AND term = ? AND expires_at > ?`)
      .get(holder, term, Date.now()) !== undefined;
  }
  resign(holder: string): void {
    this.sql(`UPDATE leases SET expires_at = 0 WHERE name = 'leader' AND holder = ?`).run(holder);
  }
  seeController(c: ControllerRow): void {
    this.sql(`INSERT INTO controllers (id, url, started_at, last_seen) VALUES (?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = excluded.started_at, last_seen = excluded.last_seen`)
      .run(c.id, c.url, c.startedAt, c.lastSeen);
  }
  controllers(): ControllerRow[] {
    return this.sql('SELECT id, url, started_at AS startedAt, last_seen AS lastSeen FROM controllers ORDER BY id').all() as ControllerRow[];
  }
  sharedSecret(name: string, generated: string): string {
    this.sql('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, generated);
    return (this.sql('SELECT value FROM secrets WHERE name = ?').get(name) as { value: string }).value;
  }
}

/** The engine's connection: its migrations at open, its transactions one at a time. */
class SqliteEngine {
  private readonly db: Database.Database;
  private closed = false;
  /** Set while a transaction holds the connection: what comes meanwhile waits for it. */
  private held: Promise<void> | undefined;
  streamsVersion = 0;
  launchConfigsVersion = 0;
  /** The queries outside a transaction (they wait for one to end) and inside it (they do not). */
  readonly outside: StoreOps;
  private readonly inside: StoreOps;

  constructor(file: string, migrate: boolean) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new DvrError('DVR_ERR_CONFIG', `${file}: its schema is version ${version}, newer than this controller knows `
        + `(${SCHEMA_VERSION}); run the release that wrote it, or restore a backup taken before the upgrade`);
    }
    for (let v = version + 1; migrate && v <= SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(sqliteMigration(v));
        this.db.pragma(`user_version = ${v}`);
      })();
    }
    const queries = new SqliteQueries(this.db, (table) => {
      if (table === 'streams') this.streamsVersion++;
      else this.launchConfigsVersion++;
    });
    this.inside = answers(queries, () => undefined);
    this.outside = answers(queries, () => this.held);
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    while (this.held) await this.held;
    let release = (): void => {};
    this.held = new Promise((resolve) => { release = resolve; });
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.inside);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.held = undefined;
      release();
    }
  }

  /** SQLite's online backup: a consistent copy while the controller runs. */
  async backup(file: string): Promise<void> {
    await fs.rm(file, { force: true });
    await this.db.backup(file);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }
}

/** The embedded engine over the SQLite file `file` (made, and brought to the current schema, when needed). */
export function openSqliteStore(file: string, o: { migrate?: boolean } = {}): StateStore {
  const e = new SqliteEngine(file, o.migrate !== false);
  return {
    ...e.outside, engine: 'sqlite',
    get streamsVersion() { return e.streamsVersion; },
    get launchConfigsVersion() { return e.launchConfigsVersion; },
    transaction: (fn) => e.transaction(fn), backup: (f) => e.backup(f), close: () => e.close(),
  };
}

/** The queries as promises; each waits for `gate` (a transaction that holds the connection) first. */
function answers(q: StoreQueries, gate: () => Promise<void> | undefined): StoreOps {
  const out: Record<string, unknown> = {};
  for (const name of QUERY_NAMES) {
    const run = (q[name] as (...a: unknown[]) => unknown).bind(q);
    out[name] = async (...args: unknown[]): Promise<unknown> => {
      for (let wait = gate(); wait; wait = gate()) await wait;
      return run(...args);
    };
  }
  return out as unknown as StoreOps;
}
