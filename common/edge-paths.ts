// The URLs every edge serves beside the streams' own files, written once: the clock, signed
// playback's prefix, and the time-shift service's names (ranges, clips, thumbnails). The edge's nginx
// locations, the time-shift service's parser and the manifests that name them are made from these;
// the player page's patterns are checked against them by a test. Leaf module.
import { NAME_SOURCE, STREAM_DIR_SOURCE } from './names.js';

/** The edge's clock (ISO 8601, no cache): the MPD's UTCTiming source, so DASH players sync offline. */
export const EDGE_TIME_PATH = '/_time';

/**
 * Content steering's manifests (hls.json, dash.json) under this path on every edge of a cluster:
 * the edge's agent answers them from the controller's view of the edges.
 */
export const STEERING_PATH = '/_steering/';

/** A stream's path: /<app>/<stream>, or an ended event's version /<app>/<stream>.<N>. */
export const STREAM_PATH_SOURCE = `/${NAME_SOURCE}/${STREAM_DIR_SOURCE}`;

/**
 * Signed playback: /s/<expires>/<token> before a stream's path (the token covers the stream's whole
 * path, so relative segment URLs keep working). The token is an MD5 in base64url: 22 characters.
 */
export const SIGNED_PREFIX_SOURCE = '/s/\\d{1,12}/[A-Za-z0-9_-]{22}';

export function signedPrefix(expires: number, token: string): string {
  return `/s/${expires}/${token}`;
}

/** A time-shift range: index-<from>-<duration|now>.m3u8 or .mpd (<from> Unix seconds). */
export const RANGE_NAME_SOURCE = 'index-\\d{1,12}-(\\d{1,9}|now)\\.(m3u8|mpd)';
/** A clip: archive-<from>-<duration>.mp4. */
export const CLIP_NAME_SOURCE = 'archive-\\d{1,12}-\\d{1,9}\\.mp4';
/** A thumbnail: thumb-<Unix second>.jpg. */
export const THUMB_NAME_SOURCE = 'thumb-[1-9]\\d{0,11}\\.jpg';
/** The thumbnail track: the image playlist that names the thumbnails. */
export const THUMB_TRACK = 'thumbs.m3u8';

export function thumbName(second: number): string {
  return `thumb-${second}.jpg`;
}

/**
 * How long the edge agent's service (time-shift URLs, the low-latency fan-out) keeps a connection
 * that is idle; nginx's upstream to it closes its own a second sooner, so none is reused as it closes.
 */
export const AGENT_KEEPALIVE_SECONDS = 5;
