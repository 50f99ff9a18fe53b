import assert from 'node:assert/strict';
import { placeSegment, type Arrival, type Placement, type RenditionTail } from '../../packager/index/placement.js';

const T0 = 1_800_000_000_000;
const empty: RenditionTail = { last: undefined, nextSeq: 0, lastDisc: -1, session: undefined, lastN: undefined, holePending: false,
  takenOver: false, target: 2, gapLimitMs: 36_000 };
const seg = (over: Partial<Arrival> = {}): Arrival => ({ session: 'sa', n: 0, arrivedMs: T0 + 2000, durationUs: 2_000_000,
  mediaStartUs: 0, ...over });

function listed(p: Placement): Extract<Placement, { kind: 'list' }> {
  assert.equal(p.kind, 'list');
  return p as Extract<Placement, { kind: 'list' }>;
}

/** The tail after listing `p`, as the rendition would hold it. */
function after(t: RenditionTail, p: Placement, n: number): RenditionTail {
  const l = listed(p);
  return { ...t, last: { endMs: l.record.startMs + l.record.durationUs / 1000, disc: l.record.disc, mediaStartUs: l.record.mediaStartUs,
    durationUs: l.record.durationUs }, nextSeq: l.record.seq + 1, lastDisc: l.record.disc, session: l.session, lastN: n, holePending: false,
  takenOver: false };
}

