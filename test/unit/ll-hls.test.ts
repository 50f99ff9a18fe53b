import assert from 'node:assert/strict';
import { parse, setOptions, types } from 'hls-parser';
import { SegmentIndex } from '../../packager/index/segment-index.js';
import { lastPosition, listableParts, renderLlPlaylist, satisfies, type LlRendition } from '../../packager/render/ll-hls.js';
import { answerLlPlaylist, answerPart, parseLlQuery, type LlSource } from '../../packager/live-edge.js';
import type { LivePart } from '../../packager/parts/parts.js';
import { partName } from '../../packager/layout.js';

const part = (n: number, k: number, last = false): LivePart => ({ name: partName('s1', n, k), k, durationUs: last ? 80_000 : 480_000,
  independent: k === 0, data: Buffer.from(`${n}.${k}`) });
const partsOfSegment = (n: number): LivePart[] => [0, 1, 2, 3, 4].map((k) => part(n, k, k === 4));

/** `segments` listed 2 s segments (seq = n), parts held for all, `current` parts of the next one. */
function rendition(segments: number, current: number): LlRendition {
  const index = new SegmentIndex();
  for (let i = 0; i < segments; i++) {
    index.push({ seq: i, startMs: 1_700_000_000_000 + i * 2000, durationUs: 2_000_000, disc: 0, mediaStartUs: i * 2_000_000, bytes: 10 });
  }
  return {
    input: { index, from: 0, ext: 'm4s', target: 2, kind: 'live', ended: false, canSkipUntil: 12, chunkedBelow: 0,
      initUri: (d) => `init_${d}.mp4`, lowLatency: { partTarget: 0.5, partHoldBack: 1.5 } },
    partsOf: (seq) => partsOfSegment(seq), current: [0, 1, 2].slice(0, current).map((k) => part(segments, k)),
    hint: partName('s1', segments, current),
  };
}

