// The agent's configuration file: validated once by a schema, defaults here, then frozen.
import { DvrError } from '../common/errors.js';
import { readJsonFile } from '../common/json-file.js';
import { NAME_SCHEMA } from '../common/names.js';
import { compile, validateOrThrow } from '../common/schema.js';
import type { Role } from '../common/protocol.js';
import { parseTranscodeJob, type TranscodeJob } from '../common/job.js';

export interface AgentConfig {
  nodeId: string;
  /** transcoder: runs encoders and the packager. edge, relay, origin: reports nginx's connections. */
  role: Role;
  /** Serving roles: the base URL of this node's nginx status locations (/nginx_status, /rtmp_stat). */
  nginxStatusUrl?: string;
  /**
   * Edges and relays: the stream maps include of this node's nginx (which streams need a token,
   * which events ended), rewritten from the controller's replies; `config` is nginx's main config.
   */
  nginx?: { config: string; streamsInclude: string; binary: string };
  /**
   * Edges (an edge's agent, a transcoder's when the host is an edge too): the time-shift service nginx
   * passes time-shift URLs to (ranges of the DVR as playlists, MPDs and MP4 clips), on loopback, reading storageRoot.
   */
  timeshift?: { host: string; port: number; maxClipSeconds: number; maxRangeSeconds: number; maxClips: number };
  /** The shared storage (NFS mount on a cluster): <root>/<app>/<stream>/... */
  storageRoot: string;
  /** Local disk the encoders write to; segments wait here while the storage is down. */
  spoolRoot: string;
  /** pid files and encoder logs. */
  stateDir: string;
  /** The controller; `fallbackUrls`: the cluster's other controllers, tried in turn when one does not answer. */
  controller?: { url: string; agentToken?: string; fallbackUrls?: string[] };
  /**
   * Transcoders: the live view edges read each stream's newest playlists and segments from when the
   * storage stalls (agent/transcoder/live-view-server.ts), on an address the edges reach. Its key
   * derives from the controller's agent token.
   */
  liveView?: { host: string; port: number };
  /**
   * Edges: the storage mount is watched (a read probe every probeIntervalMs; slower than
   * probeTimeoutMs counts as stalled) and while it fails `flagFile` exists: nginx then serves live
   * playlists and segments from the streams' transcoders and nothing from the mount.
   */
  liveFallback?: { flagFile: string; probeIntervalMs: number; probeTimeoutMs: number };
  heartbeatSeconds: number;
  metrics?: { host: string; port: number; token?: string };
  storage: {
    /** The root is a mount: a missing marker file means it is not mounted. Otherwise the agent creates the marker. */
    mount: boolean;
    probeIntervalMs: number;
    probeTimeoutMs: number;
    minFreeBytes: number;
    /** Streams whose packaging work (writes to the storage) may run at once. */
    concurrentStreamTasks: number;
    /** A stream moved here waits this long after claiming it before its first write (the old writer stops first). */
    takeoverDelayMs: number;
  };
  encoder: { initialDelayMs: number; maxDelayMs: number; firstSegmentMs: number; stopTimeoutMs: number; outliveAgent: boolean };
  /**
   * This node is also an origin whose nginx-rtmp segments what it receives (nginx OriginSegmenter):
   * a copy-mode TS job pulling from one of `sources` with this fragment length takes those fragments
   * from `dir` instead of running an ffmpeg puller.
   */
  originSegments?: { dir: string; fragmentSeconds: number; sources: string[] };
  /** Jobs to run without a controller (single-machine mode). */
  jobs: TranscodeJob[];
}

