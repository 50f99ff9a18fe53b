// The wire protocol between agents and the controller. Leaf module: types only.
import type { TranscodeJob } from './job.js';

export interface SystemFigures {
  cpuLoadPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  networkRxBytesPerSec: number;
  networkTxBytesPerSec: number;
  storageFreeBytes: number | undefined;
  storageTotalBytes: number | undefined;
}

export interface StreamFigures {
  app: string;
  stream: string;
  /** Media bit rate of the segments written, bits/s. */
  inputBitrateBps: number;
  segmentsWritten: number;
  lateSegments: number;
  /** Media seconds produced per wall-clock second over the last minute (1.0 = real time). */
  encoderSpeed: number;
  restarts: number;
  ended: boolean;
  /** Bytes of its media on the storage now (every rendition). */
  storedBytes?: number;
  /** The last segment's latency: from the encoder's rename to the playlist written, ms. */
  segmentLatencyMs?: number;
  /** Seconds since its source's last segment arrived (its health: about one segment's length while live). */
  lastSegmentAgeSeconds?: number;
  /** Segments wait in its spool, not on the storage yet (the storage was down): its live view is ahead of the storage. */
  spooling?: boolean;
  /**
   * A stream the transcoder runs from its own config (the appliance's demo), which no controller
   * assigned: its settings, so that the API lists it as a stream like the others.
   */
  local?: LocalStreamSettings;
}

/** How a transcoder runs a stream of its own config: the job's encoding and DVR settings. */
export type LocalStreamSettings = Pick<TranscodeJob, 'format' | 'mode' | 'ladder' | 'segmentSeconds' | 'dvr'>;

export type Role = 'transcoder' | 'edge' | 'origin' | 'relay';

export interface Heartbeat {
  nodeId: string;
  role: Role;
  sentAt: string;
  storage: { available: boolean; reason: string | undefined };
  system: SystemFigures;
  streams: StreamFigures[];
  /** Serving nodes: viewers (edge, relay) or publishers (origin) connected now, read from nginx. */
  connections?: number;
  /** Serving nodes: whether the node's nginx answers its status page (a node whose nginx is down gets no viewers). */
  nginx?: 'up' | 'down';
  /** Transcoders: the port of its live view (edges read live media there when the storage stalls). */
  liveView?: { port: number };
  /** Transcoders: streams the controller assigned that could not start, and why. */
  failedJobs?: Array<{ stream: string; error: string }>;
  /** Transcoders: ended events whose media it deleted when their retention ran out, as the controller asked. */
  deletedRecordings?: RecordingRef[];
  /** Transcoders: ended events kept as versions (<stream>.<N>) found on the storage, with what each takes. */
  versions?: ArchivedVersion[];
  /** Transcoders: streams whose media it removed as the controller asked (a stream deleted with its media). */
  purgedStreams?: PurgeResult[];
}

export interface StreamRef { app: string; stream: string }
/**
 * One ended event of a stream: the stream, and when that event ended (ms), so a report never touches
 * a later event; with `version`, the event kept as <stream>.<version> (archive strategy 'version').
 */
export interface RecordingRef extends StreamRef { endedAt: number; version?: number }

/** An ended event kept as <stream>.<version>, as a transcoder finds it on the storage: when it ended, what it takes. */
export interface ArchivedVersion extends StreamRef { version: number; endedAt: number; bytes: number }

/** What removing a stream's media removed: its directory and its versions' (as <app>/<dir>), and their bytes. */
export interface PurgeResult extends StreamRef { removed: string[]; bytes: number }

/** A running stream's live view: `source` is its transcoder's <address>:<port> (agent/transcoder/live-view-server.ts). */
export interface LiveSourceRef extends StreamRef {
  source: string;
  /** Its transcoder still lists spooled segments on the storage: the storage's playlists are behind its live view. */
  catchingUp?: boolean;
  /** A low-latency stream: its live playlists come from the live view (parts, blocking reloads). */
  lowLatency?: boolean;
}

/** What the controller answers: the jobs this node should run (absent: keep the current ones). */
export interface HeartbeatReply {
  /** Transcoders: the streams to run (each validated by the agent with common/job.ts's schema). */
  jobs?: TranscodeJob[];
  /**
   * Edges and relays: the streams that need a token and the events that ended, for nginx's stream
   * maps; edges also where each running stream's live view is (its transcoder's).
   */
  streamMaps?: { signed: StreamRef[]; ended: StreamRef[]; live?: LiveSourceRef[] };
  /** Transcoders: ended events whose retention ran out: delete their media from the shared storage. */
  deleteRecordings?: RecordingRef[];
  /** Transcoders: streams deleted with their media: remove it (the stream's directory and its versions). */
  purgeStreams?: StreamRef[];
  /** Edges: the edges players may be steered to (content steering), least loaded first. */
  steering?: { edges: SteeringEdge[] };
}

/**
 * An edge in service whose nginx answers, as content steering names it: its node id (the pathway's
 * id), the base URL players reach it at (http://<host>:<port>) and its viewers.
 */
export interface SteeringEdge { id: string; url: string; connections: number }
