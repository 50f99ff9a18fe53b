// The controller's state: launch configs, nodes, streams and their assignments, behind one
// interface with two engines (store/sqlite.ts: one file, embedded; store/postgres.ts: a cluster's
// controllers share it). Every change is one transaction, so a kill -9 at any moment leaves either
// the old row or the new one.
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


/** What the leader lease says: who leads, in which term (a new term at each change of leader). */
export interface Lease { holder: string; term: number; expiresAt: number }

/** A controller as it last said it was alive (every controller does, with each lease round). */
export interface ControllerRow { id: string; url: string; startedAt: number; lastSeen: number }

/**
 * The queries, as each engine answers them (an engine's answers are promises: see StoreOps). Every
 * service reads and writes the state through them; what a service keeps beside is a cache any
 * controller can rebuild from the store.
 */
export interface StoreQueries {
  putLaunchConfig(name: string, body: unknown): boolean;
  /** Stores or replaces a launch config; true when it was new. */
  replaceLaunchConfig(name: string, body: unknown): boolean;
  launchConfigs(): Array<{ name: string; body: unknown }>;
  deleteLaunchConfig(name: string): boolean;
  upsertNode(n: NodeRow): void;
  /**
   * Heartbeats' rows in one statement, each written only if its node is still in state `was`
   * (undefined: not known yet). Returns the ids written; one missing was changed meanwhile by another
   * controller or an admin (read it again and decide again).
   */
  writeHeartbeats(rows: ReadonlyArray<{ row: NodeRow; was: NodeState | undefined }>): string[];
  node(id: string): NodeRow | undefined;
  nodes(filter?: { role?: string; state?: string }): NodeRow[];
  setNodeState(id: string, state: NodeState): void;
  addScaleEvent(e: ScaleEvent): void;
  scaleEvents(limit?: number): ScaleEvent[];
  lastScaleAt(role: string): number;
  insertStream(s: StreamRow): boolean;
  updateStreamSettings(app: string, name: string, settings: StreamOptions): boolean;
  stream(app: string, name: string): StreamRow | undefined;
  streams(): StreamRow[];
  streamsOn(transcoder: string): StreamRow[];
  /** The streams that hold a transcoder slot (live, or ending within their grace), by transcoder. */
  runningStreams(): StreamRow[];
  /** Each node of a role with the streams assigned to it: the light input allocation needs. */
  loadOf(role: string): Array<Pick<NodeRow, 'id' | 'role' | 'state' | 'address' | 'capacity'> & { used: number }>;
  /** Streams assigned per transcoder, for allocation. */
  assignedCounts(): Map<string, number>;
  /** Sets a stream's status and transcoder; a different transcoder is a new assignment (its epoch goes up). */
  setStreamStatus(app: string, name: string, status: StreamRow['status'], transcoder: string | undefined, endingSince?: number): void;
  setStreamOrigin(app: string, name: string, origin: string | undefined): void;
  /**
   * The publisher left: a live stream is ending from `at`, unless it is no longer live or (with
   * `origin`) went live again through another origin meanwhile. True when it was ended.
   */
  publishEnded(app: string, name: string, at: number, origin: string | undefined): boolean;
  /** The sweep: a node silent since `lastHeartbeat` is given `state`, unless a heartbeat came meanwhile. */
  failSilentNode(id: string, state: NodeState, lastHeartbeat: number): boolean;
  /** Ends every stream whose publisher left before `before` (ms): its slot is freed. Returns them. */
  endStreams(before: number): StreamRow[];
  /** What a stream's media takes on the storage, as its transcoder reports it. */
  setStoredBytes(app: string, name: string, bytes: number): void;
  /** The media of the event that ended at `endedAt` is gone from the storage (its retention ran out); a later event is untouched. */
  markMediaDeleted(app: string, name: string, endedAt: number, at: number): boolean;
  /** The first node of a role in service whose last heartbeat said its storage is available, by id (one query). */
  firstWithStorage(role: string): string | undefined;
  /** Ended streams whose media is still on the storage. */
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
  /**
   * In a transaction: waits for every other allocation (a publish, a move off a dead node) to
   * finish, so two controllers never give the same slot twice. Held until the transaction ends.
   */
  lockAllocation(): void;
  /**
   * Takes or renews the leader lease for `holder` for `ttlMs` (the database's clock): the lease as
   * it stands after the attempt (another holder's while theirs runs). A new holder starts a new term.
   */
  lead(holder: string, ttlMs: number): Lease;
  /**
   * In a transaction: true when `holder` still leads in `term`; the lease cannot change hands until
   * the transaction ends (what a leader does is fenced by its term).
   */
  holdsLease(holder: string, term: number): boolean;
  /** Gives the lease up (a controller that stops): another takes over at once. */
  resign(holder: string): void;
  /** A controller says it is alive (and where its API is). */
  seeController(c: ControllerRow): void;
  controllers(): ControllerRow[];
  /**
   * A secret shared by every controller of the cluster (the agents' token, the playback signing
   * key): the stored one, else `generated`, stored. The first controller to start chooses it.
   */
  sharedSecret(name: string, generated: string): string;
}

/** An engine's answer: a promise of what the query returns. */
type Answer<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

/** The queries as every engine answers them (promises: PostgreSQL's answers cross a network). */
export type StoreOps = { [K in keyof StoreQueries]: Answer<StoreQueries[K]> };

/** The queries' names, once (the SQLite engine's promises are made from this list). */
export const QUERY_NAMES = Object.keys({
  putLaunchConfig: 1, replaceLaunchConfig: 1, launchConfigs: 1, deleteLaunchConfig: 1, upsertNode: 1, writeHeartbeats: 1, node: 1,
  nodes: 1, setNodeState: 1, addScaleEvent: 1, scaleEvents: 1, lastScaleAt: 1, insertStream: 1, updateStreamSettings: 1, stream: 1,
  streams: 1, streamsOn: 1, runningStreams: 1, loadOf: 1, assignedCounts: 1, setStreamStatus: 1, setStreamOrigin: 1, publishEnded: 1,
  failSilentNode: 1, endStreams: 1, setStoredBytes: 1, markMediaDeleted: 1, firstWithStorage: 1, endedWithMedia: 1, deleteStream: 1,
  upsertVersion: 1, versionsWithMedia: 1, markVersionDeleted: 1, requestPurge: 1, purgesPending: 1, finishPurge: 1,
  lockAllocation: 1, lead: 1, holdsLease: 1, resign: 1, seeController: 1, controllers: 1, sharedSecret: 1,
} satisfies Record<keyof StoreQueries, 1>) as Array<keyof StoreQueries>;

/** The engine's name, as `dvr-controller` and the API's health report it. */
export type EngineName = 'sqlite' | 'postgres';

/** The controller's state: the queries, transactions over them, and what changed (for caches). */
export interface StateStore extends StoreOps {
  readonly engine: EngineName;
  /** Runs `fn` as one transaction: all its changes, or none. `tx` answers inside it. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /** Bumped by every change to the streams (by any controller), so views of them can be cached. */
  readonly streamsVersion: number;
  /** Bumped by every change to the launch configs (by any controller). */
  readonly launchConfigsVersion: number;
  /** Online copy of the whole state into `file` (SQLite: the database file; PostgreSQL: pg_dump's custom format). */
  backup(file: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
