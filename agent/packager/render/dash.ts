// DASH MPD over the same fMP4 segments: dynamic while live (SegmentTimeline,
// timeShiftBufferDepth = window), static once the event has ended. One Period per discontinuity.
import { EDGE_TIME_PATH } from '../../../common/edge-paths.js';
import { DASH_DIR, initName } from '../layout.js';
import type { SegmentIndex } from '../segment-index.js';
import { isAudioOnly, type VariantInfo } from './master.js';

export interface DashRendition {
  info: VariantInfo;
  index: SegmentIndex;
  from: number;
}

export interface DashInput {
  renditions: DashRendition[];
  /** Wall-clock ms of the event's first segment: availabilityStartTime. */
  availabilityStartMs: number;
  windowSeconds: number;
  target: number;
  ended: boolean;
  publishMs: number;
}

const dur = (sec: number): string => `PT${Math.max(0, sec).toFixed(3)}S`;
const iso = (ms: number): string => new Date(ms).toISOString();

function timeline(index: SegmentIndex, start: number, end: number): string {
  let out = '';
  let p = start;
  while (p < end) {
    const d = index.durationUsAt(p);
    let r = 0;
    while (p + r + 1 < end && index.durationUsAt(p + r + 1) === d) r++;
    out += p === start ? `<S t="${Math.round(index.mediaStartUsAt(p))}" d="${d}"` : `<S d="${d}"`;
    out += r > 0 ? ` r="${r}"/>` : '/>';
    p += r + 1;
  }
  return out;
}

/** Positions [start, end) of one discontinuity's listed segments. */
interface Run { disc: number; start: number; end: number }

/** Runs of equal discontinuity number inside [from, length). */
function periodsOf(index: SegmentIndex, from: number): Run[] {
  const out: Run[] = [];
  for (let p = from; p < index.length; p++) {
    const d = index.discAt(p);
    const last = out[out.length - 1];
    if (last && last.disc === d) last.end = p + 1;
    else out.push({ disc: d, start: p, end: p + 1 });
  }
  return out;
}

/** Where a Period begins: the wall-clock start and media time of its discontinuity's first segment. */
interface Origin { wallMs: number; mediaUs: number }

/**
 * The discontinuities' origins of each index, learnt as its segments arrive. A Period's start and
 * presentationTimeOffset must not move while the Period is listed (players, ExoPlayer among them,
 * fail otherwise), and the index is purged from the front: the first segment of a discontinuity that
 * is still listed may be gone. An index first seen with a discontinuity under way (rebuilt after a
 * restart) takes the oldest segment it holds of it.
 */
const learnt = new WeakMap<SegmentIndex, { nextSeq: number; origins: Map<number, Origin> }>();

function originsOf(index: SegmentIndex): Map<number, Origin> {
  let known = learnt.get(index);
  if (!known || known.nextSeq > index.nextSequence) {
    known = { nextSeq: index.firstSequence, origins: new Map() };
    learnt.set(index, known);
  }
  for (let p = Math.max(0, known.nextSeq - index.firstSequence); p < index.length; p++) {
    const d = index.discAt(p);
    if (!known.origins.has(d)) known.origins.set(d, { wallMs: index.startMsAt(p), mediaUs: index.mediaStartUsAt(p) });
  }
  known.nextSeq = index.nextSequence;
  const oldest = index.length > 0 ? index.discAt(0) : Infinity;
  for (const d of known.origins.keys()) if (d < oldest) known.origins.delete(d);
  return known.origins;
}

/**
 * A rendition's Periods with their origins. Live, each begins with its discontinuity's first segment,
 * listed or not; a static presentation is written once and begins with the first listed segment.
 */
function layout(r: DashRendition, ended: boolean): Array<Run & { origin: Origin }> {
  const origins = ended ? undefined : originsOf(r.index);
  return periodsOf(r.index, r.from).map((ps) => ({
    ...ps,
    origin: origins?.get(ps.disc) ?? { wallMs: r.index.startMsAt(ps.start), mediaUs: r.index.mediaStartUsAt(ps.start) },
  }));
}

/** The longest listed segment of any rendition, seconds, rounded up to the millisecond. */
function longestListed(renditions: DashRendition[]): number {
  let us = 0;
  for (const r of renditions) for (let p = r.from; p < r.index.length; p++) us = Math.max(us, r.index.durationUsAt(p));
  return Math.ceil(us / 1000) / 1000;
}

