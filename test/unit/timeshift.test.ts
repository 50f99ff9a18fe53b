import assert from 'node:assert/strict';
import { parse, setOptions, types } from 'hls-parser';
import { segmentName, type SegmentRecord } from '../../packager/layout.js';
import { imagePlaylist, rangeMaster, rangePlaylist } from '../../agent/timeshift/render.js';
import { parseTimeShift, type TimeShiftRequest } from '../../agent/timeshift/request.js';

setOptions({ strictMode: true });
const NOW = 1_800_000_000_000;
const limits = { maxClipSeconds: 3600, maxRangeSeconds: 86_400 };
const parsed = (p: string, q = ''): TimeShiftRequest => {
  const r = parseTimeShift(p, new URLSearchParams(q), NOW, limits);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.request;
};
const refused = (p: string, q = ''): string => {
  const r = parseTimeShift(p, new URLSearchParams(q), NOW, limits);
  assert.equal(r.ok, false, `${p}?${q} should be refused`);
  return r.ok ? '' : r.reason;
};

describe('time-shift requests', () => {
  const from = NOW / 1000 - 7200;

  it('reads the path forms: master, media, MPD, clip, open to now, thumbnail', () => {
    assert.deepEqual(parsed(`/live/cam/index-${from}-3600.m3u8`),
      { app: 'live', stream: 'cam', kind: 'master', fromMs: from * 1000, toMs: (from + 3600) * 1000 });
    assert.deepEqual(parsed(`/live/cam/r720/index-${from}-now.m3u8`),
      { app: 'live', stream: 'cam', rendition: 'r720', kind: 'media', fromMs: from * 1000, toMs: undefined });
    assert.equal(parsed(`/live/cam/index-${from}-60.mpd`).kind, 'mpd');
    assert.equal(parsed(`/live/cam/archive-${from}-60.mp4`).kind, 'clip');
    assert.deepEqual(parsed(`/live/cam/thumb-${from}.jpg`), { app: 'live', stream: 'cam', kind: 'thumb', fromMs: from * 1000,
      toMs: from * 1000 + 1 });
    assert.equal(parsed('/live/cam/thumbs.m3u8').kind, 'thumbs');
  });

  it('reads the query forms: ISO-8601, epoch and relative starts, an end, a shortened window', () => {
    assert.deepEqual(parsed('/live/cam/source/index.m3u8', 'start=-3600'), { app: 'live', stream: 'cam', rendition: 'source', kind: 'media',
      fromMs: NOW - 3_600_000, toMs: undefined, relative: true });
    const iso = parsed('/live/cam/index.m3u8', `start=${new Date(NOW - 600_000).toISOString()}&end=${(NOW - 300_000) / 1000}`);
    assert.deepEqual([iso.kind, iso.fromMs, iso.toMs], ['master', NOW - 600_000, NOW - 300_000]);
    assert.equal(parsed('/live/cam/manifest.mpd', 'start=-60').kind, 'mpd');
    assert.deepEqual(parsed('/live/cam/source/index.m3u8', 'window=600'), { app: 'live', stream: 'cam', rendition: 'source', kind: 'media',
      fromMs: NOW - 600_000, toMs: undefined, live: true, relative: true });
  });

  it('refuses what is malformed with one line that says why', () => {
    assert.match(refused('/live/cam/index-abc-60.m3u8'), /not a time-shift URL/);
    assert.match(refused('/live/../etc/index-1-60.m3u8'), /not a time-shift URL/);
    assert.match(refused(`/live/cam/index-${from}-0.m3u8`), /at least one second/);
    assert.match(refused(`/live/cam/index-${NOW / 1000 + 60}-60.m3u8`), /starts in the future/);
    assert.match(refused('/live/cam/index.m3u8', 'start=yesterday'), /\?start=yesterday: an ISO-8601 time/);
    assert.match(refused('/live/cam/index.m3u8', 'start=-60&end=-120'), /ends before it starts/);
    assert.match(refused('/live/cam/index.m3u8', 'window=0'), /\?window=0: seconds/);
    assert.match(refused(`/live/cam/archive-${from}-7200.mp4`), /longer than 3600 s, the longest clip/);
    assert.match(refused(`/live/cam/archive-${from}-now.mp4`), /the forms are|needs an end/);
    assert.match(refused(`/live/cam/index-${from}-60.m3u8`, 'start=-5'), /the range is in the path/);
    assert.match(refused('/live/cam/index.m3u8'), /needs a range/);
    assert.match(refused(`/live/cam/r720/index-${from}-60.mpd`), /a rendition has media playlists only/);
    assert.match(refused(`/live/cam/thumb-${NOW / 1000 + 60}.jpg`), /the time is in the future/);
    assert.match(refused(`/live/cam/r720/thumb-${from}.jpg`), /not a time-shift URL/);
  });
});

