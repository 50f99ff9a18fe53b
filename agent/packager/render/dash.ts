// DASH MPD over the same fMP4 segments: dynamic while live (SegmentTimeline,
// timeShiftBufferDepth = window), static once the event has ended. One Period per discontinuity.
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

/** Runs of equal discontinuity number inside [from, length). */
function periodsOf(index: SegmentIndex, from: number): Array<{ disc: number; start: number; end: number }> {
  const out: Array<{ disc: number; start: number; end: number }> = [];
  for (let p = from; p < index.length; p++) {
    const d = index.discAt(p);
    const last = out[out.length - 1];
    if (last && last.disc === d) last.end = p + 1;
    else out.push({ disc: d, start: p, end: p + 1 });
  }
  return out;
}

export function renderMpd(input: DashInput): string {
  const main = input.renditions[0];
  const attrs = [
    'xmlns="urn:mpeg:dash:schema:mpd:2011"',
    'profiles="urn:mpeg:dash:profile:isoff-live:2011"',
    `type="${input.ended ? 'static' : 'dynamic'}"`,
    `minBufferTime="${dur(2 * input.target)}"`,
    `maxSegmentDuration="${dur(input.target)}"`,
  ];
  let totalSec = 0;
  if (main && main.index.length > main.from) {
    totalSec = (main.index.endMsAt(main.index.length - 1) - input.availabilityStartMs) / 1000;
  }
  if (input.ended) {
    attrs.push(`mediaPresentationDuration="${dur(totalSec)}"`);
  } else {
    attrs.push(`availabilityStartTime="${iso(input.availabilityStartMs)}"`, `publishTime="${iso(input.publishMs)}"`,
      `minimumUpdatePeriod="${dur(input.target)}"`, `suggestedPresentationDelay="${dur(3 * input.target)}"`);
    if (input.windowSeconds > 0) attrs.push(`timeShiftBufferDepth="${dur(input.windowSeconds)}"`);
  }
  let out = `<?xml version="1.0" encoding="utf-8"?>\n<MPD ${attrs.join(' ')}>\n`;
  if (main) {
    // A static (ended) presentation starts at 0 with its first listed segment.
    const base = input.ended && main.index.length > main.from ? main.index.startMsAt(main.from) : input.availabilityStartMs;
    for (const period of periodsOf(main.index, main.from)) {
      const startSec = (main.index.startMsAt(period.start) - base) / 1000;
      out += `<Period id="p${period.disc}" start="${dur(startSec)}">\n`;
      for (const kind of ['video', 'audio'] as const) {
        const members = input.renditions.filter((r) => isAudioOnly(r.info) === (kind === 'audio'));
        const body = representations(members, period.disc);
        if (body === '') continue;
        out += `<AdaptationSet contentType="${kind}" segmentAlignment="true" startWithSAP="1" mimeType="${kind}/mp4">\n`;
        out += body + '</AdaptationSet>\n';
      }
      out += '</Period>\n';
    }
  }
  return out + '</MPD>\n';
}


function representations(renditions: DashRendition[], disc: number): string {
  let out = '';
  for (const r of renditions) {
    const ps = periodsOf(r.index, r.from).find((x) => x.disc === disc);
    if (!ps) continue;
    const v = r.info;
    const attrs = [`id="${v.rendition}"`, `bandwidth="${Math.ceil(v.bandwidth)}"`];
    if (v.codecs.length > 0) attrs.push(`codecs="${v.codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`width="${v.width}" height="${v.height}"`);
    if (v.frameRate) attrs.push(`frameRate="${Math.round(v.frameRate)}"`);
    out += `<Representation ${attrs.join(' ')}>\n`;
    out += `<SegmentTemplate timescale="1000000" presentationTimeOffset="${Math.round(r.index.mediaStartUsAt(ps.start))}"`
      + ` startNumber="${r.index.seqAt(ps.start)}" initialization="${v.rendition}/${initName(disc)}"`
      + ` media="${v.rendition}/${DASH_DIR}/$Number%09d$.m4s">\n`;
    out += `<SegmentTimeline>${timeline(r.index, ps.start, ps.end)}</SegmentTimeline>\n</SegmentTemplate>\n</Representation>\n`;
  }
  return out;
}