export function renderMpd(input: DashInput): string {
  const main = input.renditions[0];
  const listed = main !== undefined && main.index.length > main.from;
  // A static (ended) presentation starts at 0 with its first listed segment, a dynamic one at availabilityStartTime.
  const zeroMs = input.ended && listed ? main.index.startMsAt(main.from) : input.availabilityStartMs;
  const attrs = [
    'xmlns="urn:mpeg:dash:schema:mpd:2011"',
    'profiles="urn:mpeg:dash:profile:isoff-live:2011"',
    `type="${input.ended ? 'static' : 'dynamic'}"`,
    `minBufferTime="${dur(2 * input.target)}"`,
    `maxSegmentDuration="${dur(Math.max(input.target, longestListed(input.renditions)))}"`,
  ];
  if (input.ended) {
    const endMs = listed ? main.index.endMsAt(main.index.length - 1) : zeroMs;
    attrs.push(`mediaPresentationDuration="${dur((endMs - zeroMs) / 1000)}"`);
  } else {
    attrs.push(`availabilityStartTime="${iso(input.availabilityStartMs)}"`, `publishTime="${iso(input.publishMs)}"`,
      `minimumUpdatePeriod="${dur(input.target)}"`, `suggestedPresentationDelay="${dur(3 * input.target)}"`);
    if (input.windowSeconds > 0) attrs.push(`timeShiftBufferDepth="${dur(input.windowSeconds)}"`);
  }
  let out = `<?xml version="1.0" encoding="utf-8"?>\n<MPD ${attrs.join(' ')}>\n`;
  if (main) {
    const layouts = new Map(input.renditions.map((r) => [r, layout(r, input.ended)]));
    for (const period of layouts.get(main) ?? []) {
      out += `<Period id="p${period.disc}" start="${dur((period.origin.wallMs - zeroMs) / 1000)}">\n`;
      for (const kind of ['video', 'audio'] as const) {
        const members = input.renditions.filter((r) => isAudioOnly(r.info) === (kind === 'audio'));
        const body = representations(members, layouts, period.disc);
        if (body === '') continue;
        out += `<AdaptationSet contentType="${kind}" segmentAlignment="true" startWithSAP="1" mimeType="${kind}/mp4">\n`;
        out += body + '</AdaptationSet>\n';
      }
      out += '</Period>\n';
    }
  }
  // The edge's own clock (a path on the host that served the MPD, as DASH players resolve it): no
  // public time server, which an offline or firewalled viewer could not reach anyway.
  if (!input.ended) out += `<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="${EDGE_TIME_PATH}"/>\n`;
  return out + '</MPD>\n';
}

/**
 * The representations of one Period. presentationTimeOffset is the media time at the Period's start
 * (its origin); the first S@t, that of the first listed segment, so each plays at its wall-clock time.
 */
function representations(renditions: DashRendition[], layouts: Map<DashRendition, Array<Run & { origin: Origin }>>,
  disc: number): string {
  let out = '';
  for (const r of renditions) {
    const ps = layouts.get(r)?.find((x) => x.disc === disc);
    if (!ps) continue;
    const v = r.info;
    const attrs = [`id="${v.rendition}"`, `bandwidth="${Math.ceil(v.bandwidth)}"`];
    if (v.codecs.length > 0) attrs.push(`codecs="${v.codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`width="${v.width}" height="${v.height}"`);
    if (v.frameRate) attrs.push(`frameRate="${Math.round(v.frameRate)}"`);
    out += `<Representation ${attrs.join(' ')}>\n`;
    out += `<SegmentTemplate timescale="1000000" presentationTimeOffset="${Math.round(ps.origin.mediaUs)}"`
      + ` startNumber="${r.index.seqAt(ps.start)}" initialization="${v.rendition}/${initName(disc)}"`
      + ` media="${v.rendition}/${DASH_DIR}/$Number%09d$.m4s">\n`;
    out += `<SegmentTimeline>${timeline(r.index, ps.start, ps.end)}</SegmentTimeline>\n</SegmentTemplate>\n</Representation>\n`;
  }
  return out;
}
