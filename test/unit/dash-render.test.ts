import assert from 'node:assert/strict';
import { parse, type MpdPlaylist, type ParsedMpd } from 'mpd-parser';
import { dashSegmentName, DASH_DIR, initName } from '../../packager/layout.js';
import { renderMpd, type DashInput, type DashRendition } from '../../packager/render/dash.js';
import type { VariantInfo } from '../../packager/render/master.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';
import { windowHead } from '../../packager/index/window.js';
import { indexWithGap } from '../support/index-fixture.js';

// The MPD is read back by an independent DASH parser (mpd-parser, the one video.js plays DASH
// with): what it lists must be what the index holds, at the wall-clock times the index says.

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const TARGET = 2;
/** The event spans 60.5 s: a 50 s window starts inside its first session. */
const WINDOW = 50;

/** One encoder session as the packager lists it (stream.ts place()): wall-clock time follows media time from an anchor. */
interface Session { disc: number; wallMs: number; mediaUs: number; durationsUs: number[] }

function listSessions(sessions: Session[]): SegmentIndex {
  const index = new SegmentIndex();
  for (const s of sessions) {
    let media = s.mediaUs;
    for (const d of s.durationsUs) {
      const prevEnd = index.length > 0 ? index.endMsAt(index.length - 1) : 0;
      const startMs = Math.max(prevEnd, Math.round(s.wallMs + (media - s.mediaUs) / 1000));
      index.push({ seq: index.nextSequence, startMs, durationUs: d, disc: s.disc, mediaStartUs: media, bytes: Math.round(d / 8) });
      media += d;
    }
  }
  return index;
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v);
/**
 * Segments as an audio muxer cuts them: at the first whole AAC frame (1024 samples) at or after each
 * multiple of the segment duration, so they alternate around it (94/94/94/93 frames for 2 s at 48 kHz).
 */
function audioCuts(n: number, sampleRate: number, segmentUs: number): number[] {
  const frameUs = (1024 / sampleRate) * 1e6;
  const boundary = (k: number): number => Math.round(Math.ceil((k * segmentUs) / frameUs - 1e-9) * frameUs);
  return Array.from({ length: n }, (_v, k) => boundary(k + 1) - boundary(k));
}
/** AAC segments: whole 1024-sample frames at 48 kHz, so they alternate around 2 s. */
const aac = (n: number): number[] => Array.from({ length: n }, (_v, i) => (i % 2 === 0 ? 2_005_333 : 1_994_667));

/**
 * An event as a demuxed CMAF ladder writes it: 12 segments, the encoder reconnects after 6.5 s
 * away (media time starts over), 6 segments, one segment lost (a hole: the same session goes on
 * 2 s later in a new discontinuity), 8 more.
 */
function event(durations: (n: number) => number[]): SegmentIndex {
  const first = durations(12);
  const firstEnd = T0 + first.reduce((a, d) => a + d, 0) / 1000;
  const second = durations(6);
  const secondMediaEnd = 1_400_000 + second.reduce((a, d) => a + d, 0);
  const lost = 2_000_000;
  const secondWall = firstEnd + 6_500;
  return listSessions([
    { disc: 0, wallMs: T0, mediaUs: 0, durationsUs: first },
    { disc: 1, wallMs: secondWall, mediaUs: 1_400_000, durationsUs: second },
    { disc: 2, wallMs: secondWall + (secondMediaEnd + lost - 1_400_000) / 1000, mediaUs: secondMediaEnd + lost, durationsUs: durations(8) },
  ]);
}

const VIDEO: VariantInfo = { rendition: '720p', bandwidth: 2_500_000.2, averageBandwidth: 2_000_000, codecs: ['avc1.64001f'],
  width: 1280, height: 720, frameRate: 25 };
const AUDIO: VariantInfo = { rendition: 'audio', bandwidth: 128_000, averageBandwidth: 126_000, codecs: ['mp4a.40.2'],
  width: undefined, height: undefined, frameRate: undefined };

