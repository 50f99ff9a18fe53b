// The player page as a viewer uses it: headless Chromium opens /player/?stream=live/cam on a real
// edge (generated config, hls.js vendored from npm), and the page plays a live DVR playlist with
// 100 s of history, rewinds 60 s with its buttons and plays from there, keeps its place while
// paused, starts over and goes back to live. A screenshot is left for a look by eye.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { TimeShiftServer } from '../../agent/timeshift/server.js';
import { silentLogger } from '../../common/log.js';
import { localPlayerFiles, stagePlayerFiles } from '../../nginx/player.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist } from '../support/m3u8.js';
import { ffmpeg, freePort, run, tempDir, until } from '../support/run.js';
import { hasChromium, launchChromium } from '../support/chromium.js';

const SECRET = 'player-test-secret-0123456789';
/** The player's 'LIVE' badge: within this many seconds of the live edge. */
const LIVE_SLACK_S = 8;

interface State { time: number; paused: boolean; ready: number; start: number; end: number; clockMs: number; behind: number; error: string }

describe('the player page (headless Chromium on an edge)', function () {
  this.timeout(180_000);
  let root: string;
  let edge: Edge;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  // Run in the page (the tests are compiled without the DOM's types).
  const state = async (): Promise<State> => await page.evaluate(`(() => {
    const v = document.querySelector('video');
    const r = v.seekable;
    const error = document.getElementById('error');
    return { time: v.currentTime, paused: v.paused, ready: v.readyState,
      start: r.length ? r.start(0) : NaN, end: r.length ? r.end(r.length - 1) : NaN,
      clockMs: Number(document.getElementById('clock').dataset.ms ?? NaN),
      behind: Number(document.getElementById('behind').dataset.behind || NaN),
      error: error.hidden ? '' : error.textContent };
  })()`) as State;
  const text = async (selector: string): Promise<string> =>
    await page.evaluate(`document.querySelector(${JSON.stringify(selector)}).textContent`) as string;
  /** Playing (with media to play: HAVE_FUTURE_DATA), past `after` seconds of media time. */
  const playingPast = (after: number, what: string): Promise<State> =>
    until(what, async () => {
      const s = await state();
      return !s.paused && s.ready >= 3 && s.time > after ? s : undefined;
    }, 30_000, 100);
  /** The text of `selector` once it matches. */
  const shows = (selector: string, expected: RegExp): Promise<string> =>
    until(`${selector} to show ${String(expected)}`, async () => {
      const t = await text(selector);
      return expected.test(t) ? t : undefined;
    }, 5000, 100);

  before(async function () {
    if (!await hasChromium()) { console.log('      skipped: no Chromium'); this.skip(); }
    root = await tempDir('player');
    // 100 s of a live stream with wall-clock dates, as a DVR playlist still being written (no ENDLIST).
    const dir = path.join(root, 'live', 'cam', 'v');
    await fs.mkdir(dir, { recursive: true });
    const made = await ffmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '100', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'event',
      '-hls_flags', 'program_date_time+independent_segments', '-hls_segment_filename', path.join(dir, '%05d.ts'),
      path.join(dir, 'index.m3u8')]);
    assert.equal(made.code, 0, made.stderr);
    const playlist = await fs.readFile(path.join(dir, 'index.m3u8'), 'utf8');
    await fs.writeFile(path.join(dir, 'index.m3u8'), playlist.replace('#EXT-X-ENDLIST\n', ''));
    await fs.writeFile(path.join(root, 'live', 'cam', 'master.m3u8'),
      '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=320x180\nv/index.m3u8\n');
    // The page's files as the appliance serves them: copied where nginx's workers read (not the checkout).
    edge = await startEdge(root, { player: await stagePlayerFiles(path.join(root, '_site')) });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => { pageErrors.push(e instanceof Error ? e.message : String(e)); });
    await page.setViewport({ width: 1000, height: 760 });
  });
  after(async () => {
    await browser?.close();
    await edge?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('is served by the edge with its CSP, and hls.js from the vendored npm build', async () => {
    const res = await fetch(`${edge.url}/player/?stream=live/cam`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self';/);
    const hls = await fetch(`${edge.url}/player/vendor/hls.min.js`);
    assert.equal(hls.status, 200);
    assert.match(hls.headers.get('content-type') ?? '', /^text\/javascript/);
    const shipped = await fs.readFile(path.join(localPlayerFiles().hlsJsDir, 'hls.min.js'));
    assert.equal((await hls.arrayBuffer()).byteLength, shipped.byteLength);
    const bare = await fetch(`${edge.url}/player?stream=live/cam`, { redirect: 'manual' });
    assert.deepEqual([bare.status, bare.headers.get('location')], [301, '/player/?stream=live/cam']);
  });

  it('plays at live, rewinds 60 s and plays from there, keeps its place while paused, starts over, goes live', async () => {
    await page.goto(`${edge.url}/player/?stream=live/cam`);
    const live = await playingPast(1, 'the stream to play');
    assert.equal(live.error, '');
    assert.ok(live.end - live.start > 90, `the whole DVR window is seekable (${live.start}..${live.end})`);
    assert.ok(live.time > live.end - 20, `it starts near live (${live.time} of ${live.end})`);
    assert.ok(Number.isFinite(live.clockMs), 'the wall-clock time of the frame is shown');
    await shows('#behind', /^LIVE$/);

    const before = await state();
    for (let i = 0; i < 6; i++) await page.click('#back');
    const back = await playingPast(before.time - 60 + 1, 'playback 60 s back');
    assert.ok(back.time < before.time - 50 && back.time > before.time - 70, `60 s back: ${before.time} -> ${back.time}`);
    assert.ok(Math.abs(back.clockMs - before.clockMs + 60_000) < 5000, `the clock went back 60 s: ${before.clockMs} -> ${back.clockMs}`);
    await shows('#behind', /^(5\d|6\d) s behind live$/);
    await page.screenshot({ path: path.join(os.tmpdir(), 'dvr-player.png') });

    await page.click('#play');
    const paused = await until('the pause', async () => { const s = await state(); return s.paused ? s : undefined; }, 5000, 50);
    // While paused the playlist is reloaded (it is live); the position stays.
    const reloads = async (): Promise<number> => await page.evaluate(
      "performance.getEntriesByType('resource').filter((e) => e.name.includes('/v/index.m3u8')).length") as number;
    const seen = await reloads();
    await until('two playlist reloads while paused', async () => (await reloads()) >= seen + 2 ? true : undefined, 20_000, 200);
    assert.ok(Math.abs((await state()).time - paused.time) < 0.1, 'paused, it stays where it was');
    await page.click('#play');
    const resumed = await playingPast(paused.time + 0.5, 'playback to resume');
    assert.ok(resumed.time < paused.time + 5, `it resumes where it paused, not at live (${paused.time} -> ${resumed.time})`);

    await page.click('#start-over');
    const over = await until('start over', async () => {
      const s = await state();
      return !s.paused && s.time < s.start + 5 ? s : undefined;
    }, 15_000, 100);
    assert.ok(over.time >= over.start, `from the start of the window (${over.start}): ${over.time}`);

    await page.click('#live');
    await until('back at live', async () => {
      const s = await state();
      return !s.paused && s.time > s.end - 20 ? s : undefined;
    }, 15_000, 100);
    await shows('#behind', /^LIVE$/);
    assert.deepEqual(pageErrors, [], 'no script error on the page');
  });

  it('names what is wrong with the page\'s query', async () => {
    for (const [query, message] of [['stream=live', /\?stream=live: expected <app>\/<stream>/],
      ['src=//elsewhere.example/x.m3u8', /a path on this server/]] as const) {
      await page.goto(`${edge.url}/player/?${query}`);
      const shown = await until('the error', async () => await page.evaluate(
        "document.getElementById('error').hidden ? undefined : document.getElementById('error').textContent") as string | undefined,
      10_000, 100);
      assert.match(shown, message);
    }
    assert.equal((await run('test', ['-s', path.join(os.tmpdir(), 'dvr-player.png')])).code, 0, 'the screenshot was written');
  });

  describe('a window longer than the playlist cap', () => {
    let agent: Agent;
    let service: TimeShiftServer;
    let capEdge: Edge;
    /** Wall-clock ms of the oldest stored segment's start. */
    let oldestMs: number;
    const signed = (file: string): string => signedPlaybackPath(SECRET, 'live', 'capcam', file, Date.now() / 1000 + 3600);
    const source = async (): Promise<string> =>
      await page.evaluate("document.getElementById('behind').dataset.source ?? ''") as string;

    before(async function () {
      if (!browser) this.skip();
      const t0 = Math.floor(Date.now() / 1000) - 5;
      const capRoot = path.join(root, 'capped');
      await fs.mkdir(capRoot);
      // A 10 min window whose live playlist lists 20 s: the rest only through time-shift ranges.
      agent = await Agent.start(parseAgentConfig({ nodeId: 'cap-test', storageRoot: capRoot, encoder: { initialDelayMs: 300 },
        jobs: [{ app: 'live', stream: 'capcam', source: { testPattern: { width: 320, height: 180, fps: 25 } }, mode: 'transcode',
          ladder: [{ name: 'v', height: 180, videoKbps: 300 }], format: 'ts', segmentSeconds: 1,
          dvr: { windowSeconds: 600, playlistCapSeconds: 20 } }] }), silentLogger());
      const port = await freePort();
      service = await TimeShiftServer.start({ root: capRoot, host: '127.0.0.1', port, maxClips: 1,
        limits: { maxClipSeconds: 30, maxRangeSeconds: 3600 }, log: silentLogger() });
      // Signed playback: the page, its ranges and its thumbnails all go through the token's prefix.
      capEdge = await startEdge(capRoot, { player: await stagePlayerFiles(path.join(capRoot, '_site')),
        timeshift: { port, cacheMaxSizeMb: 16 },
        signing: { secret: SECRET, streams: [{ app: 'live', stream: 'capcam' }] } });
      // 45 s stored: the live playlist lists the newest 20, a time-shift range reaches the rest.
      oldestMs = await until('45 s stored', async () => {
        const res = await fetch(`${capEdge.url}${signed(`v/index-${t0}-now.m3u8`)}`);
        if (res.status !== 200) return undefined;
        const segs = parsePlaylist(await res.text()).segments;
        const first = segs[0]?.wallStart ?? 0;
        return segs.length >= 45 ? first : undefined;
      }, 90_000, 1000);
    });
    after(async () => {
      await capEdge?.stop();
      await service?.close();
      await agent?.close();
    });

    it('spans the whole window, starts over from a time-shift range, steps back past the live playlist, returns live; '
      + 'thumbnails on hover; all signed', async () => {
      const livePlaylist = parsePlaylist(await (await fetch(`${capEdge.url}${signed('v/index.m3u8')}`)).text());
      assert.ok(livePlaylist.segments.length <= 22, `the live playlist is capped: ${livePlaylist.segments.length} segments`);
      await page.goto(`${capEdge.url}/player/?src=${encodeURIComponent(signed('master.m3u8'))}`);
      await playingPast(1, 'the capped stream to play');
      await shows('#behind', /^LIVE$/);
      const scrubMin = await until('the scrub bar to span the window', async () => {
        const min = Number(await page.evaluate("document.getElementById('scrub').min"));
        return min * 1000 < oldestMs + 3000 ? min : undefined;
      }, 10_000, 200);
      assert.ok(scrubMin * 1000 > oldestMs - 3000, `the scrub bar starts with what is stored (${scrubMin * 1000} vs ${oldestMs})`);

      await page.click('#start-over');
      const over = await until('start over from a time-shift range', async () => {
        const s = await state();
        return (await source()) === 'range' && !s.paused && s.ready >= 3 && Math.abs(s.clockMs - oldestMs) < 4000 ? s : undefined;
      }, 30_000, 200);
      const ranges = await page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /\\/index-\\d+-\\d+\\.m3u8$/.test(n))") as string[];
      assert.ok(ranges.length > 0, 'a finished range was asked for');
      assert.ok(ranges.every((u) => u.startsWith(`${capEdge.url}/s/`)), `through the token's prefix: ${ranges.join(' ')}`);
      assert.equal((await fetch(`${capEdge.url}/live/capcam/v/index.m3u8`)).status, 403, 'the stream is signed');
      assert.equal(over.error, '');
      // A range is as long as the live playlist (20 s): playback goes on past its end, from the next
      // range or the live playlist, with no jump.
      const onward = await until('playback past the first range\'s end', async () => {
        const s = await state();
        return !s.paused && s.ready >= 3 && s.clockMs > over.clockMs + 25_000 ? s : undefined;
      }, 45_000, 250);
      assert.ok(onward.clockMs < over.clockMs + 40_000, `no jump forward: ${over.clockMs} -> ${onward.clockMs}`);

      await page.click('#live');
      const atLive = await until('back at live', async () => {
        const s = await state();
        return (await source()) === 'live' && !s.paused && s.ready >= 3 && s.time > s.end - 10 ? s : undefined;
      }, 30_000, 200);
      await shows('#behind', /^LIVE$/);
      for (let i = 0; i < 3; i++) await page.click('#back');
      const back = await until('30 s back, before the live playlist', async () => {
        const s = await state();
        return (await source()) === 'range' && !s.paused && s.ready >= 3 ? s : undefined;
      }, 30_000, 200);
      assert.ok(Math.abs(atLive.clockMs - 30_000 - back.clockMs) < 8000, `30 s back: ${atLive.clockMs} -> ${back.clockMs}`);
      await page.screenshot({ path: path.join(os.tmpdir(), 'dvr-player-capped.png') });
      // Forward 20 s: inside the live playlist again, at that point (not pulled to live).
      const fromRange = await state();
      for (let i = 0; i < 2; i++) await page.click('#forward');
      const ahead = await until('20 s forward, in the live playlist', async () => {
        const s = await state();
        return (await source()) === 'live' && !s.paused && s.ready >= 3 && s.clockMs > fromRange.clockMs + 10_000 ? s : undefined;
      }, 30_000, 200);
      assert.ok(Math.abs(ahead.clockMs - fromRange.clockMs - 20_000) < 6000, `20 s forward: ${fromRange.clockMs} -> ${ahead.clockMs}`);
      assert.ok(ahead.behind > LIVE_SLACK_S, `still behind live (${ahead.behind} s)`);

      // Hovering the scrub bar a quarter of the way in shows a thumbnail of that moment.
      const bar = await page.evaluate(`(() => { const r = document.getElementById('scrub').getBoundingClientRect();
        const s = document.getElementById('scrub'); return { x: r.left, y: r.top + r.height / 2, w: r.width, lo: Number(s.min),
        hi: Number(s.max) }; })()`) as { x: number; y: number; w: number; lo: number; hi: number };
      await page.mouse.move(bar.x + bar.w / 4, bar.y);
      const thumb = await until('a thumbnail under the pointer', async () => {
        const t = await page.evaluate(`(() => { const i = document.getElementById('preview-img');
          return { shown: !document.getElementById('preview').hidden, width: i.complete ? i.naturalWidth : 0,
            src: i.getAttribute('src') ?? '' }; })()`) as { shown: boolean; width: number; src: string };
        return t.shown && t.width > 0 ? t : undefined;
      }, 15_000, 200);
      assert.equal(thumb.width, 160);
      const at = Number(/\/live\/capcam\/thumb-(\d+)\.jpg(\?again)?$/.exec(thumb.src)?.[1]);
      const hovered = bar.lo + (bar.hi - bar.lo) / 4;
      assert.ok(Math.abs(at - hovered) <= 3, `the thumbnail of ${at}, hovered ${hovered}`);
      await page.screenshot({ path: path.join(os.tmpdir(), 'dvr-player-thumbnail.png') });
      await page.mouse.move(0, 0);
      assert.deepEqual(pageErrors, [], 'no script error on the page');
    });
  });
});
