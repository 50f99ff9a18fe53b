// Playback: where a stream plays (a URL on the least-loaded edge, signed when the stream asks for it)
// and the streams there are to play, those of the API and those a transcoder runs from its own config
// (the appliance's demo: local streams, known by their heartbeats). Reads the store; keeps nothing.
import { urlHost } from '../common/address.js';
import { DvrError } from '../common/errors.js';
import { signedPlaybackPath } from '../nginx/signing.js';
import { leastLoaded } from './allocation.js';
import type { SteeringEdge } from '../common/protocol.js';
import type { NodeRow, StateStore, StreamRow } from './store.js';
import { newStream } from './streams.js';

export interface PlaybackOptions {
  /** The port edges serve HTTP on. */
  edgeHttpPort: number;
  signingSecret: string;
  playbackTtlSeconds: number;
  now: () => number;
}

/** A playback URL: where, on which edge, and until when it is valid (signed streams). */
export interface PlaybackUrl { url: string; edge: string; expires?: number }

/**
 * Streams a transcoder runs from its own config, as rows: the settings its heartbeat reports, the
 * defaults where those do not validate (an agent newer than this controller). Pure.
 */
export function localStreamsOf(nodes: readonly NodeRow[], known: (app: string, stream: string) => boolean): StreamRow[] {
  const rows = new Map<string, StreamRow>();
  for (const n of nodes) {
    if (n.role !== 'transcoder' || n.state === 'gone') continue;
    for (const f of n.metrics?.streams ?? []) {
      const k = `${f.app}/${f.stream}`;
      if (!f.local || rows.has(k) || known(f.app, f.stream)) continue;
      const { dvr, ...encoding } = f.local;
      let settings: StreamRow['settings'];
      try {
        settings = newStream({ app: f.app, stream: f.stream, ...encoding, ...dvr }, {}).settings;
      } catch {
        settings = newStream({ app: f.app, stream: f.stream }, {}).settings;
      }
      rows.set(k, { app: f.app, stream: f.stream, settings, streamKey: '', status: f.ended ? 'ended' : 'live', transcoder: n.id,
        endingSince: undefined, local: true });
    }
  }
  return [...rows.values()];
}

/**
 * The edges players may be steered to (content steering): in service, their nginx answering, the
 * least loaded (viewers per capacity) first, ties by id. Pure.
 */
export function steeringEdgesOf(nodes: readonly NodeRow[], edgeHttpPort: number): SteeringEdge[] {
  return nodes.filter((n) => n.role === 'edge' && n.state === 'inservice' && n.metrics?.nginx !== 'down')
    .map((n) => ({ n, load: (n.metrics?.connections ?? 0) / Math.max(1, n.capacity) }))
    .sort((a, b) => a.load - b.load || (a.n.id < b.n.id ? -1 : a.n.id > b.n.id ? 1 : 0))
    .map(({ n }) => ({ id: n.id, url: `http://${urlHost(n.address)}:${edgeHttpPort}`, connections: n.metrics?.connections ?? 0 }));
}

export class Playback {
  constructor(private readonly store: StateStore, private readonly o: PlaybackOptions) {}

  /** The local streams: listed beside the API's own, marked local, with the settings their config gives them. */
  async localStreams(): Promise<StreamRow[]> {
    const stored = new Set((await this.store.streams()).map((s) => `${s.app}/${s.stream}`));
    return localStreamsOf(await this.store.nodes({ role: 'transcoder' }), (app, stream) => stored.has(`${app}/${stream}`));
  }

  /** Every stream: the API's and the local ones. */
  async all(): Promise<StreamRow[]> {
    return [...await this.store.streams(), ...await this.localStreams()];
  }

  /** A stream to play: one of the API's, or a local one. */
  async find(app: string, stream: string): Promise<StreamRow> {
    const s = await this.store.stream(app, stream) ?? (await this.localStreams()).find((l) => l.app === app && l.stream === stream);
    if (!s) throw new DvrError('DVR_ERR_NOT_FOUND', `no stream ${app}/${stream}`);
    return s;
  }

  /** The edges players may be steered to, as each edge's heartbeat reply tells it. */
  async steeringEdges(): Promise<SteeringEdge[]> {
    return steeringEdgesOf(await this.store.nodes({ role: 'edge' }), this.o.edgeHttpPort);
  }

  /** A URL for one of a stream's files on the least-loaded edge, signed when the stream asks for it. */
  async edgeUrl(s: StreamRow, file: string): Promise<PlaybackUrl> {
    // An edge whose agent says its nginx does not answer gets no viewers.
    const edges = (await this.store.nodes({ role: 'edge' })).filter((e) => e.metrics?.nginx !== 'down');
    const viewers = new Map(edges.map((e) => [e.id, e.metrics?.connections ?? 0]));
    const edge = leastLoaded(edges, 'edge', viewers);
    if (!edge) throw new DvrError('DVR_ERR_NO_CAPACITY', 'no edge in service has room for another viewer; scale out the edge role');
    const base = `http://${urlHost(edge.node.address)}:${this.o.edgeHttpPort}`;
    const expires = Math.floor(this.o.now() / 1000) + this.o.playbackTtlSeconds;
    const p = s.settings.signedPlayback ? signedPlaybackPath(this.o.signingSecret, s.app, s.stream, file, expires)
      : `/${s.app}/${s.stream}/${file}`;
    return { url: base + p, edge: edge.node.id, ...(s.settings.signedPlayback ? { expires } : {}) };
  }

  /** A clip of the window as one MP4 (the edge cuts it from the segments, without re-encoding). */
  async clip(s: StreamRow, rawFrom: unknown, rawDuration: unknown): Promise<PlaybackUrl & { from: string; duration: number }> {
    const from = clipTime(rawFrom, 'from');
    const duration = Number(rawDuration);
    if (!Number.isInteger(duration) || duration < 1 || duration > 86_400) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `clip: ?duration='${String(rawDuration ?? '')}' must be whole seconds, 1 to 86400`);
    }
    return { ...await this.edgeUrl(s, `archive-${from}-${duration}.mp4`), from: new Date(from * 1000).toISOString(), duration };
  }
}

/** A clip's start: Unix seconds or an ISO 8601 time, as the edge's time-shift URLs take them. */
function clipTime(raw: unknown, name: string): number {
  const v = typeof raw === 'string' ? raw : '';
  // An ISO time names its zone (Z or an offset): the controller's own zone is no one's business.
  const iso = /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)$/;
  const t = /^\d{9,11}$/.test(v) ? Number(v) : iso.test(v) ? Math.floor(Date.parse(v) / 1000) : NaN;
  if (!Number.isFinite(t)) {
    throw new DvrError('DVR_ERR_BAD_REQUEST', `clip: ?${name}='${v}' is not Unix seconds or an ISO 8601 time with its zone`);
  }
  return t;
}
