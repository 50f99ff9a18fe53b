// The typed model nginx configs are rendered from: the same for the one-machine appliance and
// for every node of a cluster. Built by code (controller, CLI) from validated input.

export interface Listen { host: string; port: number }
export interface StreamKey { app: string; stream: string }

export interface Signing {
  /**
   * Shared with the controller, which mints playback URLs: the secret itself ([A-Za-z0-9_-]{16,128}),
   * or a file (0640, see renderSecretInclude) the config includes, so the config holds no secret.
   */
  secret: string | { file: string };
  /** Streams whose playback needs a token; others stay open. Ignored when the model has a streamsInclude. */
  streams: StreamKey[];
}

interface Common {
  /** nginx's runtime directory: pid, logs, temp paths, cache. */
  prefix: string;
  workerProcesses: number | 'auto';
  workerConnections: number;
  /** Addresses allowed to read /nginx_status (stub_status). */
  statusAllow: string[];
  /**
   * The account the workers run as when the master runs as root (nginx's default is nobody): one
   * that can read the media, or (a segmenting origin) the agent's, which takes the fragments.
   */
  workerUser?: string;
}

export interface EdgeModel extends Common {
  role: 'edge';
  listen: Listen[];
  /** Where the packager writes (an NFS mount on cluster edges): <root>/<app>/<stream>/... */
  storageRoot: string;
  /** The storage root is a network mount (NFS): reads go to a thread pool (aio threads). */
  networkStorage: boolean;
  /**
   * The player page under /player/: its directory (web/player) and the directory hls.js's build is
   * in (the npm package's dist/), served as /player/vendor/hls.min.js.
   */
  player?: { dir: string; hlsJsDir: string };
  playlistMaxAgeSeconds: number;
  /** Playlists of ended events (and versioned recordings) change no more. */
  endedPlaylistMaxAgeSeconds: number;
  segmentMaxAgeSeconds: number;
  /** Ignored when the model has a streamsInclude. */
  endedStreams: StreamKey[];
  signing?: Signing;
  /**
   * A file with the stream maps (which streams need a token, which events ended; see
   * renderStreamMaps) that the node's agent rewrites as the controller's stream list changes.
   * With it, every stream the file marks is refused without a token, secret or not.
   */
  streamsInclude?: string;
  /**
   * The edge agent's time-shift service (ranges of the DVR as playlists, MPDs and MP4 clips) on
   * loopback: nginx passes it the time-shift URLs and caches its answers under the prefix.
   */
  timeshift?: { port: number; cacheMaxSizeMb: number };
  /**
   * Live through a stalled storage (needs streamsInclude, whose maps name each stream's live view):
   * while `flagFile` exists (the agent's probe of the mount fails) and when a read of the mount
   * fails, live playlists and segments come from the stream's transcoder (cached here), archive
   * reads and time-shift URLs get a fast 503 with Retry-After, and nothing waits on the mount.
   */
  liveFallback?: { flagFile: string; cacheMaxSizeMb: number };
}

export interface RelayModel extends Common {
  role: 'relay';
  listen: Listen[];
  /** Storage origins (edges serving the storage root) this relay fans out from. */
  upstreams: Listen[];
  cacheMaxSizeMb: number;
  /** Cached media unused this long is evicted. */
  cacheInactiveMinutes: number;
  playlistMaxAgeSeconds: number;
  segmentMaxAgeSeconds: number;
  signing?: Signing;
  /** As for edges: the stream maps, kept by the node's agent. */
  streamsInclude?: string;
}

/** What the stream maps say: the streams that need a token and the events that ended. */
export interface StreamMaps {
  signed: StreamKey[];
  ended: StreamKey[];
  /**
   * Edges of a cluster with content steering: this edge's pathway (its node id), which the master
   * playlists and MPDs it serves name. Absent: they are served as written.
   */
  pathway?: string;
  /**
   * Edges with content steering: another edge in service (its node id and <host>:<port>), which the
   * master playlists' redundant variants name for players without steering.
   */
  backup?: { id: string; host: string };
  /**
   * Edges with a live fallback: where each running stream's live view is (<address>:<port> of its
   * transcoder) and the key that opens it.
   */
  live?: { sources: Array<StreamKey & { source: string; lowLatency?: boolean }>; key: string };
}

export interface OriginModel extends Common {
  role: 'origin';
  rtmpListen: Listen;
  /** HTTP listener for /nginx_status. */
  statusListen: Listen;
  /** RTMP applications publishers may use. */
  apps: string[];
  /** Base URL of the controller; publish callbacks go to <url>/api/v1/hooks/... */
  controllerUrl: string;
  /**
   * The cluster's other controllers: the callbacks then go through this nginx's status listener to
   * all of them, the next one asked when one does not answer.
   */
  controllerFallbackUrls?: string[];
  /** Authenticates the callbacks to the controller. */
  hookToken: string;
  /** The controller's name for this node: the callbacks say which origin the publisher reached. */
  nodeId?: string;
  /** Networks allowed to publish (CIDR or 'all'). */
  publishAllow: string[];
  /** Networks allowed to pull (the transcoders'). */
  playAllow: string[];
  rtmpModulePath: string;
  /** The node's transcoder agent packages copy-mode streams from these fragments (no puller). */
  segmenter?: OriginSegmenter;
}

/**
 * nginx-rtmp's own HLS writer, used as the copy-mode segmenter of a node that is origin and
 * transcoder at once: fragments go to <dir>/<app>/<stream>/<n>.ts, each listed in index.m3u8 once
 * complete; the agent moves them into its packager.
 */
export interface OriginSegmenter {
  /** Local disk on the agent's spool file system, writable by the worker user. */
  dir: string;
  fragmentSeconds: number;
  /** nginx-rtmp's playlist length: fragments nobody took are deleted a few of these later. */
  playlistSeconds: number;
}

export type NginxModel = EdgeModel | RelayModel | OriginModel;

/** Where Debian's libnginx-mod-rtmp puts the module origins load. */
export const RTMP_MODULE_PATH = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export const EDGE_DEFAULTS = {
  workerProcesses: 'auto' as const, workerConnections: 4096, networkStorage: false, statusAllow: ['127.0.0.1', '::1'],
  playlistMaxAgeSeconds: 1, endedPlaylistMaxAgeSeconds: 3600, segmentMaxAgeSeconds: 31_536_000, endedStreams: [],
};