/** As writeStreamManifests builds it: each rendition from its own window head. */
function input(renditions: DashRendition[], over: Partial<DashInput> = {}): DashInput {
  return { renditions, availabilityStartMs: T0, windowSeconds: WINDOW, target: TARGET, ended: false, publishMs: T0 + 60_000, ...over };
}

/** The encoder's segment duration: an audio muxer cuts on its multiples. */
const SEGMENT_US = TARGET * 1e6;
/** One AAC frame at 48 kHz: how far an audio segment's listed boundaries may be from its media's. */
const FRAME_US = (1024 / 48_000) * 1e6;

function live(index: SegmentIndex, info: VariantInfo, windowSeconds: number): DashRendition {
  return { info, index, from: windowHead(index, 0, windowSeconds, TARGET),
    segmentUs: SEGMENT_US };
}

/** Position of the first segment of discontinuity `disc`. */
function firstOfDisc(index: SegmentIndex, disc: number): number {
  for (let p = 0; p < index.length; p++) if (index.discAt(p) === disc) return p;
  throw new Error(`no segment of discontinuity ${disc}`);
}

function read(mpd: string): ParsedMpd {
  return parse(mpd, { manifestUri: 'https://edge.example/live/show/manifest.mpd', NOW: T0 + 60_000, clientOffset: 0 });
}

function rootAttr(mpd: string, name: string): string | undefined {
  const root = /<MPD [^>]*>/.exec(mpd)?.[0] ?? '';
  return new RegExp(` ${name}="([^"]*)"`).exec(root)?.[1];
}

/**
 * Every segment the parser lists against the index, from `from` on: name, duration, time, init.
 * Video is listed as measured; audio on its segment grid, within one frame of its media.
 */
function assertListsIndex(p: MpdPlaylist, r: DashRendition, zeroMs: number): void {
  const { index, from, info } = r;
  const tolerance = info === AUDIO && r.segmentUs !== undefined ? FRAME_US / 1e6 : 0;
  assert.equal(p.segments.length, index.length - from, `${info.rendition}: segments a DASH player sees`);
  const discStarts: number[] = [];
  p.segments.forEach((s, k) => {
    const pos = from + k;
    const what = `${info.rendition} segment ${index.seqAt(pos)}`;
    assert.equal(s.uri, `${info.rendition}/${DASH_DIR}/${dashSegmentName(index.seqAt(pos))}`, `${what}: URL`);
    assert.ok(Math.abs(s.duration - index.durationUsAt(pos) / 1e6) <= tolerance + 1e-9,
      `${what}: ${s.duration} s, index says ${index.durationUsAt(pos) / 1e6} s`);
    const wall = (index.startMsAt(pos) - zeroMs) / 1000;
    assert.ok(Math.abs(s.presentationTime - wall) <= tolerance + 0.001,
      `${what}: a player puts it at ${s.presentationTime} s, the index at ${wall} s`);
    assert.equal(s.map?.uri, `${info.rendition}/${initName(index.discAt(pos))}`, `${what}: init segment`);
    if (k > 0 && index.discAt(pos) !== index.discAt(pos - 1)) discStarts.push(k);
  });
  assert.deepEqual(p.discontinuityStarts, discStarts, `${info.rendition}: a new Period at every discontinuity`);
}

/** The <S> elements of each SegmentTemplate, with its presentationTimeOffset and startNumber. */
function templates(mpd: string):
  Array<{ rep: string; pto: number; startNumber: number; init: string; s: Array<{ t?: number; d: number; r: number }> }> {
  const out = [];
  const re = /<Representation id="([^"]+)"[^>]*>\s*<SegmentTemplate ([^>]*)>\s*<SegmentTimeline>(.*?)<\/SegmentTimeline>/gs;
  for (const m of mpd.matchAll(re)) {
    const attrs = m[2] ?? '';
    const num = (name: string): number => Number(new RegExp(`${name}="(\\d+)"`).exec(attrs)?.[1]);
    const s = [...(m[3] ?? '').matchAll(/<S( t="(\d+)")? d="(\d+)"( r="(\d+)")?\/>/g)]
      .map((x) => ({ ...(x[2] !== undefined ? { t: Number(x[2]) } : {}), d: Number(x[3]), r: Number(x[5] ?? 0) }));
    out.push({ rep: m[1] ?? '', pto: num('presentationTimeOffset'), startNumber: num('startNumber'),
      init: /initialization="([^"]+)"/.exec(attrs)?.[1] ?? '', s });
  }
  return out;
}

