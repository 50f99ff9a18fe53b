// What edges and relays must know of the streams (nginx's stream maps): which need a token, which
// events ended. Pure, and a cache of it that follows the store's streams.
import type { HeartbeatReply, StreamRef } from '../common/protocol.js';
import type { StateStore, StreamRow } from './store.js';

export type StreamMaps = NonNullable<HeartbeatReply['streamMaps']>;

/** The maps of a list of streams. Pure. */
export function streamMapsOf(streams: readonly StreamRow[]): StreamMaps {
  const ref = (s: StreamRow): StreamRef => ({ app: s.app, stream: s.stream });
  return { signed: streams.filter((s) => s.settings.signedPlayback).map(ref), ended: streams.filter((s) => s.status === 'ended').map(ref) };
}

/** The maps, made again only when the store's streams changed (every edge asks with each heartbeat). */
export class StreamMapsCache {
  private cached: { version: number; value: StreamMaps } | undefined;

  constructor(private readonly store: Pick<StateStore, 'streams' | 'streamsVersion'>) {}

  get(): StreamMaps {
    const version = this.store.streamsVersion;
    if (this.cached?.version !== version) this.cached = { version, value: streamMapsOf(this.store.streams()) };
    return this.cached.value;
  }
}
