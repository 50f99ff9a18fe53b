// HLS media playlists (full, delta and immutable chunks) rendered from the index.
// Pure: no I/O, no clock. The full playlist stitches complete chunks in with SSI includes
// so that adding a segment costs the same at a week of DVR as at an hour.
import { CHUNK_DIR, chunkName, segmentName, type SegmentExt } from '../layout.js';
import type { SegmentIndex } from '../index/segment-index.js';

/** Segments per immutable chunk file. */
export const CHUNK_SIZE = 1000;

export type PlaylistKind = 'event' | 'live' | 'vod';

export interface MediaPlaylistInput {
  index: SegmentIndex;
  /** Position of the first listed segment. */
  from: number;
  ext: SegmentExt;
  target: number;
  kind: PlaylistKind;
  ended: boolean;
  /** Seconds before the live edge that a delta update may skip; 0 = no delta updates. */
  canSkipUntil: number;
  /** Sequence numbers below this have their chunk file written and may be included. */
  chunkedBelow: number;
  /** URI of the init segment for a discontinuity number (fMP4), relative to the playlist. */
  initUri?: (disc: number) => string;
  /**
   * Low latency (seconds): the playlist says its parts' target and where a player holds back, and
   * that a reload may block (the edge sends blocking requests to the stream's transcoder).
   */
  lowLatency?: { partTarget: number; partHoldBack: number };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

function version(input: MediaPlaylistInput): number {
  if (input.canSkipUntil > 0) return 9;
  // EXT-X-GAP came with version 8: a client older than that would fetch the gap's URI.
  if (input.index.gapCount > 0) return 8;
  return input.ext === 'm4s' ? 6 : 3;
}

export function header(input: MediaPlaylistInput): string {
  const { index, from } = input;
  let h = `#EXTM3U\n#EXT-X-VERSION:${version(input)}\n#EXT-X-TARGETDURATION:${input.target}\n`;
  const ll = input.ended ? undefined : input.lowLatency;
  const control = [...(ll ? ['CAN-BLOCK-RELOAD=YES'] : []),
    ...(input.canSkipUntil > 0 ? [`CAN-SKIP-UNTIL=${input.canSkipUntil.toFixed(1)}`] : []),
    ...(ll ? [`PART-HOLD-BACK=${ll.partHoldBack.toFixed(3)}`] : [])];
  if (control.length > 0 && !input.ended) h += `#EXT-X-SERVER-CONTROL:${control.join(',')}\n`;
  if (ll) h += `#EXT-X-PART-INF:PART-TARGET=${ll.partTarget.toFixed(3)}\n`;
  if (input.kind === 'event') h += '#EXT-X-PLAYLIST-TYPE:EVENT\n';
  if (input.kind === 'vod') h += '#EXT-X-PLAYLIST-TYPE:VOD\n';
  const seq = index.length > 0 ? index.seqAt(from) : index.nextSequence;
  h += `#EXT-X-MEDIA-SEQUENCE:${seq}\n`;
  h += `#EXT-X-DISCONTINUITY-SEQUENCE:${index.length > from ? index.discAt(from) : 0}\n`;
  h += '#EXT-X-INDEPENDENT-SEGMENTS\n';
  return h;
}

/**
 * Lines of segments [start, end). `leading` is the position whose tags are written as for the
 * first segment a client sees (MAP and PROGRAM-DATE-TIME always present there).
 */
export function renderSegments(input: MediaPlaylistInput, start: number, end: number, leading: number): string {
  const { index, ext } = input;
  let out = '';
  for (let p = start; p < end; p++) {
    const disc = index.discAt(p);
    const seq = index.seqAt(p);
    const changed = p > 0 && disc !== index.discAt(p - 1);
    if (changed && p !== input.from) out += '#EXT-X-DISCONTINUITY\n';
    if (input.initUri && (p === leading || changed)) out += `#EXT-X-MAP:URI="${input.initUri(disc)}"\n`;
    if (p === leading || changed || seq % CHUNK_SIZE === 0) {
      out += `#EXT-X-PROGRAM-DATE-TIME:${isoTime(index.startMsAt(p))}\n`;
    }
    const gap = index.gapAt(p);
    // Missing time (RFC 8216bis 4.4.4.7): a player skips it; its URI (an empty marker) is never fetched.
    if (gap) out += '#EXT-X-GAP\n';
    out += `#EXTINF:${(index.durationUsAt(p) / 1e6).toFixed(6)},\n`;
    out += segmentName({ seq, startMs: index.startMsAt(p), durationUs: index.durationUsAt(p), disc,
      mediaStartUs: index.mediaStartUsAt(p) }, ext) + '\n';
  }
  return out;
}

/** The content of the immutable chunk that starts at sequence `firstSeq` (all CHUNK_SIZE segments). */
export function renderChunk(input: MediaPlaylistInput, firstSeq: number): string {
  const start = input.index.posOf(firstSeq);
  return renderSegments(input, start, start + CHUNK_SIZE, -1);
}

/**
 * The full media playlist in three parts: the header with the segments up to the first complete
 * chunk after the first listed one, the complete chunks (by first sequence), and the rest.
 */
export interface PlaylistParts {
  head: string;
  chunks: number[];
  tail: string;
}

export function mediaPlaylistParts(input: MediaPlaylistInput): PlaylistParts {
  const { index, from } = input;
  let head = header(input);
  const chunks: number[] = [];
  let tail = '';
  const n = index.length;
  if (n > from) {
    const firstSeq = index.seqAt(from);
    // The chunk holding the first listed segment is always inline: its tags depend on `from`.
    let inlineEnd = Math.min(n, from + (CHUNK_SIZE - (firstSeq % CHUNK_SIZE)));
    head += renderSegments(input, from, inlineEnd, from);
    while (inlineEnd + CHUNK_SIZE <= n && index.seqAt(inlineEnd) + CHUNK_SIZE <= input.chunkedBelow) {
      chunks.push(index.seqAt(inlineEnd));
      inlineEnd += CHUNK_SIZE;
    }
    tail = renderSegments(input, inlineEnd, n, -1);
  }
  if (input.ended) tail += '#EXT-X-ENDLIST\n';
  return { head, chunks, tail };
}

/** SSI that includes a chunk file; nginx replaces it with the chunk's text. */
export function includeDirective(file: string): string {
  return `<!--# include virtual="${file}" -->`;
}

/** Full media playlist. Complete chunks after the first listed one are SSI includes. */
export function renderMediaPlaylist(input: MediaPlaylistInput): string {
  return ssiPlaylist(mediaPlaylistParts(input));
}

/** The parts as the SSI template nginx assembles. */
export function ssiPlaylist(parts: PlaylistParts): string {
  // blank line after each expansion: ignored by players
  return parts.head + parts.chunks.map((seq) => `${includeDirective(`${CHUNK_DIR}/${chunkName(seq)}`)}\n`).join('') + parts.tail;
}

/** Delta update (RFC 8216bis 6.2.5.1): segments older than CAN-SKIP-UNTIL replaced by EXT-X-SKIP. */
export function renderDeltaPlaylist(input: MediaPlaylistInput): string {
  const { index, from } = input;
  const n = index.length;
  if (n <= from || input.canSkipUntil <= 0) return renderMediaPlaylist(input);
  const boundary = index.endMsAt(n - 1) - input.canSkipUntil * 1000;
  let skipTo = from;
  while (skipTo < n - 1 && index.startMsAt(skipTo) < boundary) skipTo++;
  if (skipTo === from) return renderMediaPlaylist(input);
  let out = header(input);
  out += `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipTo - from}\n`;
  out += renderSegments(input, skipTo, n, skipTo);
  if (input.ended) out += '#EXT-X-ENDLIST\n';
  return out;
}