describe('placing a segment in the timeline', () => {
  it('the first segment of a stream starts a session, discontinuity 0, at its arrival less its duration', () => {
    const p = listed(placeSegment(empty, seg()));
    assert.deepEqual(p.record, { seq: 0, startMs: T0, durationUs: 2_000_000, disc: 0, mediaStartUs: 0 });
    assert.deepEqual([p.newSession, p.initFrom, p.session.anchorWallMs], [true, 'incoming', T0]);
  });

  it('a rendition that joins a session another one follows takes its clock: its first segment sits by its media time', () => {
    // The audio's first segment (media 0) arrived first; the video's starts 0.76 s later in media time.
    const clock = listed(placeSegment(empty, seg())).session;
    const p = listed(placeSegment(empty, seg({ mediaStartUs: 760_000, arrivedMs: T0 + 5000, clock })));
    assert.equal(p.record.startMs, T0 + 760, 'by the shared clock, not at its own arrival less its duration');
    assert.deepEqual([p.session.anchorWallMs, p.session.anchorMediaUs, p.newSession], [T0, 0, true]);
  });

  it('the next segment of the session follows by its media time, not by when it arrived', () => {
    const t = after(empty, placeSegment(empty, seg()), 0);
    const p = listed(placeSegment(t, seg({ n: 1, mediaStartUs: 2_000_000, arrivedMs: T0 + 9000 })));
    assert.deepEqual([p.record.seq, p.record.startMs, p.record.disc, p.newSession, p.initFrom], [1, T0 + 2000, 0, false, undefined]);
    assert.equal(p.session, t.session, 'the same session, not a new anchor');
  });

  it('a missing file number or a jump in media time is a hole: a new discontinuity, the init linked', () => {
    const t = after(empty, placeSegment(empty, seg()), 0);
    const missing = listed(placeSegment(t, seg({ n: 2, mediaStartUs: 4_000_000 })));
    assert.deepEqual([missing.record.disc, missing.initFrom], [1, 'link']);
    const jump = listed(placeSegment(t, seg({ n: 1, mediaStartUs: 9_000_000 })));
    assert.deepEqual([jump.record.disc, jump.initFrom, jump.record.startMs], [1, 'link', T0 + 9000]);
    const rejected = listed(placeSegment({ ...t, holePending: true }, seg({ n: 1, mediaStartUs: 2_000_000 })));
    assert.equal(rejected.record.disc, 1, 'a rejected segment before it');
  });

  it('timestamps that go back without a reconnect re-anchor at the live edge: wall time never goes back', () => {
    const t = after(empty, placeSegment(empty, seg({ mediaStartUs: 50_000_000 })), 0);
    const p = listed(placeSegment(t, seg({ n: 1, mediaStartUs: 0 })));
    assert.deepEqual([p.record.startMs, p.record.disc], [T0 + 2000, 1]);
    assert.notEqual(p.session, t.session);
    assert.deepEqual([p.session.anchorWallMs, p.session.anchorMediaUs], [T0 + 2000, 0]);
  });

  it('a reconnect is a new session and a new discontinuity, anchored at its own arrival but never before the last end', () => {
    const t = after(empty, placeSegment(empty, seg()), 0);
    const later = listed(placeSegment(t, seg({ session: 'sb', arrivedMs: T0 + 30_000, mediaStartUs: 7_000_000 })));
    assert.deepEqual([later.newSession, later.initFrom, later.record.disc, later.record.startMs], [true, 'incoming', 1, T0 + 28_000]);
    const early = listed(placeSegment(t, seg({ session: 'sb', arrivedMs: T0 + 2500 })));
    assert.equal(early.record.startMs, T0 + 2000, 'not before the end of what is listed');
  });

  it('a session registered before a failure keeps its discontinuity number', () => {
    const session = { session: 'sa', disc: 3, anchorWallMs: T0, anchorMediaUs: 0 };
    const p = listed(placeSegment({ ...empty, lastDisc: 2, session, lastN: undefined }, seg()));
    assert.deepEqual([p.record.disc, p.newSession, p.initFrom], [3, false, undefined]);
  });

  it('taking a stream over, time the previous writer listed already is superseded; newer media is listed', () => {
    const t = { ...after(empty, placeSegment(empty, seg()), 0), takenOver: true, session: undefined };
    assert.deepEqual(placeSegment(t, seg({ session: 'sx', arrivedMs: T0 - 5000 })), { kind: 'superseded' });
    const fresh = listed(placeSegment(t, seg({ session: 'sx', arrivedMs: T0 + 6000 })));
    assert.deepEqual([fresh.record.seq, fresh.record.disc, fresh.gaps.length], [2, 1, 1], 'the takeover\'s 2 s are a gap entry');
    assert.equal(placeSegment({ ...t, takenOver: false }, seg({ session: 'sx', arrivedMs: T0 - 5000 })).kind, 'list',
      'without a takeover an early arrival is listed (a fast encoder)');
  });

  it('missing time before a new discontinuity is listed as gap entries of the one before, at most the target each', () => {
    const t = after(empty, placeSegment(empty, seg()), 0);
    const rejected = listed(placeSegment({ ...t, holePending: true }, seg({ n: 2, mediaStartUs: 4_000_000 })));
    assert.deepEqual(rejected.gaps, [{ seq: 1, startMs: T0 + 2000, durationUs: 2_000_000, disc: 0, mediaStartUs: 2_000_000, gap: true }],
      'the rejected segment\'s 2 s');
    assert.deepEqual([rejected.record.seq, rejected.record.startMs, rejected.record.disc], [2, T0 + 4000, 1]);

    const back = listed(placeSegment(t, seg({ session: 'sb', arrivedMs: T0 + 11_000, mediaStartUs: 0 })));
    assert.equal(back.record.startMs, T0 + 9000, 'the encoder was gone 7 s');
    assert.deepEqual(back.gaps.map((g) => [g.seq, g.startMs - T0, g.durationUs, g.disc, g.mediaStartUs]), [
      [1, 2000, 1_750_000, 0, 2_000_000], [2, 3750, 1_750_000, 0, 3_750_000], [3, 5500, 1_750_000, 0, 5_500_000],
      [4, 7250, 1_750_000, 0, 7_250_000]], 'four equal entries, the wall-clock and the media time continuous');
    assert.deepEqual([back.record.seq, back.record.disc], [5, 1]);

    const late = listed(placeSegment(t, seg({ session: 'sb', arrivedMs: T0 + 60_000 })));
    assert.deepEqual([late.gaps, late.record.seq], [[], 1], 'gone longer than the reconnect grace: a discontinuity only');
    const jitter = listed(placeSegment(t, seg({ session: 'sb', arrivedMs: T0 + 4300 })));
    assert.deepEqual(jitter.gaps, [], 'a reconnect 0.3 s after the last end is no missing media');
    const next = listed(placeSegment(t, seg({ n: 1, mediaStartUs: 2_000_000, arrivedMs: T0 + 9000 })));
    assert.deepEqual(next.gaps, [], 'a late segment of the same session is no gap');
  });

  it('after gap entries comes a new discontinuity, though the media goes on where they end (a crash between them and it)', () => {
    const t = after(empty, placeSegment(empty, seg()), 0);
    const withGap: RenditionTail = { ...t, nextSeq: 2, last: { endMs: T0 + 4000, disc: 0, mediaStartUs: 2_000_000, durationUs: 2_000_000,
      gap: true } };
    const p = listed(placeSegment(withGap, seg({ n: 2, mediaStartUs: 4_000_000, arrivedMs: T0 + 6000 })));
    assert.deepEqual([p.record.seq, p.record.disc, p.gaps.length], [2, 1, 0]);
  });
});
