import assert from 'node:assert/strict';
import type { SegmentRecord } from '../../packager/layout.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** A segment whose every field is derived from its sequence, so a mix-up of slots shows. */
function rec(seq: number, disc = 0): SegmentRecord {
  return { seq, startMs: T0 + seq * 2000, durationUs: 2_000_000 + seq, disc, mediaStartUs: 10_000_000 + seq * 2_000_000,
    bytes: 1000 + seq };
}

function filled(from: number, count: number): SegmentIndex {
  const index = new SegmentIndex();
  for (let s = from; s < from + count; s++) index.push(rec(s));
  return index;
}

/** Every position read back through each accessor, against the record it was given. */
function assertHolds(index: SegmentIndex, firstSeq: number, count: number): void {
  assert.equal(index.length, count, 'segments kept');
  assert.equal(index.firstSequence, firstSeq, 'oldest sequence kept');
  assert.equal(index.nextSequence, firstSeq + count, 'sequence the next segment gets');
  for (let p = 0; p < count; p++) {
    const want = rec(firstSeq + p);
    assert.deepEqual(index.at(p), want, `position ${p} reads back segment ${want.seq}`);
    assert.equal(index.seqAt(p), want.seq);
    assert.equal(index.startMsAt(p), want.startMs);
    assert.equal(index.durationUsAt(p), want.durationUs);
    assert.equal(index.endMsAt(p), want.startMs + want.durationUs / 1000);
    assert.equal(index.discAt(p), want.disc);
    assert.equal(index.bytesAt(p), want.bytes);
    assert.equal(index.mediaStartUsAt(p), want.mediaStartUs);
    assert.equal(index.posOf(want.seq), p, `posOf(${want.seq})`);
  }
}

describe('DVR segment index', () => {
  it('starts empty, and takes any sequence for its first segment', () => {
    const index = new SegmentIndex();
    assert.equal(index.length, 0);
    assert.equal(index.posOf(0), -1, 'an empty index holds nothing');
    index.push(rec(1234));
    assertHolds(index, 1234, 1);
  });

  it('reads back every field of every segment by position', () => {
    assertHolds(filled(7, 20), 7, 20);
  });

  it('ends a segment at its start plus its measured duration, to the microsecond', () => {
    const index = new SegmentIndex();
    index.push({ seq: 0, startMs: T0, durationUs: 1_999_999, disc: 0, mediaStartUs: 0, bytes: 1 });
    assert.equal(index.endMsAt(0), T0 + 1999.999);
  });

  it('refuses a segment out of order (a gap or a repeat), naming the sequence it expected', () => {
    const index = filled(10, 3);
    assert.throws(() => index.push(rec(14)), /segment 14 out of order, expected 13/);
    assert.throws(() => index.push(rec(12)), /segment 12 out of order, expected 13/);
    assert.throws(() => index.push(rec(0)), /expected 13/);
    assertHolds(index, 10, 3);
  });

  it('keeps discontinuity numbers per segment', () => {
    const index = new SegmentIndex();
    [0, 0, 1, 1, 1, 4].forEach((d, s) => index.push(rec(s, d)));
    assert.deepEqual(Array.from({ length: index.length }, (_v, p) => index.discAt(p)), [0, 0, 1, 1, 1, 4]);
    index.shift();
    index.shift();
    assert.equal(index.discAt(0), 1, 'after purging, position 0 is the oldest kept segment');
  });

  it('grows past its initial capacity without losing or reordering a segment', () => {
    const index = filled(0, 10_000);
    assertHolds(index, 0, 10_000);
  });

  it('grows correctly when its ring has wrapped (oldest entries no longer at slot 0)', () => {
    const index = filled(0, 64);
    for (let i = 0; i < 40; i++) index.shift();
    // 24 kept, the ring's head at slot 40: the next 40 pushes wrap, the 41st grows it.
    for (let s = 64; s < 64 + 41; s++) index.push(rec(s));
    assertHolds(index, 40, 65);
    for (let s = 105; s < 300; s++) index.push(rec(s));
    assertHolds(index, 40, 260);
  });

  it('shifts the oldest segment off, many times over, while new ones arrive', () => {
    const index = new SegmentIndex();
    let next = 500;
    for (let round = 0; round < 2000; round++) {
      index.push(rec(next++));
      index.push(rec(next++));
      if (index.length > 30) {
        index.shift();
        index.shift();
      }
    }
    assertHolds(index, next - index.length, index.length);
    assert.ok(index.length <= 31, `a sliding window of ~30 kept ${index.length}`);
    for (let k = index.length; k > 0; k--) index.shift();
    assert.equal(index.length, 0);
    assert.equal(index.firstSequence, next, 'emptied by purging, it still knows what comes next');
    assert.equal(index.nextSequence, next);
  });

  it('shifting an empty index does nothing', () => {
    const index = new SegmentIndex();
    index.shift();
    assert.equal(index.length, 0);
    assert.equal(index.firstSequence, 0);
    index.push(rec(3));
    index.shift();
    index.shift();
    assert.equal(index.length, 0);
    assert.equal(index.firstSequence, 4, 'an extra shift must not advance past what was held');
  });

  it('an index emptied by purging takes the next sequence, or any other after a rebuild', () => {
    const index = filled(0, 5);
    for (let i = 0; i < 5; i++) index.shift();
    index.push(rec(5));
    assertHolds(index, 5, 1);
    index.shift();
    index.push(rec(900));
    assertHolds(index, 900, 1);
  });

  it('posOf answers -1 for sequences purged, not yet arrived, or never valid', () => {
    const index = filled(100, 50);
    for (let i = 0; i < 10; i++) index.shift();
    assert.equal(index.posOf(110), 0);
    assert.equal(index.posOf(149), 39);
    for (const missing of [0, 99, 100, 109, 150, 151, -1, 1e12]) {
      assert.equal(index.posOf(missing), -1, `segment ${missing} is not in the index`);
    }
  });
});
