// The cluster's engine: the controllers' state in PostgreSQL (DVR_DATABASE_URL), shared by every
// controller of the cluster. Times are milliseconds in BIGINT columns, JSON is kept as text (as in
// SQLite, so a row reads the same from both). Each controller follows the others' changes of the
// streams and launch configs by LISTEN (its caches are keyed by the versions this bumps); the leader
// lease runs on the database's clock, so controllers' clocks may differ.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { DvrError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type {
  ControllerRow, Lease, NodeRow, NodeState, ScaleEvent, StateStore, StoreOps, StreamOptions, StreamRow, VersionRow,
} from '../store.js';
import { POSTGRES_BASELINE_VERSION, SCHEMA_VERSION, postgresMigration } from './migrations.js';
import { node, stream, version, type RawNode, type RawStream, type RawVersion } from './rows.js';

/** BIGINT and COUNT(*) come back as numbers: every one of ours (milliseconds, bytes) is below 2^53. */
const TYPES = { getTypeParser: (oid: number, format?: string): ((v: string) => unknown) =>
  (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) as (v: string) => unknown };

/** The key of the advisory locks: migrations (session) and allocations (transaction). */
const MIGRATION_LOCK = 7_400_001;
const ALLOCATION_LOCK = 7_400_002;

/** The database's clock, in milliseconds. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;
type Changed = (table: 'streams' | 'launch_configs') => void;

/** Errors that say the server is not there (no connection, a timeout, a shutdown), not that a query was wrong. */
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);

/** A query's error as the API says it: 503 when PostgreSQL is unavailable (agents then ask another controller). */
export function storeError(err: unknown, where: string): unknown {
  const e = err as { code?: string; message?: string };
  if (UNAVAILABLE.has(e.code ?? '') || /timeout|Connection terminated|connect ECONN|the database system is/i.test(e.message ?? '')) {
    // The reason goes in the details, which the controller logs (the leader lease's round says it)
    // and the API does not answer: /health gives this without a token, and names no host.
    return new DvrError('DVR_ERR_STORE_UNAVAILABLE', 'the controller\'s store (PostgreSQL) does not answer; another controller may '
      + '(this controller\'s log says why)', { reason: `${where}: ${e.message ?? String(err)}` });
  }
  return err;
}

/** A pool or client whose unavailability is said as such (see storeError). */
function guarded<Q extends Queryable>(q: Q, where: string): Q {
  const query = q.query.bind(q) as (...a: unknown[]) => Promise<unknown>;
  return Object.assign(Object.create(q) as Q, {
    query: (...a: unknown[]): Promise<unknown> => query(...a).catch((err: unknown) => { throw storeError(err, where); }),
  });
}

/** `?` placeholders (the queries' text, shared in spirit with SQLite's) as PostgreSQL's `$n`. */
const numbered = new Map<string, string>();
function pgText(sql: string): string {
  let t = numbered.get(sql);
  if (t === undefined) {
    let n = 0;
    t = sql.replace(/\?/g, () => `$${++n}`);
    numbered.set(sql, t);
  }
  return t;
}

/** The queries over a pool (each its own transaction) or over one client (inside a transaction). */
class PgQueries implements StoreOps {
  /** `figures`: where heartbeats are written (without waiting for the disk); the same connection inside a transaction. */
  constructor(protected readonly db: Queryable, protected readonly changed: Changed, private readonly figures: Queryable = db) {}

