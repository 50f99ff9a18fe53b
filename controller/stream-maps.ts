// What edges and relays must know of the streams (nginx's stream maps): which need a token, which
// events ended, and (edges) which transcoder serves each live stream's live view. Pure, and a cache
// of it that follows the store's streams.
import type { HeartbeatReply, LiveSourceRef, StreamRef } from '../common/protocol.js';
import { urlHost } from '../common/address.js';
import { LIVE_STATES } from './node-states.js';
import { localStreamsOf } from './playback.js';
import { SharedRead } from './shared-read.js';
import type { NodeRow, StateStore, StreamRow } from './store.js';

export type StreamMaps = NonNullable<HeartbeatReply['streamMaps']>;

/** The maps of a list of streams. Pure. */
export function streamMapsOf(streams: readonly StreamRow[]): StreamMaps {
  const ref = (s: StreamRow): StreamRef => ({ app: s.app, stream: s.stream });
  return { signed: streams.filter((s) => s.settings.signedPlayback).map(ref), ended: streams.filter((s) => s.status === 'ended').map(ref) };
}

/**
 * Where each running stream's live view is: its transcoder's address and the live-view port its
 * heartbeat gave, for streams whose transcoder is in service and serves one. Pure.
 */
export function liveSourcesOf(streams: readonly StreamRow[], nodes: readonly NodeRow[]): LiveSourceRef[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return streams.flatMap((s) => {
    const n = s.transcoder === undefined || s.status === 'ended' || s.status === 'idle' ? undefined : byId.get(s.transcoder);
    const port = n?.metrics?.liveViewPort;
    if (!n || !LIVE_STATES.includes(n.state) || port === undefined) return [];
    const spooling = n.metrics?.streams?.some((f) => f.app === s.app && f.stream === s.stream && f.spooling === true) === true;
    return [{ app: s.app, stream: s.stream, source: `${urlHost(n.address)}:${port}`, ...(spooling ? { catchingUp: true } : {}),
      ...(s.settings.lowLatency === true ? { lowLatency: true } : {}) }];
  });
}

/** How long the edges' live sources are kept before they are read again (nodes change without a version). */
const LIVE_TTL_MS = 1000;

/** The maps, made again only when the store's streams changed (every edge asks with each heartbeat). */
export class StreamMapsCache {
  /** The streams' rows, read once per change for both kinds of maps. */
  private readonly rows = new SharedRead<StreamRow[]>();
  private readonly maps = new SharedRead<StreamMaps>();
  private readonly live = new SharedRead<StreamMaps>(LIVE_TTL_MS);

  constructor(private readonly store: Pick<StateStore, 'streams' | 'streamsVersion' | 'nodes'>, private readonly now = Date.now) {}

  /** The maps; one read of the store for all the heartbeats that wait on it. */
  get(): Promise<StreamMaps> {
    return this.maps.get(this.store.streamsVersion, 0, async () => streamMapsOf(await this.streams()));
  }

  /** An edge's maps: with the live sources. */
  forEdges(): Promise<StreamMaps> {
    return this.live.get(this.store.streamsVersion, this.now(), async () => {
      const streams = await this.streams();
      const nodes = await this.store.nodes({ role: 'transcoder' });
      // A transcoder's own streams (the appliance's demo) have a live view too.
      const known = new Set(streams.map((s) => `${s.app}/${s.stream}`));
      const local = localStreamsOf(nodes, (app, stream) => known.has(`${app}/${stream}`));
      return { ...await this.get(), live: liveSourcesOf([...streams, ...local], nodes) };
    });
  }

  private streams(): Promise<StreamRow[]> {
    return this.rows.get(this.store.streamsVersion, 0, () => this.store.streams());
  }
}
