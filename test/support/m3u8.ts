// An HLS playlist parser written from RFC 8216, independent of the packager's renderer.

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

export function parsePlaylist(text: string): ParsedPlaylist {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines[0] !== '#EXTM3U') throw new Error('playlist does not start with #EXTM3U');
  const p: ParsedPlaylist = { version: undefined, targetDuration: NaN, mediaSequence: 0, discontinuitySequence: 0,
    playlistType: undefined, endList: false, canSkipUntil: undefined, skipped: 0, segments: [], variants: [], ssiIncludes: 0 };
  let duration: number | undefined;
  let disc = false;
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
          discSeq: p.discontinuitySequence + discCount, discontinuity: disc, programDateTime: pdt, map });
        duration = undefined;
        disc = false;
        pdt = undefined;
        break;
      }
      default: break;
    }
  }
  return p;
}