const schema = {
  $id: 'agent-config',
  type: 'object',
  additionalProperties: false,
  required: ['nodeId', 'storageRoot'],
  properties: {
    nodeId: NAME_SCHEMA,
    role: { enum: ['transcoder', 'edge', 'relay', 'origin'], default: 'transcoder' },
    nginxStatusUrl: { type: 'string', pattern: '^https?://[A-Za-z0-9.:\\[\\]-]+(/[A-Za-z0-9._/-]*)?$' },
    nginx: { type: 'object', additionalProperties: false, required: ['config', 'streamsInclude'], properties: {
      config: { type: 'string', pattern: '^/' }, streamsInclude: { type: 'string', pattern: '^/' },
      binary: { type: 'string', pattern: '^[A-Za-z0-9_./-]+$', default: 'nginx' } } },
    timeshift: { type: 'object', additionalProperties: false, required: ['port'], properties: {
      host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535 },
      maxClipSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 3600 },
      maxRangeSeconds: { type: 'integer', minimum: 60, maximum: 31 * 86_400, default: 86_400 },
      maxClips: { type: 'integer', minimum: 1, maximum: 64, default: 2 } } },
    storageRoot: { type: 'string', pattern: '^/' },
    spoolRoot: { type: 'string', pattern: '^/' },
    stateDir: { type: 'string', pattern: '^/' },
    controller: { type: 'object', additionalProperties: false, required: ['url'], properties: {
      url: { type: 'string', pattern: '^https?://' }, agentToken: { type: 'string', minLength: 16 },
      fallbackUrls: { type: 'array', maxItems: 8, items: { type: 'string', pattern: '^https?://' } } } },
    liveView: { type: 'object', additionalProperties: false, required: ['host', 'port'], properties: {
      host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } } },
    liveFallback: { type: 'object', additionalProperties: false, required: ['flagFile'], properties: {
      flagFile: { type: 'string', pattern: '^/' },
      probeIntervalMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 100 },
      probeTimeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 400 } } },
    heartbeatSeconds: { type: 'number', minimum: 1, maximum: 60, default: 2 },
    metrics: { type: 'object', additionalProperties: false, required: ['port'], properties: {
      host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535 },
      token: { type: 'string', minLength: 16 } } },
    storage: { type: 'object', additionalProperties: false, default: {}, properties: {
      mount: { type: 'boolean', default: false },
      probeIntervalMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 1000 },
      probeTimeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 3000 },
      minFreeBytes: { type: 'number', minimum: 0, default: 512 * 1024 * 1024 },
      concurrentStreamTasks: { type: 'integer', minimum: 1, maximum: 256, default: 16 },
      takeoverDelayMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 2000 } } },
    encoder: { type: 'object', additionalProperties: false, default: {}, properties: {
      initialDelayMs: { type: 'integer', minimum: 0, default: 500 },
      maxDelayMs: { type: 'integer', minimum: 0, default: 10_000 },
      // Connecting, waiting for the source's next keyframe, and a whole segment: 10 s keyframe
      // intervals (libx264's and OBS's default) make that up to 20 s.
      firstSegmentMs: { type: 'integer', minimum: 1000, default: 25_000 },
      stopTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
      // false: encoders stop when the agent dies (nothing restarts it to adopt them).
      outliveAgent: { type: 'boolean', default: true } } },
    originSegments: { type: 'object', additionalProperties: false, required: ['dir', 'sources'], properties: {
      dir: { type: 'string', pattern: '^/' },
      fragmentSeconds: { type: 'number', minimum: 0.5, maximum: 30, default: 2 },
      // The origin's base URLs as jobs name them: rtmp://host:port
      sources: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^rtmp://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^rtmp://\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?$' } } } },
    jobs: { type: 'array', default: [], items: { type: 'object' } },
  },
} as const;

const validate = compile<AgentConfig>(schema);

export function parseAgentConfig(input: unknown, where = 'agent config'): Readonly<AgentConfig> {
  const base = validateOrThrow(validate, input, where);
  const jobs = base.jobs.map((j, i) => parseTranscodeJob(j, `${where} $.jobs[${i}]`));
  if (base.timeshift && base.role !== 'edge' && base.role !== 'transcoder') {
    const article = base.role === 'origin' ? 'an' : 'a';
    throw new DvrError('DVR_ERR_CONFIG',
      `invalid ${where}: $.timeshift: an edge's agent serves time-shift URLs, this node is ${article} ${base.role}`);
  }
  if (base.nginx && base.role !== 'edge' && base.role !== 'relay') {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.nginx: only edges and relays keep stream maps, `
      + `this node is ${base.role === 'origin' ? 'an' : 'a'} ${base.role}`);
  }
  if (base.liveView && (base.role !== 'transcoder' || base.controller?.agentToken === undefined)) {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.liveView: a transcoder of a cluster serves the live view `
      + '(it needs $.controller.agentToken, which its key derives from)');
  }
  if (base.liveFallback && (base.role !== 'edge' || base.controller?.agentToken === undefined || !base.nginx)) {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.liveFallback: an edge of a cluster falls back to the live view `
      + '(it needs $.nginx and $.controller.agentToken)');
  }
  if (base.role !== 'transcoder') {
    if (jobs.length) throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.jobs: only a transcoder runs jobs, `
      + `this node is ${base.role === 'edge' ? 'an' : 'a'} ${base.role}`);
    if (!base.nginxStatusUrl) {
      throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.nginxStatusUrl: `
        + `required for ${base.role === 'edge' ? 'an' : 'a'} ${base.role} (its connections are read there)`);
    }
  }
  if (base.originSegments && base.storage.mount && (base.spoolRoot === undefined || base.spoolRoot === base.storageRoot)) {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.originSegments: needs a spoolRoot on local disk `
      + '(the storage root is a network mount); set $.spoolRoot to a local directory on the same file system as $.originSegments.dir');
  }
  const keys = new Set<string>();
  for (const j of jobs) {
    const k = `${j.app}/${j.stream}`;
    if (keys.has(k)) throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.jobs: stream ${k} appears twice`);
    keys.add(k);
  }
  return Object.freeze({
    ...base, jobs, spoolRoot: base.spoolRoot ?? base.storageRoot,
    stateDir: base.stateDir ?? `${base.spoolRoot ?? base.storageRoot}/.state`,
  }) as Readonly<AgentConfig>;
}

export async function loadAgentConfig(file: string): Promise<Readonly<AgentConfig>> {
  return parseAgentConfig(await readJsonFile(file), file);
}

