// Low-latency HLS (RFC 8216bis): the live playlist the stream's transcoder answers blocking
// reloads with. The window is listed as the storage's playlist lists it (whole segments), and the
// newest segments also as their partial segments, then the parts of the segment being encoded,
// the hint of the next part and where the other renditions are. Pure: no I/O, no clock.
import type { LivePart } from '../parts/parts.js';
import { header, renderSegments, type MediaPlaylistInput } from './hls.js';

/** Complete segments whose parts stay listed: with the one being encoded, at most three target durations (RFC 8216bis 6.2.2). */
const PARTED_SEGMENTS = 2;

export interface LlRendition {
  /** The playlist as the storage has it (its window, its settings); `lowLatency` is set. */
  input: MediaPlaylistInput;
  /** The parts of a listed segment, by sequence number, when held. */
  partsOf: (seq: number) => readonly LivePart[] | undefined;
  /** The parts of the segment being encoded, which follows the last listed one. */
  current: readonly LivePart[];
  /** The next part's URI (EXT-X-PRELOAD-HINT). */
  hint: string | undefined;
}

export interface RenditionReport { uri: string; lastMsn: number; lastPart: number | undefined }

/** Every part but a segment's last lasts at least this share of the part target (RFC 8216bis 4.4.4.9). */
const SHORT_PART_SHARE = 0.85;

/**
 * The parts of the segment being encoded that a playlist may list: a short last part (a segment's
 * tail: frames left after the last whole part) is held back until its segment is listed, as a
 * player cannot tell it is the segment's last before that.
 */
export function listableParts(parts: readonly LivePart[], partTargetSeconds: number): { parts: readonly LivePart[]; heldBack: boolean } {
  const last = parts[parts.length - 1];
  const heldBack = last !== undefined && last.durationUs < SHORT_PART_SHARE * partTargetSeconds * 1e6;
  return { parts: heldBack ? parts.slice(0, -1) : parts, heldBack };
}

/** The newest media a playlist of this rendition lists: the last segment's number and its last part's. */
export function lastPosition(r: LlRendition): { msn: number; part: number | undefined } | undefined {
  const { index } = r.input;
  if (index.length === 0) return undefined;
  const last = index.seqAt(index.length - 1);
  if (r.current.length > 0) return { msn: last + 1, part: r.current.length - 1 };
  const parts = r.partsOf(last);
  return { msn: last, part: parts && parts.length > 0 ? parts.length - 1 : undefined };
}

/** What a low-latency playlist lists at its end: its last complete segment, the parts of each parted segment. */
export interface LlPosition {
  /** The last segment listed whole (its EXTINF). */
  complete: number;
  /** Parts listed per segment number, the one being encoded (complete + 1) included. */
  parts: Map<number, number>;
  target: number;
}

/**
 * Whether a playlist at `p` has what a blocking request asks for: segment `msn` complete, or with
 * `part`, that part of it (a part past the segment's last is the next one's first). The transcoder
 * decides by it, and an edge's fan-out by the position it read from the transcoder's answer.
 */
export function positionSatisfies(p: LlPosition, msn: number, part: number | undefined): boolean {
  if (msn <= p.complete) {
    const count = p.parts.get(msn);
    // A segment listed whole has all its parts; past its last part is the next segment's first.
    if (part === undefined || count === undefined || part < count) return true;
    return msn + 1 <= p.complete || (p.parts.get(msn + 1) ?? 0) > 0;
  }
  return msn === p.complete + 1 && part !== undefined && part < (p.parts.get(msn) ?? 0);
}

/** positionSatisfies for a rendition's own state. */
export function satisfies(r: LlRendition, msn: number, part: number | undefined): boolean {
  const { index } = r.input;
  if (index.length === 0) return false;
  const last = index.seqAt(index.length - 1);
  const parts = new Map<number, number>();
  const asked = msn <= last ? r.partsOf(msn)?.length : undefined;
  if (asked !== undefined) parts.set(msn, asked);
  parts.set(last + 1, r.current.length);
  return positionSatisfies({ complete: last, parts, target: r.input.target }, msn, part);
}

function partLine(p: LivePart): string {
  return `#EXT-X-PART:DURATION=${(p.durationUs / 1e6).toFixed(5)},URI="${p.name}"${p.independent ? ',INDEPENDENT=YES' : ''}\n`;
}

/**
 * The low-latency playlist: with `skip`, segments older than CAN-SKIP-UNTIL are left out (EXT-X-SKIP,
 * RFC 8216bis 6.2.5.1), else the whole window. An ended event's playlist is the storage's.
 */
export function renderLlPlaylist(r: LlRendition, skip: boolean, reports: readonly RenditionReport[]): string {
  const { input } = r;
  const { index, from } = input;
  const n = index.length;
  let start = from;
  let out = header(input);
  if (skip && input.canSkipUntil > 0 && n > from) {
    const boundary = index.endMsAt(n - 1) - input.canSkipUntil * 1000;
    while (start < n - 1 && index.startMsAt(start) < boundary) start++;
    if (start > from) out += `#EXT-X-SKIP:SKIPPED-SEGMENTS=${start - from}\n`;
  }
  const parted = Math.max(start, n - PARTED_SEGMENTS);
  out += renderSegments(input, start, parted, start);
  for (let p = parted; p < n; p++) {
    const lines = renderSegments(input, p, p + 1, p === start ? start : -1);
    const parts = input.ended || index.gapAt(p) ? undefined : r.partsOf(index.seqAt(p));
    if (!parts || parts.length === 0) {
      out += lines;
      continue;
    }
    // The parts come right before the segment's own entry, after the tags that apply to both.
    const at = lines.search(/^#EXT(INF|-X-GAP)/m);
    out += lines.slice(0, at) + parts.map(partLine).join('') + lines.slice(at);
  }
  if (input.ended) return `${out}#EXT-X-ENDLIST\n`;
  out += r.current.map(partLine).join('');
  if (r.hint !== undefined) out += `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${r.hint}"\n`;
  for (const x of reports) {
    out += `#EXT-X-RENDITION-REPORT:URI="${x.uri}",LAST-MSN=${x.lastMsn}${x.lastPart !== undefined ? `,LAST-PART=${x.lastPart}` : ''}\n`;
  }
  return out;
}
