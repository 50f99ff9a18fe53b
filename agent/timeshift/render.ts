// Time-shift answers, cut from the same immutable segments as the live playlists and rendered by
// the same renderers: a media playlist of a range (VOD once it is finished, EVENT while it is open,
// a sliding live one for ?window=), the stream's master playlist pointing at its renditions' range,
// and the range as an MPD. Pure.
import { thumbName } from '../../common/edge-paths.js';
import { initName, type SegmentExt, type SegmentRecord } from '../../packager/layout.js';
import { renderMpd } from '../../packager/render/dash.js';
import { renderMediaPlaylist } from '../../packager/render/hls.js';
import { withoutImageStream, type VariantInfo } from '../../packager/render/master.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';

function indexOf(segments: readonly SegmentRecord[]): SegmentIndex {
  const index = new SegmentIndex();
  for (const s of segments) index.push(s);
  return index;
}

/** A rendition's playlist of `segments`: finished (VOD, ENDLIST), open (EVENT) or live (a sliding window). */
export function rangePlaylist(
  segments: readonly SegmentRecord[], o: { ext: SegmentExt; target: number; state: 'finished' | 'open' | 'live' },
): string {
  const index = indexOf(segments);
  const longest = segments.reduce((a, s) => Math.max(a, Math.round(s.durationUs / 1e6)), 0);
  return renderMediaPlaylist({
    index, from: 0, ext: o.ext, target: Math.max(o.target, longest),
    kind: o.state === 'finished' ? 'vod' : o.state === 'open' ? 'event' : 'live',
    ended: o.state === 'finished', canSkipUntil: 0, chunkedBelow: 0,
    ...(o.ext === 'm4s' ? { initUri: (disc: number) => initName(disc) } : {}),
  });
}

/**
 * The stream's master playlist with each rendition's URI pointing at the same range: `<rendition>/index.m3u8`
 * becomes `<rendition>/<name>` (name: index-<from>-<duration>.m3u8, or index.m3u8 with the query kept).
 */
export function rangeMaster(master: string, name: string, query: string): string {
  const target = `${name}${query}`;
  // The thumbnail track is the live one's: a range has none of its own.
  return withoutImageStream(master).split('\n').map((line) => {
    if (line.startsWith('#EXT-X-MEDIA:')) return line.replace(/URI="([^"/]+)\/index\.m3u8"/, `URI="$1/${target}"`);
    return /^[a-z0-9_-]+\/index\.m3u8$/.test(line) ? line.replace(/index\.m3u8$/, target) : line;
  }).join('\n');
}

export interface MpdRendition { info: VariantInfo; segments: readonly SegmentRecord[] }

/** The range as an MPD: static once finished, dynamic (growing, with its time-shift depth) while open. */
export function rangeMpd(renditions: readonly MpdRendition[], o: { target: number; finished: boolean; availabilityStartMs: number;
  fromMs: number; nowMs: number; }): string {
  return renderMpd({
    renditions: renditions.map((r) => ({ info: r.info, index: indexOf(r.segments), from: 0 })),
    availabilityStartMs: o.availabilityStartMs, windowSeconds: Math.ceil((o.nowMs - o.fromMs) / 1000), target: o.target,
    ended: o.finished, publishMs: o.nowMs,
  });
}

/**
 * The thumbnail track of `segments` (an image media playlist: one picture per segment, each
 * thumb-<second>.jpg of the segment's first whole second, which the edge makes when asked), a live
 * one unless the event ended. Missing time is a gap entry.
 */
export function imagePlaylist(segments: readonly SegmentRecord[], o: { target: number; ended: boolean; width: number; height: number }):
string {
  const first = segments[0];
  // EXT-X-GAP came with version 8.
  const version = segments.some((s) => s.gap === true) ? 8 : 7;
  let out = `#EXTM3U\n#EXT-X-VERSION:${version}\n#EXT-X-TARGETDURATION:${o.target}\n#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? 0}\n`;
  if (o.ended) out += '#EXT-X-PLAYLIST-TYPE:VOD\n';
  out += '#EXT-X-IMAGES-ONLY\n';
  for (const s of segments) {
    const seconds = (s.durationUs / 1e6).toFixed(3);
    if (s.gap === true) out += '#EXT-X-GAP\n';
    out += `#EXTINF:${seconds},\n#EXT-X-TILES:RESOLUTION=${o.width}x${o.height},LAYOUT=1x1,DURATION=${seconds}\n`;
    out += `${thumbName(Math.ceil(s.startMs / 1000))}\n`;
  }
  return o.ended ? `${out}#EXT-X-ENDLIST\n` : out;
}

/** Representations as the live MPD describes them (the packager measured them from the media). */
export function representationsOf(mpd: string): Map<string, VariantInfo> {
  const out = new Map<string, VariantInfo>();
  for (const m of mpd.matchAll(/<Representation ([^>]*)>/g)) {
    const attr = (name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(m[1] ?? '')?.[1];
    const id = attr('id');
    if (id === undefined || out.has(id)) continue;
    const num = (name: string): number | undefined => (attr(name) !== undefined ? Number(attr(name)) : undefined);
    const bandwidth = num('bandwidth') ?? 0;
    out.set(id, { rendition: id, bandwidth, averageBandwidth: bandwidth, codecs: attr('codecs')?.split(',') ?? [], width: num('width'),
      height: num('height'), frameRate: num('frameRate') });
  }
  return out;
}

/** availabilityStartTime of a live MPD, ms; undefined for a static one. */
export function availabilityStartOf(mpd: string): number | undefined {
  const v = /availabilityStartTime="([^"]+)"/.exec(mpd)?.[1];
  return v !== undefined ? Date.parse(v) : undefined;
}
