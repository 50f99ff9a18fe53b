// DASH MPD over the same fMP4 segments: dynamic while live (SegmentTimeline,
// timeShiftBufferDepth = window), static once the event has ended. One Period per discontinuity.
import { EDGE_TIME_PATH } from '../../common/edge-paths.js';
import { DASH_DIR, initName } from '../layout.js';
import type { SegmentIndex } from '../index/segment-index.js';
import { Timeline, type Run } from './dash-timeline.js';
import { isAudioOnly, type VariantInfo } from './master.js';

export interface DashRendition {
  info: VariantInfo;
  index: SegmentIndex;
  from: number;
  /**
   * The segment duration the encoder was asked for, microseconds. An audio rendition is cut on
   * that grid (every audio frame may begin a segment), so its timeline is listed on it (dash-timeline.ts).
   */
  segmentUs?: number;
  /**
   * The Periods' origins of another index of the same rendition (periodOrigins): a partial view of
   * it (the live view's newest records) keeps the Period starts and offsets the full MPD has.
   */
  origins?: ReadonlyMap<number, Origin>;
}

export interface DashInput {
  renditions: DashRendition[];
  /** Wall-clock ms of the event's first segment: availabilityStartTime. */
  availabilityStartMs: number;
  windowSeconds: number;
  target: number;
  ended: boolean;
  publishMs: number;
  /**
   * A live MPD that players may update by patches (dash-patch.ts): its id (MPD@id, the same for the
   * whole event), where the patch from this version is (PatchLocation, relative to the MPD) and for
   * how long after loading it that patch is kept (its ttl, seconds).
   */
  patch?: { mpdId: string; location: string; ttlSeconds: number };
}

const dur = (sec: number): string => `PT${Math.max(0, sec).toFixed(3)}S`;
const iso = (ms: number): string => new Date(ms).toISOString();

/** One Period's <S> elements: a run each, S@t only where a run does not follow on from the one before. */
function timeline(runs: readonly Run[]): string {
  let out = '';
  let next = NaN;
  for (const r of runs) {
    out += r.t === next ? `<S d="${r.d}"` : `<S t="${r.t}" d="${r.d}"`;
    out += r.count > 1 ? ` r="${r.count - 1}"/>` : '/>';
    next = r.t + r.count * r.d;
  }
  return out;
}

/** Where a Period begins: the wall-clock start and media time of its discontinuity's first segment. */
export interface Origin { wallMs: number; mediaUs: number }

/** The Periods' origins learnt of an index rendered before, by discontinuity. */
export function periodOrigins(index: SegmentIndex): ReadonlyMap<number, Origin> {
  return new Map(learnt.get(index)?.origins ?? []);
}

/** A rendition's listed runs of one discontinuity, with the Period's origin. */
interface PeriodRuns { disc: number; runs: Run[]; origin: Origin }

/**
 * What is learnt of each index as its segments arrive: the discontinuities' origins and the timeline.
 * A Period's start and presentationTimeOffset must not move while the Period is listed (players,
 * ExoPlayer among them, fail otherwise), and the index is purged from the front: the first segment
 * of a discontinuity that is still listed may be gone. An index first seen with a discontinuity
 * under way (rebuilt after a restart) takes the oldest segment it holds of it.
 */
interface Learnt { nextSeq: number; origins: Map<number, Origin>; timeline: Timeline }
const learnt = new WeakMap<SegmentIndex, Learnt>();

function follow(index: SegmentIndex, gridUs: number | undefined, seed?: ReadonlyMap<number, Origin>): Learnt {
  let known = learnt.get(index);
  if (!known || known.nextSeq > index.nextSequence || known.timeline.gridUs !== gridUs) {
    known = { nextSeq: index.firstSequence, origins: new Map(seed ?? []), timeline: new Timeline(gridUs) };
    learnt.set(index, known);
  }
  for (let p = Math.max(0, known.nextSeq - index.firstSequence); p < index.length; p++) addAt(index, p, known);
  known.nextSeq = index.nextSequence;
  const oldest = index.length > 0 ? index.discAt(0) : Infinity;
  for (const d of known.origins.keys()) if (d < oldest) known.origins.delete(d);
  known.timeline.dropBefore(index.firstSequence);
  return known;
}

/** Adds the segment at position `p` to a timeline, its discontinuity's origin first if it is new. */
function addAt(index: SegmentIndex, p: number, into: Omit<Learnt, 'nextSeq'>): void {
  // Missing time is left out: the timeline leaves the gap, the next Period starts after it.
  if (index.gapAt(p)) return;
  const disc = index.discAt(p);
  let origin = into.origins.get(disc);
  if (!origin) {
    origin = { wallMs: index.startMsAt(p), mediaUs: index.mediaStartUsAt(p) };
    into.origins.set(disc, origin);
  }
  into.timeline.add({ seq: index.seqAt(p), disc, mediaStartUs: index.mediaStartUsAt(p), durationUs: index.durationUsAt(p) },
    origin.mediaUs);
}

/**
 * A rendition's Periods. Live, each begins with its discontinuity's first segment, listed or not;
 * a static presentation is written once and begins with the first listed segment.
 */
