import assert from 'node:assert/strict';
import {
  CHUNK_SIZE, renderChunk, renderDeltaPlaylist, renderMediaPlaylist, type MediaPlaylistInput,
} from '../../packager/render/hls.js';
import { renderMaster } from '../../packager/render/master.js';
import { windowHead } from '../../packager/index/window.js';
import { parsePlaylist } from '../support/m3u8.js';
import { indexWithGap, makeIndex, T0 } from '../support/index-fixture.js';

function input(over: Partial<MediaPlaylistInput> & Pick<MediaPlaylistInput, 'index'>): MediaPlaylistInput {
  return { from: 0, ext: 'ts', target: 2, kind: 'live', ended: false, canSkipUntil: 0, chunkedBelow: 0, ...over };
}

describe('media playlist rendering', () => {
  it('unbounded DVR is an EVENT playlist from sequence 0 with wall-clock time', () => {
    const index = makeIndex(10);
    const p = parsePlaylist(renderMediaPlaylist(input({ index, kind: 'event' })));
    assert.equal(p.playlistType, 'EVENT');
    assert.equal(p.mediaSequence, 0);
    assert.equal(p.segments.length, 10);
    assert.equal(p.targetDuration, 2);
    assert.equal(p.segments[0]?.programDateTime, T0);
    assert.equal(p.endList, false);
  });

  it('a sliding window advances MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE as a discontinuity slides out', () => {
    const index = makeIndex(30, 2, [5, 12]);
    const settings = { windowSeconds: 20, recording: false, storageCapBytes: 0 };
    const head = windowHead(index, 0, settings.windowSeconds, 2);
    const p = parsePlaylist(renderMediaPlaylist(input({ index, from: head })));
    assert.equal(p.playlistType, undefined, 'a sliding window must not claim EVENT');
    assert.equal(p.mediaSequence, head);
    assert.ok(head > 12, 'both discontinuities have left the window');
    assert.equal(p.discontinuitySequence, 2);
    assert.ok(p.segments.every((s) => s.discSeq === 2));
    const listed = p.segments.reduce((a, s) => a + s.duration, 0);
    assert.ok(listed >= 20 && listed <= 22, `window lists ${listed}s`);
  });

  it('marks every encoder reconnect with DISCONTINUITY and a fresh PROGRAM-DATE-TIME', () => {
    const index = makeIndex(10, 2, [4]);
    const p = parsePlaylist(renderMediaPlaylist(input({ index })));
    const d = p.segments.filter((s) => s.discontinuity);
    assert.equal(d.length, 1);
    assert.equal(d[0]?.seq, 4);
    assert.equal(d[0]?.programDateTime, T0 + 8000 + 5000, 'the 5 s outage is visible in wall-clock time');
    assert.equal(p.segments[4]?.discSeq, 1);
  });

  it('lists missing time as EXT-X-GAP entries: the wall-clock timeline stays continuous, a player skips them', () => {
    const index = indexWithGap();
    for (const ext of ['ts', 'm4s'] as const) {
      const initUri = ext === 'm4s' ? { initUri: (d: number): string => `init_${d}.mp4` } : {};
      const text = renderMediaPlaylist(input({ index, ext, kind: 'event', ...initUri }));
      const p = parsePlaylist(text);
      assert.equal(p.version, 8, 'EXT-X-GAP needs version 8');
      assert.deepEqual(p.segments.map((s) => s.gap), [false, false, false, false, true, true, true, false, false, false, false]);
      assert.deepEqual(p.segments.map((s) => s.discontinuity), [false, false, false, false, false, false, false, true, false, false, false],
        'the gap continues the session before it; the new session is the discontinuity');
      p.segments.slice(1).forEach((s, k) => {
        const prev = p.segments[k];
        assert.ok(prev && Math.abs((s.wallStart ?? NaN) - ((prev.wallStart ?? NaN) + prev.duration * 1000)) < 1,
          `${ext} entry ${k + 1} starts where the one before ends`);
      });
      assert.deepEqual(p.segments.slice(4, 7).map((s) => s.uri.slice(0, 9)), ['000000004', '000000005', '000000006'],
        'a gap entry has a name of its own, of no stored media: a player that fetches it anyway gets a 404 and goes on');
      assert.equal(p.segments[7]?.programDateTime, T0 + 13_000, 'the new session carries its own PROGRAM-DATE-TIME');
      if (ext === 'm4s') assert.deepEqual([p.segments[4]?.map, p.segments[7]?.map], ['init_0.mp4', 'init_1.mp4']);
    }
    assert.equal(parsePlaylist(renderMediaPlaylist(input({ index: makeIndex(4) }))).version, 3, 'no gap, no version 8');
  });

  it('is never shorter than three target durations', () => {
    const index = makeIndex(10, 2);
    const head = windowHead(index, 0, 1, 2);
    const p = parsePlaylist(renderMediaPlaylist(input({ index, from: head })));
    assert.ok(p.segments.reduce((a, s) => a + s.duration, 0) >= 6);
  });

  it('ends with ENDLIST, and a recording becomes a VOD playlist of the whole event', () => {
    const index = makeIndex(8);
    const p = parsePlaylist(renderMediaPlaylist(input({ index, kind: 'vod', ended: true })));
    assert.equal(p.playlistType, 'VOD');
    assert.ok(p.endList);
    assert.equal(p.segments.length, 8);
  });

  it('fMP4 playlists carry EXT-X-MAP per discontinuity', () => {
    const index = makeIndex(6, 2, [3]);
    const p = parsePlaylist(renderMediaPlaylist(input({ index, ext: 'm4s', initUri: (d) => `init_${d}.mp4` })));
    assert.equal(p.segments[0]?.map, 'init_0.mp4');
    assert.equal(p.segments[3]?.map, 'init_1.mp4');
    assert.ok((p.version ?? 0) >= 6);
  });

  it('delta updates skip what is older than CAN-SKIP-UNTIL and merge back to the full playlist', () => {
    const index = makeIndex(100, 2);
    const inp = input({ index, kind: 'event', canSkipUntil: 12 });
    const full = parsePlaylist(renderMediaPlaylist(inp));
    const delta = parsePlaylist(renderDeltaPlaylist(inp));
    assert.equal(full.canSkipUntil, 12);
    assert.equal(full.version, 9);
    assert.ok(delta.skipped > 0);
    assert.ok(delta.segments.length <= 7, `delta lists ${delta.segments.length}`);
    assert.deepEqual(delta.segments.map((s) => s.uri), full.segments.slice(delta.skipped).map((s) => s.uri));
    assert.equal(delta.segments[0]?.seq, full.segments[delta.skipped]?.seq);
  });

  it('stitches complete chunks with SSI includes whose content equals the inline rendering', () => {
    const index = makeIndex(CHUNK_SIZE * 3 + 17, 2, [CHUNK_SIZE + 5]);
    const inp = input({ index, kind: 'event' });
    const inline = renderMediaPlaylist(inp);
    const chunked = renderMediaPlaylist({ ...inp, chunkedBelow: CHUNK_SIZE * 3 });
    assert.equal(parsePlaylist(chunked).ssiIncludes, 2, 'chunk 0 holds the first segment and stays inline');
    const expanded = chunked.replace(/<!--# include virtual="chunks\/(\d+)\.m3u8" -->\n/g,
      (_m, seq: string) => renderChunk(inp, Number(seq)));
    assert.equal(expanded, inline);
  });
});

describe('master playlist', () => {
  it('lists variants by bandwidth with measured attributes', () => {
    const text = renderMaster([
      { rendition: 'low', bandwidth: 800_000, averageBandwidth: 700_000, codecs: ['avc1.64001e', 'mp4a.40.2'],
        width: 640, height: 360, frameRate: 25 },
      { rendition: 'high', bandwidth: 2_400_000.4, averageBandwidth: 2_000_000, codecs: ['avc1.64001f', 'mp4a.40.2'],
        width: 1280, height: 720, frameRate: 29.97 },
    ], false);
    const p = parsePlaylist(text);
    assert.deepEqual(p.variants.map((v) => v.uri), ['high/index.m3u8', 'low/index.m3u8']);
    assert.equal(p.variants[0]?.attrs['BANDWIDTH'], '2400001');
    assert.equal(p.variants[0]?.attrs['RESOLUTION'], '1280x720');
    assert.equal(p.variants[0]?.attrs['FRAME-RATE'], '29.970');
    assert.equal(p.variants[0]?.attrs['CODECS'], 'avc1.64001f,mp4a.40.2');
  });
});