/** The playlist of the (one) audio representation. */
function audioOf(p: ParsedMpd): MpdPlaylist {
  const group = Object.values(p.mediaGroups.AUDIO)[0];
  const list = group && Object.values(group)[0]?.playlists[0];
  assert.ok(list, 'the audio representation is an audio group');
  return list;
}

/** Each Period's id and start, in order. */
function periods(mpd: string): Array<{ id: string; start: string }> {
  return [...mpd.matchAll(/<Period id="([^"]+)" start="([^"]+)"/g)].map((m) => ({ id: m[1] ?? '', start: m[2] ?? '' }));
}

describe('DASH MPD rendering', () => {
  const video = event((n) => times(n, 2_000_000));
  const audio = event(aac);

  it('a live window is a dynamic MPD: availabilityStartTime at the event start, timeShiftBufferDepth = the window', () => {
    const mpd = renderMpd(input([live(video, VIDEO, WINDOW), live(audio, AUDIO, WINDOW)]));
    assert.equal(rootAttr(mpd, 'type'), 'dynamic');
    assert.equal(rootAttr(mpd, 'availabilityStartTime'), '2026-11-23T12:00:00.000Z');
    assert.equal(rootAttr(mpd, 'publishTime'), '2026-11-23T12:01:00.000Z');
    assert.equal(rootAttr(mpd, 'timeShiftBufferDepth'), 'PT50.000S', 'a player may seek back as far as the window');
    assert.equal(rootAttr(mpd, 'minimumUpdatePeriod'), 'PT2.000S');
    assert.equal(rootAttr(mpd, 'mediaPresentationDuration'), undefined, 'a live event has no duration yet');
    assert.match(mpd, /<\/Period>\n<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="\/_time"\/>\n<\/MPD>\n$/,
      'the clock of the edge that served it, after the Periods (the schema\'s order)');
    const p = read(mpd);
    assert.equal(p.minimumUpdatePeriod, 2000, 'the player reloads it every target duration');
    assert.equal(p.suggestedPresentationDelay, 6);
  });

  it('lists exactly the window\'s segments, at their wall-clock times, across a reconnect and a hole', () => {
    const rv = live(video, VIDEO, WINDOW);
    const ra = live(audio, AUDIO, WINDOW);
    assert.ok(rv.from > 0 && rv.from < 12, 'the window starts inside the first session');
    const p = read(renderMpd(input([rv, ra])));
    assert.equal(p.playlists.length, 1, 'one video representation');
    const list = p.playlists[0] as MpdPlaylist;
    assertListsIndex(list, rv, T0);
    const gapBefore = (k: number): number => {
      const prev = list.segments[k - 1];
      return (list.segments[k]?.presentationTime ?? NaN) - ((prev?.presentationTime ?? NaN) + (prev?.duration ?? NaN));
    };
    const [reconnect, hole] = list.discontinuityStarts;
    assert.ok(reconnect !== undefined && Math.abs(gapBefore(reconnect) - 6.5) < 0.001, 'the 6.5 s the encoder was away stays a gap');
    assert.ok(hole !== undefined && Math.abs(gapBefore(hole) - 2) < 0.001, 'the lost segment stays a 2 s gap');
    const group = Object.values(p.mediaGroups.AUDIO)[0];
    const audioList = group && Object.values(group)[0]?.playlists[0];
    assert.ok(audioList, 'the audio representation is an audio group');
    assertListsIndex(audioList, ra, T0);
    assert.deepEqual(p.timelineStarts.map((t) => t.start),
      [0, 1, 2].map((d) => (video.startMsAt(firstOfDisc(video, d)) - T0) / 1000),
      'each Period starts with its discontinuity\'s first segment, listed or not');
  });

  it('a copied camera whose video starts 0.76 s after its audio: the Period starts with the video, the audio\'s offset is its '
    + 'media time there, so a player puts every segment of both at its wall-clock time', () => {
    // One encoder session, one clock (the packager anchors the second rendition on the first's).
    const a = listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs: aac(10) }]);
    const v = listSessions([{ disc: 0, wallMs: T0 + 760, mediaUs: 760_000, durationsUs: times(10, 2_000_000) }]);
    const rv: DashRendition = { info: VIDEO, index: v, from: 0 };
    const ra: DashRendition = { info: AUDIO, index: a, from: 0 };
    const mpd = renderMpd(input([rv, ra], { windowSeconds: 0 }));
    assert.deepEqual(periods(mpd), [{ id: 'p0', start: 'PT0.760S' }]);
    assert.deepEqual(templates(mpd).map((t) => [t.rep, t.pto, t.s[0]?.t]), [['720p', 760_000, 760_000], ['audio', 760_000, 0]],
      'the same offset: both are at their media time 0.76 s when the Period starts');
    const p = read(mpd);
    assertListsIndex(p.playlists[0] as MpdPlaylist, rv, T0);
    assertListsIndex(audioOf(p), ra, T0);
  });

  it('an unbounded DVR (no window) lists everything and sets no timeShiftBufferDepth', () => {
    const r: DashRendition = { info: VIDEO, index: video, from: 0 };
    const mpd = renderMpd(input([r], { windowSeconds: 0 }));
    assert.equal(rootAttr(mpd, 'type'), 'dynamic');
    assert.equal(rootAttr(mpd, 'timeShiftBufferDepth'), undefined, 'absent means the whole event can be seeked');
    assertListsIndex(read(mpd).playlists[0] as MpdPlaylist, r, T0);
  });

  it('presentationTimeOffset is the media time where each discontinuity began, S@t and startNumber its first listed', () => {
    const rv = live(video, VIDEO, WINDOW);
    const ra = live(audio, AUDIO, WINDOW);
    const mpd = renderMpd(input([rv, ra]));
    const found = templates(mpd);
    assert.equal(found.length, 6, 'two representations in each of three Periods');
    for (const r of [rv, ra]) {
      const mine = found.filter((t) => t.rep === r.info.rendition);
      const firsts = [r.from, ...[1, 2].map((d) => firstOfDisc(r.index, d))];
      assert.deepEqual(mine.map((t) => t.pto), [0, 1, 2].map((d) => r.index.mediaStartUsAt(firstOfDisc(r.index, d))),
        `${r.info.rendition}: presentationTimeOffset`);
      mine.forEach((t, k) => {
        const media = r.index.mediaStartUsAt(firsts[k] ?? NaN);
        assert.ok(Math.abs((t.s[0]?.t ?? NaN) - media) <= (r === ra ? FRAME_US : 0),
          `${r.info.rendition}: S@t of the first listed segment is ${t.s[0]?.t}, its media starts at ${media}`);
      });
      assert.deepEqual(mine.map((t) => t.startNumber), firsts.map((pos) => r.index.seqAt(pos)), `${r.info.rendition}: startNumber`);
      assert.deepEqual(mine.map((t) => t.init), [0, 1, 2].map((d) => `${r.info.rendition}/${initName(d)}`));
      assert.ok(mine[1] && mine[1].pto === 1_400_000, 'the reconnected encoder\'s media time, not the first one\'s');
    }
  });

  it('a Period keeps its start and presentationTimeOffset as the window slides and the purge passes its first segment', () => {
    // Indexes of their own: this test purges them as the packager does.
    const v = event((n) => times(n, 2_000_000));
    const a = event(aac);
    const at = (from: number): { mpd: string; reps: DashRendition[] } => {
      const reps: DashRendition[] = [{ info: VIDEO, index: v, from }, { info: AUDIO, index: a, from, segmentUs: SEGMENT_US }];
      return { mpd: renderMpd(input(reps)), reps };
    };
    const fixed = (mpd: string): Array<{ id: string; start: string; pto: number[] }> => {
      const found = templates(mpd);
      return periods(mpd).map((x, k) => ({ ...x, pto: found.slice(2 * k, 2 * k + 2).map((t) => t.pto) }));
    };
    const first = at(2);
    assert.equal(periods(first.mpd)[0]?.start, 'PT0.000S', 'the first Period starts with the event, not the first listed segment');
    const expected = fixed(first.mpd);
    for (const from of [3, 4, 11]) {
      const { mpd, reps } = at(from);
      assert.deepEqual(fixed(mpd), expected, `window from position ${from}: the same Periods, at the same times`);
      const p = read(mpd);
      assertListsIndex(p.playlists[0] as MpdPlaylist, reps[0] as DashRendition, T0);
      assertListsIndex(audioOf(p), reps[1] as DashRendition, T0);
    }
    // The purge removes the first session and the reconnected encoder's first segment.
    const gone = firstOfDisc(v, 1) + 1;
    for (let k = 0; k < gone; k++) {
      v.shift();
      a.shift();
    }
    for (const from of [0, 2]) {
      const { mpd, reps } = at(from);
      assert.deepEqual(fixed(mpd), expected.slice(1), `purged, window from position ${from}: p0 gone, p1 and p2 unchanged`);
      const p = read(mpd);
      assertListsIndex(p.playlists[0] as MpdPlaylist, reps[0] as DashRendition, T0);
      assertListsIndex(audioOf(p), reps[1] as DashRendition, T0);
    }
  });

  it('maxSegmentDuration is at least the longest listed segment, rounded up to the millisecond', () => {
    const durationsUs = [2_000_000, 2_400_400, 1_600_000, 2_000_000];
    const index = listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs }]);
    const longer = renderMpd(input([{ info: VIDEO, index, from: 0 }], { windowSeconds: 0 }));
    assert.equal(rootAttr(longer, 'maxSegmentDuration'), 'PT2.401S', 'a 2.4004 s segment with a 2 s target');
    assert.equal(read(longer).playlists[0]?.segments.length, 4);
    const shorter = renderMpd(input([{ info: VIDEO, index, from: 2 }], { windowSeconds: 0 }));
    assert.equal(rootAttr(shorter, 'maxSegmentDuration'), 'PT2.000S', 'the target when no listed segment is longer');
  });

  it('an ended event without a recording lasts as long as the media it lists', () => {
    const index = listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs: times(10, 2_000_000) }]);
    const r: DashRendition = { info: VIDEO, index, from: 5 };
    const mpd = renderMpd(input([r], { ended: true }));
    assert.equal(rootAttr(mpd, 'type'), 'static');
    assert.equal(rootAttr(mpd, 'mediaPresentationDuration'), 'PT10.000S', 'five 2 s segments are listed');
    const p = read(mpd);
    assert.ok(Math.abs(p.duration - 10) < 0.001, `the seek bar spans ${p.duration} s`);
    const list = p.playlists[0] as MpdPlaylist;
    assertListsIndex(list, r, index.startMsAt(5));
    const last = list.segments[list.segments.length - 1];
    assert.ok(last && Math.abs(last.presentationTime + last.duration - p.duration) < 0.001,
      'the last segment ends the presentation');
  });

  it('folds runs of equal durations into one S with a repeat count, and a player expands them back', () => {
    const index = listSessions([{ disc: 0, wallMs: T0, mediaUs: 0,
      durationsUs: [...times(10, 2_000_000), 2_040_000, 1_960_000, ...times(5, 2_000_000)] }]);
    const r: DashRendition = { info: VIDEO, index, from: 0 };
    const mpd = renderMpd(input([r], { windowSeconds: 0 }));
    assert.deepEqual(templates(mpd)[0]?.s, [
      { t: 0, d: 2_000_000, r: 9 }, { d: 2_040_000, r: 0 }, { d: 1_960_000, r: 0 }, { d: 2_000_000, r: 4 }]);
    assertListsIndex(read(mpd).playlists[0] as MpdPlaylist, r, T0);
  });

  it('lists an audio rendition on its segment grid: one S per Period, each boundary within a frame of its media', () => {
    const ra = live(audio, AUDIO, WINDOW);
    const mine = templates(renderMpd(input([live(video, VIDEO, WINDOW), ra]))).filter((t) => t.rep === AUDIO.rendition);
    assert.equal(mine.length, 3);
    for (const t of mine) {
      assert.equal(t.s.length, 1, `one <S> for the Period's ${t.s.reduce((a, x) => a + x.r + 1, 0)} segments: ${JSON.stringify(t.s)}`);
      assert.equal(t.s[0]?.d, SEGMENT_US);
    }
    assertListsIndex(audioOf(read(renderMpd(input([live(video, VIDEO, WINDOW), ra])))), ra, T0);
    // 44.1 kHz cut every 1.5 s (1.509297, 1.509297, 1.486077, ... s, as ffmpeg's HLS muxer writes them).
    const durationsUs = audioCuts(40, 44_100, 1_500_000);
    assert.ok(new Set(durationsUs).size > 1, 'the measured durations differ');
    const index = listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs }]);
    const r: DashRendition = { info: AUDIO, index, from: 0, segmentUs: 1_500_000 };
    const mpd = renderMpd(input([r], { windowSeconds: 0, target: 2 }));
    assert.deepEqual(templates(mpd)[0]?.s, [{ t: 0, d: 1_500_000, r: 39 }]);
    const list = audioOf(read(mpd));
    list.segments.forEach((seg, k) => {
      const media = (index.startMsAt(k) - T0) / 1000;
      assert.ok(Math.abs(seg.presentationTime - media) <= (1024 / 44_100) + 0.001,
        `segment ${k}: listed ${seg.presentationTime} s, media ${media} s`);
    });
  });

  it('a week of segments is an MPD as small as an hour\'s, and one rendered as the segments arrived is the one rendered at once', () => {
    const hour = 1800;
    const week = 7 * 24 * hour;
    const build = (n: number): DashRendition[] => [
      { info: VIDEO, index: listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs: times(n, SEGMENT_US) }]), from: 0 },
      { info: AUDIO, index: listSessions([{ disc: 0, wallMs: T0, mediaUs: 0, durationsUs: audioCuts(n, 48_000, SEGMENT_US) }]),
        from: 0, segmentUs: SEGMENT_US },
    ];
    const unbounded = { windowSeconds: 0, publishMs: T0 };
    const small = renderMpd(input(build(hour), unbounded));
    const reps = build(week);
    const large = renderMpd(input(reps, unbounded));
    assert.ok(large.length < 5000, `a week's MPD is ${large.length} bytes`);
    assert.ok(large.length <= small.length + 16, `a week's MPD (${large.length} B) against an hour's (${small.length} B)`);
    assert.equal(read(large).playlists[0]?.segments.length, week, 'a player still finds every segment');

    // Grown one segment at a time and purged from the front as a window does, against the same
    // segments rendered at once (unpurged, listed from the same segment: the Period's origin is kept).
    const all = build(400);
    const grown = build(10);
    let purged = 0;
    for (let k = 10; k < 400; k++) {
      renderMpd(input(grown, unbounded));
      grown.forEach((r, i) => r.index.push((all[i] as DashRendition).index.at(k)));
      if (k % 7 === 0) {
        for (const r of grown) r.index.shift();
        purged++;
      }
    }
    const atOnce = all.map((r) => ({ ...r, from: purged }));
    assert.equal(renderMpd(input(grown, unbounded)), renderMpd(input(atOnce, unbounded)));
  });

  it('leaves missing time out: the Period before a gap ends where its media ends, the next starts at its own time', () => {
    const index = indexWithGap();
    const r: DashRendition = { info: VIDEO, index, from: 0 };
    const mpd = renderMpd(input([r], { windowSeconds: 0 }));
    const found = templates(mpd);
    assert.deepEqual(found.map((t) => [t.startNumber, t.s]),
      [[0, [{ t: 0, d: 2_000_000, r: 3 }]], [7, [{ t: 500_000, d: 2_000_000, r: 3 }]]],
      'the gap entries (5 s, sequence numbers 4-6) are not listed');
    assert.deepEqual(periods(mpd).map((p) => p.start), ['PT0.000S', 'PT13.000S'], 'the second Period at its wall-clock time');
    const list = read(mpd).playlists[0] as MpdPlaylist;
    assert.deepEqual(list.segments.map((s) => s.uri.replace(/^.*\//, '')), [0, 1, 2, 3, 7, 8, 9, 10].map(dashSegmentName));
  });

  it('an ended recording is a static MPD of the whole event, from 0, its duration to the last segment\'s end', () => {
    const rv: DashRendition = { info: VIDEO, index: video, from: 0 };
    const ra: DashRendition = { info: AUDIO, index: audio, from: 0, segmentUs: SEGMENT_US };
    const mpd = renderMpd(input([rv, ra], { ended: true }));
    assert.equal(rootAttr(mpd, 'type'), 'static');
    for (const live of ['availabilityStartTime', 'publishTime', 'minimumUpdatePeriod', 'timeShiftBufferDepth']) {
      assert.equal(rootAttr(mpd, live), undefined, `a VOD MPD has no ${live}`);
    }
    const endSec = (video.endMsAt(video.length - 1) - T0) / 1000;
    assert.equal(rootAttr(mpd, 'mediaPresentationDuration'), `PT${endSec.toFixed(3)}S`);
    const p = read(mpd);
    assert.ok(p.endList, 'the player treats it as VOD');
    assert.ok(Math.abs(p.duration - endSec) < 0.001, `the seek bar spans ${p.duration} s, the event ${endSec} s`);
    const list = p.playlists[0] as MpdPlaylist;
    assertListsIndex(list, rv, T0);
    const last = list.segments[list.segments.length - 1];
    assert.ok(last && Math.abs(last.presentationTime + last.duration - p.duration) < 0.001, 'the last segment ends the presentation');
    assert.equal(p.timelineStarts[0]?.start, 0);
  });

  it('an audio-only stream has one audio AdaptationSet and nothing for video', () => {
    const r: DashRendition = { info: AUDIO, index: audio, from: 0, segmentUs: SEGMENT_US };
    const mpd = renderMpd(input([r], { windowSeconds: 0 }));
    assert.doesNotMatch(mpd, /contentType="video"| width=| height=| frameRate=/);
    assert.equal(mpd.match(/<AdaptationSet id="1" contentType="audio" [^>]*mimeType="audio\/mp4"/g)?.length, 3, 'one per Period');
    const p = read(mpd);
    assert.equal(p.playlists.length, 0, 'no video representation');
    const group = Object.values(p.mediaGroups.AUDIO)[0];
    const list = group && Object.values(group)[0]?.playlists[0];
    assert.ok(list, 'the player finds the audio');
    assert.equal(list.attributes.CODECS, 'mp4a.40.2');
    assert.equal(list.attributes.BANDWIDTH, 128_000);
    assertListsIndex(list, r, T0);
  });

  it('describes each video representation as the master playlist does', () => {
    const low: VariantInfo = { ...VIDEO, rendition: '360p', bandwidth: 800_000, width: 640, height: 360, frameRate: 25 };
    const mpd = renderMpd(input([{ info: VIDEO, index: video, from: 0 }, { info: low, index: video, from: 0 }], { windowSeconds: 0 }));
    const p = read(mpd);
    const byName = new Map(p.playlists.map((x) => [x.attributes.NAME, x.attributes]));
    assert.deepEqual(byName.get('720p')?.RESOLUTION, { width: 1280, height: 720 });
    assert.equal(byName.get('720p')?.BANDWIDTH, 2_500_001, 'bandwidth rounded up, as BANDWIDTH is');
    assert.equal(byName.get('720p')?.CODECS, 'avc1.64001f');
    assert.equal(byName.get('720p')?.['FRAME-RATE'], 25);
    assert.deepEqual(byName.get('360p')?.RESOLUTION, { width: 640, height: 360 });
    assert.equal(mpd.match(/<AdaptationSet id="0" contentType="video"/g)?.length, 3, 'both in one AdaptationSet per Period');
  });
});