function layout(r: DashRendition, ended: boolean): PeriodRuns[] {
  if (r.from >= r.index.length) return [];
  // Video is cut at keyframes, wherever the publisher put them: listed as measured.
  const gridUs = isAudioOnly(r.info) ? r.segmentUs : undefined;
  let known: Omit<Learnt, 'nextSeq'>;
  if (ended) {
    known = { origins: new Map(), timeline: new Timeline(gridUs) };
    for (let p = r.from; p < r.index.length; p++) addAt(r.index, p, known);
  } else {
    known = follow(r.index, gridUs, r.origins);
  }
  const out: PeriodRuns[] = [];
  for (const run of known.timeline.from(r.index.seqAt(r.from))) {
    const last = out[out.length - 1];
    if (last && last.disc === run.disc) {
      last.runs.push(run);
      continue;
    }
    const pos = r.index.posOf(run.seq);
    const origin = known.origins.get(run.disc) ?? { wallMs: r.index.startMsAt(pos), mediaUs: r.index.mediaStartUsAt(pos) };
    out.push({ disc: run.disc, runs: [run], origin });
  }
  return out;
}

/** The longest listed segment of any rendition, seconds, rounded up to the millisecond. */
function longestListed(layouts: Iterable<PeriodRuns[]>): number {
  let us = 0;
  for (const periods of layouts) for (const p of periods) for (const run of p.runs) us = Math.max(us, run.longestUs);
  return Math.ceil(us / 1000) / 1000;
}

export function renderMpd(input: DashInput): string {
  const main = input.renditions[0];
  const listed = main !== undefined && main.index.length > main.from;
  // A static (ended) presentation starts at 0 with its first listed segment, a dynamic one at availabilityStartTime.
  const zeroMs = input.ended && listed ? main.index.startMsAt(main.from) : input.availabilityStartMs;
  const layouts = new Map(input.renditions.map((r) => [r, layout(r, input.ended)]));
  const attrs = [
    ...(input.patch && !input.ended ? [`id="${input.patch.mpdId}"`] : []),
    'xmlns="urn:mpeg:dash:schema:mpd:2011"',
    'profiles="urn:mpeg:dash:profile:isoff-live:2011"',
    `type="${input.ended ? 'static' : 'dynamic'}"`,
    `minBufferTime="${dur(2 * input.target)}"`,
    `maxSegmentDuration="${dur(Math.max(input.target, longestListed(layouts.values())))}"`,
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
  if (input.patch && !input.ended) out += `<PatchLocation ttl="${input.patch.ttlSeconds}">${input.patch.location}</PatchLocation>\n`;
  if (main) {
    for (const period of layouts.get(main) ?? []) {
      out += `<Period id="p${period.disc}" start="${dur((period.origin.wallMs - zeroMs) / 1000)}">\n`;
      for (const kind of ['video', 'audio'] as const) {
        const members = input.renditions.filter((r) => isAudioOnly(r.info) === (kind === 'audio'));
        const body = representations(members, layouts, period);
        if (body === '') continue;
        // Ids that a patch's selectors name (dash-patch.ts).
        out += `<AdaptationSet id="${kind === 'video' ? 0 : 1}" contentType="${kind}" segmentAlignment="true" startWithSAP="1"`
          + ` mimeType="${kind}/mp4">\n`;
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
 * The representations of one Period. presentationTimeOffset is each one's media time at the Period's
 * start (the main rendition's origin), from its own origin by the wall clock the renditions of an
 * encoder session share: a copied video that starts 0.7 s after its audio begins the Period, and
 * the audio's first 0.7 s fall before it, so that both play in sync. The first S@t is that of the
 * first listed segment, so each plays at its wall-clock time.
 */
function representations(renditions: DashRendition[], layouts: Map<DashRendition, PeriodRuns[]>,
  period: PeriodRuns): string {
  let out = '';
  for (const r of renditions) {
    const ps = layouts.get(r)?.find((x) => x.disc === period.disc);
    const first = ps?.runs[0];
    if (!ps || !first) continue;
    const v = r.info;
    const attrs = [`id="${v.rendition}"`, `bandwidth="${Math.ceil(v.bandwidth)}"`];
    if (v.codecs.length > 0) attrs.push(`codecs="${v.codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`width="${v.width}" height="${v.height}"`);
    if (v.frameRate) attrs.push(`frameRate="${Math.round(v.frameRate)}"`);
    out += `<Representation ${attrs.join(' ')}>\n`;
    const offsetUs = Math.max(0, Math.round(ps.origin.mediaUs + (period.origin.wallMs - ps.origin.wallMs) * 1000));
    out += `<SegmentTemplate timescale="1000000" presentationTimeOffset="${offsetUs}"`
      + ` startNumber="${first.seq}" initialization="${v.rendition}/${initName(period.disc)}"`
      + ` media="${v.rendition}/${DASH_DIR}/$Number%09d$.m4s">\n`;
    out += `<SegmentTimeline>${timeline(ps.runs)}</SegmentTimeline>\n</SegmentTemplate>\n</Representation>\n`;
  }
  return out;
}