describe('time-shift answers', () => {
  const segs: SegmentRecord[] = Array.from({ length: 6 }, (_v, i) => ({ seq: 100 + i, startMs: NOW - 60_000 + i * 2000,
    durationUs: 2_000_000, disc: i < 3 ? 4 : 5, mediaStartUs: i * 2_000_000, bytes: 0 }));

  it('the thumbnail track: one picture per segment, of its first whole second, a gap where media is missing', () => {
    const withGap = segs.map((s, i) => (i === 3 ? { ...s, gap: true } : s));
    const text = imagePlaylist(withGap, { target: 2, ended: false, width: 160, height: 90 });
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 6), ['#EXTM3U', '#EXT-X-VERSION:8', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:100',
      '#EXT-X-IMAGES-ONLY', '#EXTINF:2.000,']);
    assert.deepEqual(lines.filter((l) => l.startsWith('thumb-')), segs.map((s) => `thumb-${Math.ceil(s.startMs / 1000)}.jpg`));
    assert.equal(lines.filter((l) => l === '#EXT-X-TILES:RESOLUTION=160x90,LAYOUT=1x1,DURATION=2.000').length, 6);
    assert.equal(lines.indexOf('#EXT-X-GAP'), lines.indexOf(`thumb-${Math.ceil((segs[3]?.startMs ?? 0) / 1000)}.jpg`) - 3);
    assert.ok(!text.includes('ENDLIST'), 'live: it grows');
    const ended = imagePlaylist(segs, { target: 2, ended: true, width: 160, height: 90 });
    assert.match(ended, /#EXT-X-PLAYLIST-TYPE:VOD\n[^]*#EXT-X-ENDLIST\n$/);
  });

  it('a finished range is a VOD playlist that starts at its own first segment, with its discontinuities', () => {
    const text = rangePlaylist(segs, { ext: 'ts', target: 2, state: 'finished' });
    const p = parse(text) as types.MediaPlaylist;
    assert.equal(p.playlistType, 'VOD');
    assert.equal(p.endlist, true);
    assert.equal(p.mediaSequenceBase, 100);
    assert.equal(p.discontinuitySequenceBase, 4);
    assert.deepEqual(p.segments.map((s) => [s.uri, s.discontinuity === true]), segs.map((s, i) => [segmentName(s, 'ts'), i === 3]));
    assert.equal(p.segments[0]?.programDateTime?.getTime(), NOW - 60_000);
  });

  it('an open range is an EVENT playlist without ENDLIST; a shortened window a live one; fMP4 names its inits', () => {
    const open = parse(rangePlaylist(segs, { ext: 'ts', target: 2, state: 'open' })) as types.MediaPlaylist;
    assert.deepEqual([open.playlistType, open.endlist], ['EVENT', false]);
    const live = rangePlaylist(segs, { ext: 'm4s', target: 2, state: 'live' });
    assert.doesNotMatch(live, /PLAYLIST-TYPE|ENDLIST/);
    assert.match(live, /#EXT-X-MAP:URI="init_4\.mp4"[\s\S]*#EXT-X-MAP:URI="init_5\.mp4"/);
  });

  it('the master playlist points each rendition (and the audio group) at the same range', () => {
    const master = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",URI="audio/index.m3u8"\n'
      + '#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="audio"\nr720/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nr360/index.m3u8\n'
      + '#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=32000,RESOLUTION=160x90,CODECS="jpeg",URI="thumbs.m3u8"\n';
    const ranged = rangeMaster(master, 'index-1790000000-60.m3u8', '');
    assert.doesNotMatch(ranged, /IMAGE-STREAM-INF/, 'the thumbnail track is the live stream\'s, not the range\'s');
    assert.match(ranged, /URI="audio\/index-1790000000-60\.m3u8"/);
    assert.match(ranged, /^r720\/index-1790000000-60\.m3u8$/m);
    assert.match(rangeMaster(master, 'index.m3u8', '?start=-60'), /^r360\/index\.m3u8\?start=-60$/m);
    assert.ok(parse(ranged) instanceof types.MasterPlaylist);
  });
});
