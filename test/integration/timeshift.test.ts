// Time-shift URLs through a real edge: nginx with the generated edge config passes them to the edge
// agent's time-shift service, which reads what a real transcoder packaged (fMP4, video and audio, DASH
// too). A player asks for a range by path or by query and gets a playlist, an MPD or an MP4 clip.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse as parseMpd } from 'mpd-parser';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { TimeShiftServer } from '../../agent/timeshift/server.js';
import { silentLogger } from '../../common/log.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist, type ParsedPlaylist } from '../support/m3u8.js';
import { freePort, run, tempDir, until } from '../support/run.js';

const SECRET = 'timeshift-test-secret-0123';

describe('time-shift URLs through the edge', function () {
  this.timeout(120_000);
  let root: string;
  let agent: Agent;
  let service: TimeShiftServer;
  let edge: Edge;
  /** The first and last whole seconds the stored video covers when the test starts asking. */
  let first: number;
  let last: number;

  const get = (p: string, init?: RequestInit): Promise<Response> => fetch(`${edge.url}${p}`, init);
  const playlist = async (p: string): Promise<{ res: Response; pl: ParsedPlaylist }> => {
    const res = await get(p);
    const text = await res.text();
    assert.equal(res.status, 200, `${p}: ${text}`);
    return { res, pl: parsePlaylist(text) };
  };

  before(async () => {
    root = await tempDir('timeshift');
    agent = await Agent.start(parseAgentConfig({ nodeId: 'ts-test', storageRoot: root, encoder: { initialDelayMs: 300 },
      jobs: [{ app: 'live', stream: 'cam', source: { testPattern: { width: 320, height: 180, fps: 25 } }, mode: 'transcode',
        ladder: [{ name: 'video', height: 180, videoKbps: 300 }, { name: 'audio' }], format: 'fmp4', segmentSeconds: 1 }] }),
    silentLogger());
    const port = await freePort();
    service = await TimeShiftServer.start({ root, host: '127.0.0.1', port, maxClips: 1,
      limits: { maxClipSeconds: 30, maxRangeSeconds: 3600 }, log: silentLogger() });
    edge = await startEdge(root, { timeshift: { port, cacheMaxSizeMb: 16 },
      signing: { secret: SECRET, streams: [{ app: 'live', stream: 'private' }] } });
    // Twelve seconds of video are stored.
    const live = await until('12 listed video segments', async () => {
      const res = await get('/live/cam/video/index.m3u8');
      if (res.status !== 200) return undefined;
      const pl = parsePlaylist(await res.text());
      return pl.segments.length >= 12 ? pl : undefined;
    }, 60_000, 250);
    first = Math.ceil((live.segments[0]?.wallStart ?? 0) / 1000);
    last = Math.floor((live.segments.at(-1)?.wallStart ?? 0) / 1000);
  });
  after(async () => {
    await edge?.stop();
    await service?.close();
    await agent?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('a finished range by path: a master playlist whose variants are VOD playlists of that range, cached', async () => {
    const from = first + 2;
    const { res, pl: master } = await playlist(`/live/cam/index-${from}-5.m3u8`);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.ok(master.variants.some((v) => v.uri === `video/index-${from}-5.m3u8`), JSON.stringify(master.variants));
    const { res: r1, pl } = await playlist(`/live/cam/video/index-${from}-5.m3u8`);
    assert.equal(pl.playlistType, 'VOD');
    assert.equal(pl.endList, true);
    const start = pl.segments[0]?.wallStart ?? NaN;
    const end = (pl.segments.at(-1)?.wallStart ?? NaN) + (pl.segments.at(-1)?.duration ?? NaN) * 1000;
    assert.ok(start <= from * 1000 && start > from * 1000 - 1100, `first segment starts at ${start}, the range at ${from * 1000}`);
    assert.ok(end >= (from + 5) * 1000 && end < (from + 5) * 1000 + 1100, `last segment ends at ${end}`);
    assert.match(r1.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.notEqual(r1.headers.get('cache-control'), 'public, max-age=1', 'a finished range in a 1 h window is cached long');
    const again = await get(`/live/cam/video/index-${from}-5.m3u8`);
    await again.text();
    assert.equal(again.headers.get('x-cache'), 'HIT');
    // The segments it lists are the stored ones, served by the edge beside it.
    for (const s of pl.segments.slice(0, 2)) {
      const seg = await get(`/live/cam/video/${s.uri}`);
      assert.equal(seg.status, 200, s.uri);
      await seg.arrayBuffer();
    }
    assert.ok(pl.segments[0]?.map, 'fMP4 segments name their init');
  });

  it('an open range (now) is an EVENT playlist that grows; the query forms reach the same service', async () => {
    const from = last - 3;
    const { pl: open } = await playlist(`/live/cam/video/index-${from}-now.m3u8`);
    assert.equal(open.playlistType, 'EVENT');
    assert.equal(open.endList, false);
    const grown = await until('the open range to grow', async () => {
      const { pl } = await playlist(`/live/cam/video/index-${from}-now.m3u8`);
      return pl.segments.length > open.segments.length ? pl : undefined;
    }, 10_000, 250);
    assert.equal(grown.segments[0]?.uri, open.segments[0]?.uri, 'it grows at the end and keeps its start');

    const { pl: relative, res } = await playlist('/live/cam/video/index.m3u8?start=-4');
    assert.equal(relative.playlistType, 'EVENT');
    assert.ok(relative.segments.length >= 3 && relative.segments.length <= 6, `${relative.segments.length} segments for 4 s`);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=1', 'a relative range moves with time');

    const { pl: master } = await playlist(`/live/cam/master.m3u8?start=${first + 1}&end=${first + 4}`);
    const variant = master.variants.find((v) => v.uri.startsWith('video/'));
    assert.equal(variant?.uri, `video/index.m3u8?start=${first + 1}&end=${first + 4}`);
    const { pl: byQuery } = await playlist(`/live/cam/${variant.uri}`);
    assert.equal(byQuery.endList, true);
    const iso = new Date((first + 1) * 1000).toISOString();
    const { pl: byIso } = await playlist(`/live/cam/video/index.m3u8?start=${iso}&end=${first + 4}`);
    assert.deepEqual(byIso.segments.map((s) => s.uri), byQuery.segments.map((s) => s.uri));

    const { pl: full } = await playlist('/live/cam/video/index.m3u8');
    const { pl: shortened } = await playlist('/live/cam/video/index.m3u8?window=3');
    assert.ok(shortened.segments.length <= 4 && shortened.segments.length < full.segments.length,
      `?window=3 lists ${shortened.segments.length} of ${full.segments.length}`);
    assert.equal(shortened.endList, false);
  });

  it('a range outside what is stored is a 404 with its reason; a malformed one a 400', async () => {
    const outside = await get('/live/cam/video/index-1500000000-60.m3u8');
    assert.equal(outside.status, 404);
    assert.equal(outside.headers.get('access-control-allow-origin'), '*');
    assert.match(await outside.text(), /nothing stored for live\/cam from 2017-07-14T02:40:00Z to .* \(it holds /);
    const noStream = await get(`/live/nosuch/index-${first}-5.m3u8`);
    assert.equal(noStream.status, 404);
    assert.match(await noStream.text(), /no stream live\/nosuch/);
    const malformed = await get('/live/cam/video/index.m3u8?start=yesterday');
    assert.equal(malformed.status, 400);
    assert.match(await malformed.text(), /\?start=yesterday: an ISO-8601 time/);
    const tooLong = await get(`/live/cam/archive-${first}-60.mp4`);
    assert.equal(tooLong.status, 400);
    assert.match(await tooLong.text(), /longer than 30 s/);
  });

  it('a range as a DASH MPD: static once finished, with the range\'s segments', async () => {
    const from = first + 2;
    const res = await get(`/live/cam/index-${from}-4.mpd`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('content-type'), 'application/dash+xml');
    assert.match(text, /type="static"/);
    const parsed = parseMpd(text, { manifestUri: `${edge.url}/live/cam/index-${from}-4.mpd` });
    const video = parsed.playlists?.[0];
    assert.ok(video && video.segments.length >= 4 && video.segments.length <= 6, `${video?.segments.length} video segments for 4 s`);
    const seg = await get(new URL(video.segments[0]?.resolvedUri ?? '', edge.url).pathname);
    assert.equal(seg.status, 200);
    await seg.arrayBuffer();
  });

  it('a clip: one MP4 of the range without re-encoding, starting on a keyframe, as long as asked', async () => {
    const from = first + 2;
    const res = await get(`/live/cam/archive-${from}-6.mp4`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');
    const file = path.join(root, 'clip.mp4');
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,start_time', '-of', 'json',
      file]);
    assert.equal(probe.code, 0, probe.stderr);
    const info = JSON.parse(probe.stdout) as { format: { duration: string }; streams: Array<{ codec_type: string; start_time: string }> };
    assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    const [a, v] = ['audio', 'video'].map((t) => Number(info.streams.find((s) => s.codec_type === t)?.start_time));
    assert.ok(Math.abs((a ?? NaN) - (v ?? NaN)) < 0.1, `audio starts at ${a} s, video at ${v} s: in sync`);
    const duration = Number(info.format.duration);
    assert.ok(Math.abs(duration - 6) <= 1.1, `the clip lasts ${duration} s, 6 s asked, 1 s segments`);
    const frame = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-read_intervals', '%+#1',
      '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file]);
    assert.equal(frame.stdout.trim().split('\n')[0], '1', 'the first frame is a keyframe');
  });

  it('a thumbnail of any stored moment: a small JPEG of the segment\'s first picture, made once then cached', async () => {
    const res = await get(`/live/cam/thumb-${first + 3}.jpg`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual([res.headers.get('content-type'), res.headers.get('access-control-allow-origin'), res.headers.get('x-cache')],
      ['image/jpeg', '*', 'MISS']);
    const file = path.join(root, 'thumb.jpg');
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', file]);
    assert.equal(probe.stdout.trim(), 'mjpeg,160,90');
    assert.equal((await get(`/live/cam/thumb-${first + 3}.jpg`)).headers.get('x-cache'), 'HIT');
    // A query the service ignores is the same picture: no second decode.
    assert.equal((await get(`/live/cam/thumb-${first + 3}.jpg?x=1`)).headers.get('x-cache'), 'HIT');
    const outside = await get(`/live/cam/thumb-${first - 3600}.jpg`);
    assert.equal(outside.status, 404);
    assert.match(await outside.text(), /^nothing stored for live\/cam from /);
    assert.equal((await get(`/live/private/thumb-${first + 3}.jpg`)).status, 403, 'a signed stream\'s thumbnails need its token');
  });

  it('the thumbnail track the master playlist names lists a picture of each segment, made when asked', async () => {
    const master = await (await get('/live/cam/master.m3u8')).text();
    assert.match(master, /^#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=160x90,CODECS="jpeg",URI="thumbs\.m3u8"$/m);
    const res = await get('/live/cam/thumbs.m3u8');
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=1', 'live: refreshed as a live playlist is');
    const video = parsePlaylist(await (await get('/live/cam/video/index.m3u8')).text());
    const pictures = text.split('\n').filter((l) => l.startsWith('thumb-'));
    const listed = new Set(video.segments.map((s) => `thumb-${Math.ceil((s.wallStart ?? 0) / 1000)}.jpg`));
    assert.ok(pictures.length >= 12 && pictures.filter((p) => listed.has(p)).length >= 10,
      `a picture per listed segment: ${pictures.length} pictures, ${video.segments.length} segments`);
    const picture = await get(`/live/cam/${pictures[2] ?? ''}`, { redirect: 'manual' });
    assert.equal(picture.status, 200, 'each names its segment\'s own second: no redirect');
    assert.equal(picture.headers.get('content-type'), 'image/jpeg');
  });

  it('a signed stream\'s time-shift URLs need its token, as its live playlist does', async () => {
    await fs.cp(path.join(root, 'live/cam'), path.join(root, 'live/private'), { recursive: true });
    const p = `index-${first + 2}-4.m3u8`;
    assert.equal((await get(`/live/private/video/${p}`)).status, 403);
    assert.equal((await get('/live/private/video/index.m3u8?start=-4')).status, 403);
    assert.equal((await get(`/live/private/archive-${first + 2}-4.mp4`)).status, 403);
    const signed = signedPlaybackPath(SECRET, 'live', 'private', `video/${p}`, Date.now() / 1000 + 60);
    const ok = await get(signed);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(parsePlaylist(await ok.text()).endList, true);
  });
});