describe('low-latency HLS playlists (RFC 8216bis)', () => {
  before(() => setOptions({ strictMode: true }));
  after(() => setOptions({ strictMode: false }));

  it('lists the newest segments\' parts before their entries, the parts being encoded, the next part\'s hint and the other '
    + 'renditions; hls-parser (strict) reads it', () => {
    const text = renderLlPlaylist(rendition(10, 2), false, [{ uri: '../audio/index.m3u8', lastMsn: 10, lastPart: 1 }]);
    const p = parse(text);
    assert.ok(p instanceof types.MediaPlaylist);
    assert.equal(p.segments.length, 11, '10 segments and the one being encoded');
    assert.deepEqual(p.segments.map((s) => s.parts.length), [0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 3], 'parts for the newest segments only');
    assert.match(text, /#EXT-X-PART:DURATION=0\.08000,URI="part_s1_9_4\.m4s"\n#EXTINF:2\.000000,\n000000009_/);
    assert.match(text, /#EXT-X-PART:DURATION=0\.48000,URI="part_s1_10_0\.m4s",INDEPENDENT=YES\n/);
    assert.ok(text.endsWith('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_s1_10_2.m4s"\n'
      + '#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=10,LAST-PART=1\n'), text.slice(-300));
    assert.deepEqual(lastPosition(rendition(10, 2)), { msn: 10, part: 1 });
    assert.deepEqual(lastPosition(rendition(10, 0)), { msn: 9, part: 4 });
  });

  it('a segment\'s short tail part is held back until its segment is listed: strict parsers take a short part before the '
    + 'EXTINF for a violation of the 85 % rule', () => {
    const all = partsOfSegment(20);
    const held = listableParts(all, 0.5);
    assert.equal(held.heldBack, true);
    assert.deepEqual(held.parts.map((p) => p.k), [0, 1, 2, 3]);
    assert.equal(listableParts(all.slice(0, 3), 0.5).heldBack, false, 'whole parts are listed as they come');
    assert.equal(listableParts([], 0.5).parts.length, 0);
    // The segment being encoded with its tail (cut, its segment not listed yet): refused as it was, read once held back.
    const r = rendition(20, 0);
    assert.throws(() => parse(renderLlPlaylist({ ...r, current: all, hint: partName('s1', 21, 0) }, false, [])), /85%/);
    assert.ok(parse(renderLlPlaylist({ ...r, current: held.parts, hint: partName('s1', 20, 4) }, false, [])));
  });

  it('a delta update skips what is older than CAN-SKIP-UNTIL and keeps the parts; an ended event has no parts, no hint', () => {
    const text = renderLlPlaylist(rendition(20, 1), true, []);
    const p = parse(text) as types.MediaPlaylist;
    assert.match(text, /^#EXT-X-SKIP:SKIPPED-SEGMENTS=14$/m);
    assert.equal(p.segments.filter((s) => s.parts.length > 0).length, 3);
    const ended = rendition(5, 2);
    ended.input.ended = true;
    const done = renderLlPlaylist(ended, false, []);
    assert.doesNotMatch(done, /#EXT-X-PART:|PRELOAD-HINT|SERVER-CONTROL|RENDITION-REPORT/);
    assert.match(done, /#EXT-X-ENDLIST\n$/);
  });

  it('a blocking request is satisfied by its segment, or its part; a part past a segment\'s last is the next one\'s first', () => {
    const r = rendition(10, 2);
    assert.equal(satisfies(r, 9, undefined), true);
    assert.equal(satisfies(r, 10, undefined), false, 'segment 10 is not complete');
    assert.equal(satisfies(r, 10, 1), true);
    assert.equal(satisfies(r, 10, 2), false, 'the hinted part');
    assert.equal(satisfies(r, 9, 5), true, 'part 5 of 9 (it has 5) is part 0 of 10, which exists');
    assert.equal(satisfies(rendition(10, 0), 9, 5), false, 'not before part 0 of 10 exists');
  });

  it('delivery directives: _HLS_part alone and malformed numbers are refused, naming the directive', () => {
    assert.deepEqual(parseLlQuery(new URLSearchParams('_HLS_msn=12&_HLS_part=3&_HLS_skip=YES')), { msn: 12, part: 3, skip: true });
    assert.deepEqual(parseLlQuery(new URLSearchParams('')), { skip: false });
    assert.deepEqual(parseLlQuery(new URLSearchParams('_HLS_part=1')), { error: '_HLS_part without _HLS_msn' });
    assert.match((parseLlQuery(new URLSearchParams('_HLS_msn=-1')) as { error: string }).error, /^_HLS_msn=-1: /);
  });
});

/** A stream whose state the test moves on, as the packager's parts and listings do. */
function source(initial: LlRendition): LlSource & { set: (r: LlRendition) => void; listeners: () => number } {
  let current = initial;
  let changes = 0;
  const listeners = new Set<() => void>();
  return {
    ended: false, lowLatency: true, get changes() { return changes; },
    llRendition: () => current, renditionReports: () => [],
    part: (_r, name) => current.current.find((p) => p.name === name)?.data ?? (name === current.hint ? 'coming' : 'never'),
    onChange: (l) => { listeners.add(l); return () => { listeners.delete(l); }; },
    set: (r) => { current = r; changes++; for (const l of [...listeners]) l(); },
    listeners: () => listeners.size,
  };
}

describe('the live edge\'s blocking reloads', () => {
  it('holds a request until its part exists (no polling: a listener), answers every waiter of one state with the same bytes, '
    + 'refuses what is too far ahead, and gives up after its time (503)', async () => {
    const src = source(rendition(10, 1));
    const waiting = [0, 1, 2].map(() => answerLlPlaylist(src, 'r', { msn: 10, part: 1, skip: false }, 5000));
    await new Promise((r) => setImmediate(r));
    assert.equal(src.listeners(), 3, 'three waiting requests, three listeners');
    src.set(rendition(10, 2));
    const answers = await Promise.all(waiting);
    assert.ok(answers.every((x) => x.status === 200));
    const bodies = answers.map((x) => (x.status === 200 ? x.body : undefined));
    assert.ok(bodies[0] === bodies[1] && bodies[1] === bodies[2], 'rendered once for all of them');
    assert.equal(src.listeners(), 0, 'nothing left listening');
    assert.equal((await answerLlPlaylist(src, 'r', { msn: 12, skip: false }, 5000)).status, 400,
      'more than two segments past the last complete one');
    assert.equal((await answerLlPlaylist(src, 'r', { msn: 11, skip: false }, 50)).status, 503, 'not in time');
    const left = new AbortController();
    const gone = answerLlPlaylist(src, 'r', { msn: 11, skip: false }, 5000, left.signal);
    left.abort();
    assert.equal((await gone).status, 404);
    assert.equal(src.listeners(), 0, 'a client that left is forgotten');
  });

  it('the hinted part is answered once it is cut; one that will not come is a 404', async () => {
    const src = source(rendition(10, 1));
    const hinted = answerPart(src, 'r', partName('s1', 10, 1), 5000);
    src.set(rendition(10, 2));
    const got = await hinted;
    assert.equal(got.status, 200);
    assert.equal(got.status === 200 ? got.body.toString() : '', '10.1');
    assert.equal((await answerPart(src, 'r', partName('s1', 3, 9), 5000)).status, 404);
  });
});
