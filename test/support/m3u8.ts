// An HLS playlist parser written from RFC 8216, independent of the packager's renderer, and
// joined by a second one (hls-parser, strict): every playlist a test reads is read by both, and
// they must agree, so that writer and checker cannot share one misreading of the spec.
import { parse, setOptions, types } from 'hls-parser';

export interface ParsedSegment {
  uri: string;
  duration: number;
  seq: number;
  /** Discontinuity sequence number of the segment (RFC 8216 6.2.1). */
  discSeq: number;
  discontinuity: boolean;
  programDateTime: number | undefined;
  /** Wall-clock start: the last PROGRAM-DATE-TIME plus the durations since (RFC 8216 4.3.2.6). */
  wallStart: number | undefined;
  map: string | undefined;
  /** EXT-X-GAP: missing time, not to be fetched. */
  gap: boolean;
}

export interface ParsedPlaylist {
  version: number | undefined;
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  playlistType: string | undefined;
  endList: boolean;
  canSkipUntil: number | undefined;
  skipped: number;
  segments: ParsedSegment[];
  variants: Array<{ uri: string; attrs: Record<string, string> }>;
  ssiIncludes: number;
}

export function parseAttributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out[m[1] ?? ''] = (m[2] ?? '').replace(/^"|"$/g, '');
  return out;
}

/**
 * The media missing before segment `at`: the seconds from the end of the last media segment before
 * it to its start, and how much of that is listed as gap entries.
 */
export function missingBefore(segments: readonly ParsedSegment[], at: number): { seconds: number; listedAsGaps: number } {
  let k = at - 1;
  let listedAsGaps = 0;
  for (; k >= 0 && segments[k]?.gap === true; k--) listedAsGaps += segments[k]?.duration ?? 0;
  const prev = segments[k];
  const seconds = ((segments[at]?.wallStart ?? NaN) - (prev?.wallStart ?? NaN)) / 1000 - (prev?.duration ?? NaN);
  return { seconds, listedAsGaps };
}

export function parsePlaylist(text: string): ParsedPlaylist {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines[0] !== '#EXTM3U') throw new Error('playlist does not start with #EXTM3U');
  const p: ParsedPlaylist = { version: undefined, targetDuration: NaN, mediaSequence: 0, discontinuitySequence: 0,
    playlistType: undefined, endList: false, canSkipUntil: undefined, skipped: 0, segments: [], variants: [], ssiIncludes: 0 };
  let duration: number | undefined;
  let disc = false;
  let gap = false;
  let pdt: number | undefined;
  let map: string | undefined;
  let discCount = 0;
  let wall: number | undefined;
  let pendingVariant: Record<string, string> | undefined;
  for (const line of lines.slice(1)) {
    if (line.startsWith('<!--#')) { p.ssiIncludes++; continue; }
    const [tag, value = ''] = line.startsWith('#') ? [line.slice(0, line.indexOf(':') < 0 ? line.length : line.indexOf(':')),
      line.indexOf(':') < 0 ? '' : line.slice(line.indexOf(':') + 1)] : ['', ''];
    switch (tag) {
      case '#EXT-X-VERSION': p.version = Number(value); break;
      case '#EXT-X-TARGETDURATION': p.targetDuration = Number(value); break;
      case '#EXT-X-MEDIA-SEQUENCE': p.mediaSequence = Number(value); break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE': p.discontinuitySequence = Number(value); break;
      case '#EXT-X-PLAYLIST-TYPE': p.playlistType = value; break;
      case '#EXT-X-ENDLIST': p.endList = true; break;
      case '#EXT-X-SERVER-CONTROL': p.canSkipUntil = Number(parseAttributes(value)['CAN-SKIP-UNTIL']); break;
      case '#EXT-X-SKIP': p.skipped = Number(parseAttributes(value)['SKIPPED-SEGMENTS']); break;
      case '#EXTINF': duration = Number(value.split(',')[0]); break;
      case '#EXT-X-DISCONTINUITY': disc = true; discCount++; break;
      case '#EXT-X-GAP': gap = true; break;
      case '#EXT-X-PROGRAM-DATE-TIME': pdt = Date.parse(value); break;
      case '#EXT-X-MAP': map = parseAttributes(value)['URI']; break;
      case '#EXT-X-STREAM-INF': pendingVariant = parseAttributes(value); break;
      case '': {
        if (pendingVariant) {
          p.variants.push({ uri: line, attrs: pendingVariant });
          pendingVariant = undefined;
          break;
        }
        if (duration === undefined) throw new Error(`URI without EXTINF: ${line}`);
        if (pdt !== undefined) wall = pdt;
        const wallStart = wall;
        if (wall !== undefined) wall += duration * 1000;
        p.segments.push({ wallStart, uri: line, duration, seq: p.mediaSequence + p.skipped + p.segments.length,
          discSeq: p.discontinuitySequence + discCount, discontinuity: disc, programDateTime: pdt, map, gap });
        duration = undefined;
        disc = false;
        gap = false;
        pdt = undefined;
        break;
      }
      default: break;
    }
  }
  if (p.ssiIncludes === 0) crossCheck(text, p);
  return p;
}

setOptions({ strictMode: true });

/** hls-parser reads the same text to the same segments, sequence numbers, discontinuities and variants. */
function crossCheck(text: string, p: ParsedPlaylist): void {
  // hls-parser wants CAN-BLOCK-RELOAD in every EXT-X-SERVER-CONTROL; RFC 8216bis does not.
  let other: ReturnType<typeof parse>;
  try {
    other = parse(text.replace(/^#EXT-X-SERVER-CONTROL:(?!CAN-BLOCK-RELOAD=YES).*\n/m, ''));
  } catch (err) {
    throw new Error(`hls-parser refuses the playlist: ${err instanceof Error ? err.message : String(err)}\n${text.slice(0, 2000)}`);
  }
  const differ = (what: string, a: unknown, b: unknown): never => {
    throw new Error(`the two playlist parsers disagree on ${what}: ${JSON.stringify(a)} vs hls-parser's ${JSON.stringify(b)}`);
  };
  if (other instanceof types.MasterPlaylist) {
    const uris = other.variants.map((v) => v.uri);
    if (JSON.stringify(uris) !== JSON.stringify(p.variants.map((v) => v.uri))) differ('the variants', p.variants.map((v) => v.uri), uris);
    return;
  }
  const m = other as types.MediaPlaylist;
  if (m.mediaSequenceBase !== undefined
    && m.mediaSequenceBase !== p.mediaSequence) differ('the media sequence', p.mediaSequence, m.mediaSequenceBase);
  if (m.endlist !== p.endList) differ('ENDLIST', p.endList, m.endlist);
  if (p.skipped > 0) return;
  const ours = p.segments.map((x) => [x.uri, x.seq, x.discontinuity, Math.round(x.duration * 1000), x.gap]);
  // A low-latency playlist's parts of the segment being encoded: hls-parser lists their segment, without a URI yet.
  const theirs = m.segments.filter((x) => x.uri !== '').map((x) => [x.uri, x.mediaSequenceNumber, x.discontinuity === true,
    Math.round(x.duration * 1000), x.gap === true]);
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) differ('the segments', ours, theirs);
}