  private async rows<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.db.query<R & pg.QueryResultRow>(pgText(sql), params)).rows;
  }
  private async count(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.db.query(pgText(sql), params)).rowCount ?? 0;
  }

  // Launch configs
  async putLaunchConfig(name: string, body: unknown): Promise<boolean> {
    const made = await this.count('INSERT INTO launch_configs (name, body, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      [name, JSON.stringify(body), Date.now()]) === 1;
    if (made) this.changed('launch_configs');
    return made;
  }
  async replaceLaunchConfig(name: string, body: unknown): Promise<boolean> {
    const [r] = await this.rows<{ made: boolean }>(`INSERT INTO launch_configs (name, body, created_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET body = excluded.body RETURNING (xmax = 0) AS made`, [name, JSON.stringify(body), Date.now()]);
    this.changed('launch_configs');
    return r?.made === true;
  }
  async launchConfigs(): Promise<Array<{ name: string; body: unknown }>> {
    return (await this.rows<{ name: string; body: string }>('SELECT name, body FROM launch_configs ORDER BY name'))
      .map((r) => ({ name: r.name, body: JSON.parse(r.body) as unknown }));
  }
  async deleteLaunchConfig(name: string): Promise<boolean> {
    const gone = await this.count('DELETE FROM launch_configs WHERE name = ?', [name]) === 1;
    if (gone) this.changed('launch_configs');
    return gone;
  }

  // Nodes
  async upsertNode(n: NodeRow): Promise<void> {
    await this.count(`INSERT INTO nodes (id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET role = excluded.role, state = excluded.state, address = excluded.address,
        capacity = excluded.capacity, last_heartbeat = excluded.last_heartbeat, metrics = excluded.metrics, since = excluded.since,
        storage_ok = excluded.storage_ok`, [n.id, n.role, n.state, n.address, n.capacity, n.lastHeartbeat,
      JSON.stringify(n.metrics ?? null), n.since, n.metrics?.storage?.available === true ? 1 : 0]);
  }
  /** The rows as arrays, unnested: an update where the state is still the one read, an insert where the node is new. */
  async writeHeartbeats(rows: ReadonlyArray<{ row: NodeRow; was: NodeState | undefined }>): Promise<string[]> {
    if (rows.length === 0) return [];
    const col = <T>(f: (r: { row: NodeRow; was: NodeState | undefined }) => T): T[] => rows.map(f);
    return (await this.figures.query<{ id: string }>(`WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],
        $4::text[], $5::int[], $6::bigint[], $7::text[], $8::bigint[], $9::int[], $10::text[])
        AS i(id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok, was)),
      updated AS (UPDATE nodes n SET role = i.role, state = i.state, address = i.address, capacity = i.capacity,
        last_heartbeat = i.last_heartbeat, metrics = i.metrics, since = i.since, storage_ok = i.storage_ok
        FROM input i WHERE n.id = i.id AND n.state = i.was RETURNING n.id),
      inserted AS (INSERT INTO nodes (id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok)
        SELECT id, role, state, address, capacity, last_heartbeat, metrics, since, storage_ok FROM input WHERE was IS NULL
        ON CONFLICT (id) DO NOTHING RETURNING id)
      SELECT id FROM updated UNION ALL SELECT id FROM inserted`,
    [col((r) => r.row.id), col((r) => r.row.role), col((r) => r.row.state), col((r) => r.row.address), col((r) => r.row.capacity),
      col((r) => r.row.lastHeartbeat), col((r) => JSON.stringify(r.row.metrics ?? null)), col((r) => r.row.since),
      col((r) => (r.row.metrics?.storage?.available === true ? 1 : 0)), col((r) => r.was ?? null)])).rows.map((r) => r.id);
  }
  async node(id: string): Promise<NodeRow | undefined> {
    const [r] = await this.rows<RawNode>('SELECT * FROM nodes WHERE id = ?', [id]);
    return r ? node(r) : undefined;
  }
  async nodes(filter: { role?: string; state?: string } = {}): Promise<NodeRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.role !== undefined) { where.push('role = ?'); params.push(filter.role); }
    if (filter.state !== undefined) { where.push('state = ?'); params.push(filter.state); }
    return (await this.rows<RawNode>(`SELECT * FROM nodes${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
      params)).map(node);
  }
  async setNodeState(id: string, state: NodeState): Promise<void> {
    await this.count('UPDATE nodes SET state = ? WHERE id = ?', [state, id]);
  }

  // Scale events
  async addScaleEvent(e: ScaleEvent): Promise<void> {
    await this.count('INSERT INTO scale_events (role, at, action, count, reason, nodes) VALUES (?, ?, ?, ?, ?, ?)',
      [e.role, e.at, e.action, e.count, e.reason, JSON.stringify(e.nodes)]);
  }
  async scaleEvents(limit = 100): Promise<ScaleEvent[]> {
    return (await this.rows<Omit<ScaleEvent, 'nodes'> & { nodes: string }>(
      'SELECT role, at, action, count, reason, nodes FROM scale_events ORDER BY id DESC LIMIT ?', [limit]))
      .map((e) => ({ ...e, nodes: JSON.parse(e.nodes) as string[] }));
  }
  async lastScaleAt(role: string): Promise<number> {
    const [r] = await this.rows<{ at: number | null }>('SELECT MAX(at) AS at FROM scale_events WHERE role = ?', [role]);
    return r?.at ?? 0;
  }

  // Streams
  private async streamChange(sql: string, params: unknown[]): Promise<number> {
    const n = await this.count(sql, params);
    if (n > 0) this.changed('streams');
    return n;
  }
  async insertStream(s: StreamRow): Promise<boolean> {
    return await this.streamChange(`INSERT INTO streams (app, stream, settings, stream_key, status, transcoder, ending_since)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, stream) DO NOTHING`, [s.app, s.stream, JSON.stringify(s.settings), s.streamKey,
      s.status, s.transcoder ?? null, s.endingSince ?? null]) === 1;
  }
  async updateStreamSettings(app: string, name: string, settings: StreamOptions): Promise<boolean> {
    return await this.streamChange('UPDATE streams SET settings = ? WHERE app = ? AND stream = ?',
      [JSON.stringify(settings), app, name]) === 1;
  }
  async stream(app: string, name: string): Promise<StreamRow | undefined> {
    const [r] = await this.rows<RawStream>('SELECT * FROM streams WHERE app = ? AND stream = ?', [app, name]);
    return r ? stream(r) : undefined;
  }
  async streams(): Promise<StreamRow[]> {
    return (await this.rows<RawStream>('SELECT * FROM streams ORDER BY app, stream')).map(stream);
  }
  async streamsOn(transcoder: string): Promise<StreamRow[]> {
    return (await this.rows<RawStream>('SELECT * FROM streams WHERE transcoder = ? ORDER BY app, stream', [transcoder])).map(stream);
  }
  async runningStreams(): Promise<StreamRow[]> {
    return (await this.rows<RawStream>(`SELECT * FROM streams WHERE status IN ('live', 'ending') AND transcoder IS NOT NULL
      ORDER BY transcoder, app, stream`)).map(stream);
  }
  async loadOf(role: string): Promise<Array<Pick<NodeRow, 'id' | 'role' | 'state' | 'address' | 'capacity'> & { used: number }>> {
    return this.rows('SELECT id, role, state, address, capacity, assigned AS used FROM nodes WHERE role = ?', [role]);
  }
  async assignedCounts(): Promise<Map<string, number>> {
    const rows = await this.rows<{ id: string; assigned: number }>('SELECT id, assigned FROM nodes WHERE assigned > 0');
    return new Map(rows.map((r) => [r.id, r.assigned]));
  }
  async setStreamStatus(app: string, name: string, status: StreamRow['status'], transcoder: string | undefined,
    endingSince?: number): Promise<void> {
    await this.streamChange(`UPDATE streams SET epoch = CASE WHEN $1::text IS NOT NULL AND (transcoder IS NULL OR transcoder != $1)
      THEN epoch + 1 ELSE epoch END,
      status = $2, transcoder = $1, ending_since = $3,
      ended_at = CASE WHEN $2 = 'live' THEN NULL ELSE ended_at END,
      media_deleted_at = CASE WHEN $2 = 'live' THEN NULL ELSE media_deleted_at END WHERE app = $4 AND stream = $5`,
    [transcoder ?? null, status, endingSince ?? null, app, name]);
  }
  async setStreamOrigin(app: string, name: string, origin: string | undefined): Promise<void> {
    await this.streamChange('UPDATE streams SET origin = ? WHERE app = ? AND stream = ?', [origin ?? null, app, name]);
  }
  async publishEnded(app: string, name: string, at: number, origin: string | undefined): Promise<boolean> {
    return await this.streamChange(`UPDATE streams SET status = 'ending', ending_since = $1 WHERE app = $2 AND stream = $3
      AND status = 'live' AND ($4::text IS NULL OR origin IS NULL OR origin = $4)`, [at, app, name, origin ?? null]) === 1;
  }
  async failSilentNode(id: string, state: NodeState, lastHeartbeat: number): Promise<boolean> {
    return await this.count('UPDATE nodes SET state = ? WHERE id = ? AND last_heartbeat = ?', [state, id, lastHeartbeat]) === 1;
  }
  async endStreams(before: number): Promise<StreamRow[]> {
    // The rows as they were (their transcoder named), ended in the same statement.
    const rows = (await this.rows<RawStream>(`WITH old AS (SELECT * FROM streams WHERE status = 'ending' AND ending_since < ? FOR UPDATE)
      UPDATE streams s SET status = 'ended', ended_at = s.ending_since, transcoder = NULL, ending_since = NULL
      FROM old WHERE s.app = old.app AND s.stream = old.stream RETURNING old.*`, [before])).map(stream);
    if (rows.length > 0) this.changed('streams');
    return rows;
  }
  async setStoredBytes(app: string, name: string, bytes: number): Promise<void> {
    await this.count('UPDATE streams SET stored_bytes = ? WHERE app = ? AND stream = ?', [Math.round(bytes), app, name]);
  }
  async markMediaDeleted(app: string, name: string, endedAt: number, at: number): Promise<boolean> {
    return await this.streamChange(`UPDATE streams SET media_deleted_at = ?, stored_bytes = 0 WHERE app = ? AND stream = ?
      AND status = 'ended' AND media_deleted_at IS NULL AND ended_at = ?`, [at, app, name, endedAt]) === 1;
  }
  async firstWithStorage(role: string): Promise<string | undefined> {
    const [r] = await this.rows<{ id: string | null }>(
      `SELECT MIN(id) AS id FROM nodes WHERE role = ? AND state = 'inservice' AND storage_ok = 1`, [role]);
    return r?.id ?? undefined;
  }
  async endedWithMedia(): Promise<StreamRow[]> {
    return (await this.rows<RawStream>(`SELECT * FROM streams WHERE status = 'ended' AND media_deleted_at IS NULL
      ORDER BY ended_at, app, stream`)).map(stream);
  }
  async deleteStream(app: string, name: string): Promise<boolean> {
    return await this.streamChange('DELETE FROM streams WHERE app = ? AND stream = ?', [app, name]) === 1;
  }
  async upsertVersion(v: VersionRow): Promise<void> {
    await this.count(`INSERT INTO versions (app, stream, version, ended_at, stored_bytes) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (app, stream, version) DO UPDATE SET ended_at = excluded.ended_at, stored_bytes = excluded.stored_bytes
      WHERE versions.media_deleted_at IS NULL`, [v.app, v.stream, v.version, Math.round(v.endedAt), v.storedBytes ?? null]);
  }
  async versionsWithMedia(): Promise<VersionRow[]> {
    return (await this.rows<RawVersion>('SELECT * FROM versions WHERE media_deleted_at IS NULL ORDER BY ended_at, app, stream, version'))
      .map(version);
  }
  async markVersionDeleted(app: string, name: string, v: number, at: number): Promise<boolean> {
    return await this.count(`UPDATE versions SET media_deleted_at = ?, stored_bytes = 0 WHERE app = ? AND stream = ? AND version = ?
      AND media_deleted_at IS NULL`, [at, app, name, v]) === 1;
  }
  async requestPurge(app: string, name: string, at: number): Promise<boolean> {
    return await this.streamChange(`UPDATE streams SET purge_requested_at = COALESCE(purge_requested_at, ?) WHERE app = ? AND stream = ?
      AND status NOT IN ('live', 'ending')`, [at, app, name]) === 1;
  }
  async purgesPending(): Promise<StreamRow[]> {
    return (await this.rows<RawStream>('SELECT * FROM streams WHERE purge_requested_at IS NOT NULL ORDER BY purge_requested_at'))
      .map(stream);
  }
  async finishPurge(app: string, name: string): Promise<boolean> {
    // One statement: the versions and the row go together.
    return await this.streamChange(`WITH v AS (DELETE FROM versions WHERE app = $1 AND stream = $2)
      DELETE FROM streams WHERE app = $1 AND stream = $2 AND purge_requested_at IS NOT NULL`, [app, name]) === 1;
  }

  // Several controllers
  async lockAllocation(): Promise<void> {
    await this.db.query('SELECT pg_advisory_xact_lock($1)', [ALLOCATION_LOCK]);
  }
  async lead(holder: string, ttlMs: number): Promise<Lease> {
    await this.db.query(`INSERT INTO leases AS l (name, holder, term, expires_at) VALUES ('leader', $1, 1, ${NOW_MS} + $2)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
        term = CASE WHEN l.holder = excluded.holder AND l.expires_at > ${NOW_MS} THEN l.term ELSE l.term + 1 END
      WHERE l.holder = excluded.holder OR l.expires_at <= ${NOW_MS}`, [holder, ttlMs]);
    const [l] = await this.rows<Lease>(`SELECT holder, term, expires_at AS "expiresAt" FROM leases WHERE name = 'leader'`);
    return l as Lease;
  }
  async holdsLease(holder: string, term: number): Promise<boolean> {
    return (await this.rows(`SELECT 1 FROM leases WHERE name = 'leader' AND holder = ? AND term = ? AND expires_at > ${NOW_MS}
      FOR SHARE`, [holder, term])).length === 1;
  }
  async resign(holder: string): Promise<void> {
    await this.count(`UPDATE leases SET expires_at = 0 WHERE name = 'leader' AND holder = ?`, [holder]);
  }
  async seeController(c: ControllerRow): Promise<void> {
    await this.count(`INSERT INTO controllers (id, url, started_at, last_seen) VALUES (?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = excluded.started_at, last_seen = excluded.last_seen`,
    [c.id, c.url, c.startedAt, c.lastSeen]);
  }
  async controllers(): Promise<ControllerRow[]> {
    return this.rows(`SELECT id, url, started_at AS "startedAt", last_seen AS "lastSeen" FROM controllers ORDER BY id`);
  }
  async sharedSecret(name: string, generated: string): Promise<string> {
    // Two controllers that start together: the second's insert waits for the first's and does
    // nothing, and its statement's snapshot predates the first's row, which the next statement sees.
    await this.count('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [name, generated]);
    const [r] = await this.rows<{ value: string }>('SELECT value FROM secrets WHERE name = ?', [name]);
    if (!r) throw new DvrError('DVR_ERR_INTERNAL', `the store kept no ${name}`);
    return r.value;
  }
}

export interface PostgresOptions {
  url: string;
  log: Logger;
  /** Bring the schema to this release's version (default); a backup leaves a live database as it is. */
  migrate?: boolean;
  /** How long a query may wait for a connection, and a statement may run (ms). */
  timeoutMs?: number;
}

/** The cluster's engine: a pool of connections, and one more that listens for the other controllers' changes. */
export class PostgresStore extends PgQueries implements StateStore {
  readonly engine = 'postgres';
  streamsVersion = 0;
  launchConfigsVersion = 0;
  private listener: pg.Client | undefined;
  private closed = false;
  private relisten: NodeJS.Timeout | undefined;

  private constructor(private readonly pool: pg.Pool, private readonly o: PostgresOptions, private readonly figuresPool: pg.Pool) {
    super(guarded(pool, redact(o.url)), (table) => this.bump(table), guarded(figuresPool, redact(o.url)));
  }

  private bump(table: 'streams' | 'launch_configs'): void {
    if (table === 'streams') this.streamsVersion++;
    else this.launchConfigsVersion++;
  }

  /** Connects, brings the schema to this controller's version, and starts listening. */
  static async open(o: PostgresOptions): Promise<PostgresStore> {
    const timeout = o.timeoutMs ?? 5000;
    // Timeouts on this side too (query_timeout, TCP keepalive): a network cut to PostgreSQL is an
    // error within the timeout, not a request that hangs until TCP gives up.
    const common = { connectionString: o.url, types: TYPES, connectionTimeoutMillis: timeout, statement_timeout: timeout,
      query_timeout: timeout + 1000, keepAlive: true, keepAliveInitialDelayMillis: 1000, idleTimeoutMillis: 30_000 };
    const pool = new pg.Pool({ ...common, max: 10, application_name: 'dvr-controller' });
    // A connection that breaks while idle is the pool's to replace; the next query says what went wrong.
    pool.on('error', (err) => o.log.warn({ err: err.message }, 'a PostgreSQL connection failed'));
    try {
      if (o.migrate !== false) await migrate(pool, redact(o.url));
    } catch (err) {
      await pool.end();
      throw err instanceof DvrError ? err : new DvrError('DVR_ERR_CONFIG',
        `DVR_DATABASE_URL (${redact(o.url)}): ${err instanceof Error ? err.message : String(err)}`);
    }
    // Heartbeats are figures: written without waiting for the disk (synchronous_commit off, on their
    // own connections). A crash of PostgreSQL may lose the last fraction of a second of them, which
    // the next heartbeats write again; assignments and everything else wait for the disk as usual.
    const figures = new pg.Pool({ ...common, max: 4, application_name: 'dvr-controller heartbeats',
      options: '-c synchronous_commit=off' });
    figures.on('error', (err) => o.log.warn({ err: err.message }, 'a PostgreSQL connection failed'));
    const s = new PostgresStore(pool, o, figures);
    await s.listen();
    return s;
  }

  /** LISTEN on its own connection; when it breaks, every cache is made stale and it connects again. */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const timeout = this.o.timeoutMs ?? 5000;
    const client = new pg.Client({ connectionString: this.o.url, types: TYPES, connectionTimeoutMillis: timeout, query_timeout: timeout,
      keepAlive: true, keepAliveInitialDelayMillis: 1000 });
    const again = (err?: Error): void => {
      if (this.listener !== client || this.closed) return;
      this.listener = undefined;
      this.bump('streams');
      this.bump('launch_configs');
      if (err) this.o.log.warn({ err: err.message }, 'PostgreSQL notifications lost: listening again');
      clearInterval(ping);
      client.end().catch(() => undefined);
      this.relisten = setTimeout(() => { void this.listen().catch(() => again()); }, 1000);
      this.relisten.unref();
    };
    // A connection cut without a word (the network, not the server) is found by asking now and then.
    const ping = setInterval(() => {
      client.query('SELECT 1').catch((err: unknown) => again(err instanceof Error ? err : new Error(String(err))));
    }, 5000);
    ping.unref();
    this.listener = client;
    client.on('error', again);
    client.on('end', () => again());
    client.on('notification', (m) => {
      if (m.payload === 'streams' || m.payload === 'launch_configs') this.bump(m.payload);
    });
    try {
      await client.connect();
      await client.query('LISTEN dvr_changes');
    } catch (err) {
      again(err instanceof Error ? err : new Error(String(err)));
    }
    // What changed while nobody listened.
    this.bump('streams');
    this.bump('launch_configs');
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    // A deadlock or a serialization failure (two controllers' transactions crossing) is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(fn);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw err;
      }
    }
  }

  private async once<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const where = redact(this.o.url);
    const raw = await this.pool.connect().catch((err: unknown) => { throw storeError(err, where); });
    // The pool listens for its idle clients' errors only: one that breaks while checked out must not crash the process.
    const onError = (): void => undefined;
    raw.on('error', onError);
    const client = guarded(raw, where);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgQueries(client, (table) => this.bump(table)));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (e) {
        broken = e instanceof Error ? e : new Error(String(e));
      }
      throw err;
    } finally {
      raw.off('error', onError);
      raw.release(broken);
    }
  }

  /** pg_dump's custom format (pg_restore reads it); the password goes in the environment, not on the command line. */
  async backup(file: string): Promise<void> {
    await promisify(execFile)('pg_dump', ['--format=custom', `--file=${file}`, '--no-owner', `--dbname=${redact(this.o.url, '')}`],
      { env: { ...process.env, ...passwordEnv(this.o.url) }, timeout: 600_000 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.relisten);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.figuresPool.end();
    await this.pool.end();
  }
}

/** Applies what the database lacks, one version per transaction, under a lock (controllers that start together take turns). */
async function migrate(pool: pg.Pool, where: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const [row] = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows;
    const current = row?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new DvrError('DVR_ERR_CONFIG', `${where}: its schema is version ${current}, newer than this controller knows `
        + `(${SCHEMA_VERSION}); run the release that wrote it, or restore a backup taken before the upgrade`);
    }
    for (let v = current === 0 ? POSTGRES_BASELINE_VERSION : current + 1; v <= SCHEMA_VERSION; v++) {
      await client.query('BEGIN');
      await client.query(postgresMigration(v));
      await client.query('DELETE FROM schema_version');
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [v]);
      await client.query('COMMIT');
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** The URL without its password (for messages), or with another in its place. */
export function redact(url: string, mask = '***'): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = mask;
    if (u.searchParams.has('password')) u.searchParams.set('password', mask);
    return u.toString().replace(/:@/, '@');
  } catch {
    return '(not a URL)';
  }
}

/** The URL's password as libpq reads it from the environment. */
export function passwordEnv(url: string): NodeJS.ProcessEnv {
  try {
    const p = new URL(url).password;
    return p ? { PGPASSWORD: decodeURIComponent(p) } : {};
  } catch {
    return {};
  }
}
