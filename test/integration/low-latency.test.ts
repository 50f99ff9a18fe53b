// Low-latency HLS as the README's first command serves it: the demo stream's parts, blocking
// reloads and preload hints through the appliance's edge, checked by an independent parser
// (hls-parser, strict) and against RFC 8216bis's rules, and played by hls.js and Shaka Player in
// Chromium at the low-latency edge and from the start of the window it has.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, setOptions, types } from 'hls-parser';
import { silentLogger } from '../../common/log.js';
import { NginxProcess } from '../../nginx/process.js';
import { renderConfig } from '../../nginx/render.js';
import { freePort, tempDir, until } from '../support/run.js';
import { startAppliance, type Appliance } from '../support/appliance.js';
import { writeHistory } from '../support/history.js';
import { adminApi, createStream, publishTestPattern, publishUrl } from '../support/publisher.js';
import { STREAM_STATE } from '../../packager/layout.js';
import type { Browser } from 'puppeteer-core';
import { HLS_JS, hasChromium, launchChromium, videoPage } from '../support/chromium.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODULES = path.join(ROOT, '..', 'node_modules');

setOptions({ strictMode: true });

/** How much live/llhour holds before its publisher starts: an hour and a minute of 2 s segments. */
const HISTORY_SECONDS = 3664;

/** A media playlist as hls-parser (strict) reads it: it throws on what breaks RFC 8216bis's low-latency rules. */
function strict(text: string, what: string): types.MediaPlaylist {
  let p: types.Playlist;
  try {
    p = parse(text);
  } catch (err) {
    throw new Error(`${what}: hls-parser (strict) refused it: ${(err as Error).message}\n${text.slice(-1500)}`);
  }
  assert.ok(p instanceof types.MediaPlaylist, `${what}: a media playlist`);
  return p;
}

/** The last listed segment's number and the last part's index, from a low-latency playlist. */
function lastPart(p: types.MediaPlaylist): { msn: number; part: number } {
  const segs = p.segments;
  const tail = segs[segs.length - 1];
  assert.ok(tail, 'segments listed');
  const parts = tail.parts.filter((x) => !x.hint);
  return { msn: tail.mediaSequenceNumber, part: parts.length - 1 };
}

/**
 * `player` in a new page of `browser`: plays `url` at the low-latency edge (closer than three target
 * durations), then from the window's start (at least `minBack` s back), then back at the edge.
 */
async function atTheEdgeAndBack(browser: Browser, origin: string, url: string, player: 'hls.js' | 'shaka', what: string,
  minBack: number): Promise<void> {
    const page = await browser.newPage();
    await videoPage(page, origin, player === 'hls.js' ? HLS_JS
      : path.join(MODULES, 'shaka-player/dist/shaka-player.compiled.js'));
    await page.evaluate(player === 'hls.js' ? `(() => { const v = document.getElementById('v');
      const hls = new Hls({ lowLatencyMode: true, liveDurationInfinity: true }); window.p = hls;
      hls.loadSource(${JSON.stringify(url)}); hls.attachMedia(v); v.play();
      window.latency = () => Date.now() - (hls.playingDate ? hls.playingDate.getTime() : NaN);
      window.parts = () => hls.levels.some((l) => l.details && l.details.partList && l.details.partList.length > 0); })()`
      : `(() => { shaka.polyfill.installAll(); const v = document.getElementById('v'); const p = new shaka.Player(); window.p = p;
      p.configure({ streaming: { lowLatencyMode: true } });
      p.attach(v).then(() => p.load(${JSON.stringify(url)})).then(() => v.play());
      // Shaka Player's date of the playhead is off by its presentation delay on live HLS: how far it
      // plays behind the newest part it knows is what says where it sits.
      window.latency = () => (p.seekRange().end - v.currentTime) * 1000;
      window.parts = () => p.isLive(); })()`);
    const samples: number[] = [];
    await until(`${player}: ten latency samples while playing`, async () => {
      const s = await page.evaluate(`(() => { const v = document.getElementById('v');
        return { playing: !v.paused && v.readyState >= 3, latency: window.latency(), parts: window.parts() }; })()`) as
        { playing: boolean; latency: number; parts: boolean };
      if (s.playing && s.parts && Number.isFinite(s.latency)) samples.push(s.latency);
      return samples.length >= 10 ? true : undefined;
    }, 40_000, 300);
    samples.sort((x, y) => x - y);
    const p50 = samples[5] ?? NaN;
    console.log(`      ${player} (${what}): ${player === 'hls.js' ? 'behind the publisher\'s clock' : 'behind its live edge'} p50 `
      + `${(p50 / 1000).toFixed(2)} s `
      + `(min ${((samples[0] ?? 0) / 1000).toFixed(2)}, max ${((samples[9] ?? 0) / 1000).toFixed(2)})`);
    // Closer than a player without low latency sits (three target durations).
    assert.ok(p50 < 6000, `${player}: ${p50} ms behind`);
    // Back to the window's start, and on from there.
    const [target, edge] = await page.evaluate(`(() => { const v = document.getElementById('v'); const r = v.seekable;
      v.currentTime = r.start(0) + 1; return [v.currentTime, r.end(r.length - 1)]; })()`) as [number, number];
    assert.ok(edge - target >= minBack, `${player} (${what}): the window's start is ${(edge - target).toFixed(0)} s back`);
    await until(`${player}: playing from the window's start`, async () => await page.evaluate(`(() => {
      const v = document.getElementById('v'); return !v.paused && v.readyState >= 3 && v.currentTime > ${target} + 1
        && v.currentTime < ${target} + 8; })()`) as boolean, 30_000, 200);
    // And back to the low-latency edge: where the player puts live (hls.js's liveSyncPosition, Shaka's seek range end).
    await page.evaluate(`(() => { const v = document.getElementById('v');
      v.currentTime = window.p.liveSyncPosition ?? (window.p.seekRange().end - 1.5); })()`);
    const back: number[] = [];
    await until(`${player}: back at the low-latency edge`, async () => {
      const s = await page.evaluate('window.latency()') as number;
      if (Number.isFinite(s)) back.push(s);
      return back.length >= 5 && (back[back.length - 1] ?? Infinity) < 6000 ? true : undefined;
    }, 30_000, 300);
    await page.close();
}

describe('low-latency HLS: the appliance\'s demo stream through its edge', function () {
  this.timeout(240_000);
  let a: Appliance | undefined;
  let playback = '';
  let api = '';
  let media = '';
  before(async () => {
    a = await startAppliance({ prefix: 'll-appliance' });
    playback = await a.line('playback', 90_000);
    api = await a.line('api', 90_000);
    media = new URL('r720/index.m3u8', playback).href;
    // Parts, and a window longer than CAN-SKIP-UNTIL (12 s): a delta update skips something.
    await until('parts and 8 segments in a blocking reload', async () => {
      const res = await fetch(`${media}?_HLS_msn=0`);
      const text = res.ok ? await res.text() : '';
      return text.includes('#EXT-X-PART:') && text.split('#EXTINF:').length > 8 ? true : undefined;
    }, 60_000, 250);
  });
  after(async () => { await a?.close(); });

  it('the storage\'s playlist says a reload may block and where players hold back; a blocking reload waits for the part it asks '
    + 'for and lists parts, the next part\'s hint and the other renditions, as RFC 8216bis asks (hls-parser, strict)', async () => {
    const stored = await fs.readFile(path.join(a?.dataDir ?? '', 'media/live/demo/r720/index.m3u8'), 'utf8');
    assert.match(stored, /^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12\.0,PART-HOLD-BACK=1\.500$/m);
    assert.match(stored, /^#EXT-X-PART-INF:PART-TARGET=0\.500$/m);
    assert.doesNotMatch(stored, /#EXT-X-PART:/, 'the storage lists whole segments only');
    // Through the edge, a plain reload of the live playlist is the transcoder's: with parts, for players that start there.
    const plain = strict(await (await fetch(media)).text(), 'a plain reload');
    assert.ok(plain.segments.some((s) => s.parts.length > 0), 'parts in the first playlist a player gets');
    const now = strict(await (await fetch(`${media}?_HLS_msn=0`)).text(), 'a blocking reload');
    const last = lastPart(now);
    // The next part: not there yet, so the edge holds the request until it is cut.
    const asked = { msn: last.msn, part: last.part + 1 };
    const t0 = Date.now();
    const res = await fetch(`${media}?_HLS_msn=${asked.msn}&_HLS_part=${asked.part}&_HLS_skip=YES`);
    const waited = Date.now() - t0;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const text = await res.text();
    const p = strict(text, 'a blocking delta reload');
    assert.ok(waited >= 50 && waited < 3 * 2000, `held until the part existed (${waited} ms)`);
    const got = lastPart(p);
    assert.ok(got.msn > asked.msn || (got.msn === asked.msn && got.part >= asked.part), `it lists ${JSON.stringify(asked)}: `
      + `${JSON.stringify(got)}`);
    assert.ok(p.skip > 0, `a delta update (EXT-X-SKIP): ${text.slice(0, 600)}`);
    const control = p.lowLatencyCompatibility;
    assert.ok(control?.canBlockReload === true && (control.partHoldBack ?? 0) >= 3 * (p.partTargetDuration ?? 1),
      'PART-HOLD-BACK at least three part targets');
    assert.ok((control?.canSkipUntil ?? 0) >= 6 * p.targetDuration, 'CAN-SKIP-UNTIL at least six target durations');
    const parts = p.segments.flatMap((s) => s.parts.filter((x) => !x.hint));
    assert.ok(parts.every((x) => (x.duration ?? Infinity) <= (p.partTargetDuration ?? 0)), 'no part longer than PART-TARGET');
    assert.ok(p.segments.filter((s) => s.parts.length > 0).length <= 3, 'parts only for the newest three target durations');
    assert.match(text, /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_[^"]+\.m4s"$/m);
    assert.deepEqual(p.renditionReports.map((r) => r.uri).sort(), ['../audio/index.m3u8', '../r360/index.m3u8'],
      'every other rendition reported');
    // Each part and the segment it makes: the segment's bytes are its parts' bytes, back to back.
    const whole = p.segments.find((s) => s.uri !== '' && s.parts.length > 0);
    assert.ok(whole, 'a complete segment with its parts');
    const bytes = async (uri: string): Promise<Buffer> => {
      const r = await fetch(new URL(uri, media));
      assert.equal(r.status, 200, uri);
      return Buffer.from(await r.arrayBuffer());
    };
    const joined = Buffer.concat(await Promise.all(whole.parts.map((x) => bytes(x.uri))));
    assert.ok(joined.equals(await bytes(whole.uri)), 'the parts make the segment');
    // The DVR as for every stream: segments from the storage (the edge's mount probe finds the
    // appliance's data directory), time-shift URLs from the edge's service.
    const seg = await fetch(new URL(whole.uri, media));
    assert.equal(seg.headers.get('x-dvr-source'), null, 'a segment from the storage, not diverted to the live view');
    assert.equal((await fetch(`${playback}?start=-4`)).status, 200, 'a time-shift URL');
  });

  it('the hinted part is held until it is cut; a request too far ahead is refused (400), as is _HLS_part alone', async () => {
    const text = await (await fetch(`${media}?_HLS_msn=0`)).text();
    const hint = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"$/m.exec(text)?.[1] ?? '';
    const t0 = Date.now();
    const res = await fetch(new URL(hint, media));
    assert.equal(res.status, 200, `the hinted part ${hint}`);
    assert.equal(res.headers.get('content-type'), 'video/iso.segment');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.subarray(4, 8).toString('latin1'), 'moof', 'a fragment');
    assert.ok(Date.now() - t0 < 2000, 'within a part or two');
    const last = lastPart(strict(text, 'a blocking reload'));
    assert.equal((await fetch(`${media}?_HLS_msn=${last.msn + 3}`)).status, 400, 'three segments ahead');
    assert.equal((await fetch(`${media}?_HLS_part=1`)).status, 400, '_HLS_part without _HLS_msn');
    assert.equal((await fetch(`${media}?_HLS_msn=x`)).status, 400);
  });

  it('through a relay: blocking reloads pass to the edge, which holds them, every waiter of one state getting the same playlist; '
    + 'parts are cached once they exist', async () => {
    const port = await freePort();
    const prefix = await tempDir('ll-relay');
    const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
    await nginx.start(renderConfig({ role: 'relay', prefix, listen: [{ host: '127.0.0.1', port }],
      upstreams: [{ host: '127.0.0.1', port: a?.port ?? 0 }], workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'],
      cacheMaxSizeMb: 64, cacheInactiveMinutes: 10, playlistMaxAgeSeconds: 1, segmentMaxAgeSeconds: 31_536_000 }),
    { host: '127.0.0.1', port });
    try {
      const relayed = new URL(new URL(media).pathname, `http://127.0.0.1:${port}`).href;
      const first = await fetch(relayed);
      assert.equal(first.status, 200);
      const last = lastPart(strict(await first.text(), 'the relay\'s playlist'));
      // Five players ask for the part after the newest: each request reaches the edge (not queued on
      // the relay's cache lock), which answers them all from one state.
      const url = `${relayed}?_HLS_msn=${last.msn}&_HLS_part=${last.part + 1}`;
      const answers = await Promise.all(Array.from({ length: 5 }, async () => {
        const r = await fetch(url);
        assert.equal(r.status, 200, url);
        assert.equal(r.headers.get('x-dvr-source'), 'live-edge');
        assert.equal(r.headers.get('x-cache-status'), 'BYPASS', 'a blocking reload is not cached by the relay');
        return r.text();
      }));
      assert.equal(new Set(answers).size, 1, 'one playlist for every waiter');
      const p = strict(answers[0] ?? '', 'a blocking reload through the relay');
      const now = lastPart(p);
      assert.ok(now.msn > last.msn || now.part > last.part, `the part after ${last.msn}.${last.part} (got ${now.msn}.${now.part})`);
      // The hinted part, asked by three players at once through the relay: each request goes to the
      // edge (no cache lock), which holds them until it is cut; then the relay has it.
      const hint = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"$/m.exec(answers[0] ?? '')?.[1] ?? '';
      const parts = await Promise.all(Array.from({ length: 3 }, async () => {
        const r = await fetch(new URL(hint, relayed));
        assert.equal(r.status, 200, hint);
        assert.equal(r.headers.get('x-cache-status'), 'MISS');
        return Buffer.from(await r.arrayBuffer());
      }));
      const cached = await fetch(new URL(hint, relayed));
      assert.equal(cached.headers.get('x-cache-status'), 'HIT', 'a part is cached once it exists');
      parts.push(Buffer.from(await cached.arrayBuffer()));
      const direct = Buffer.from(await (await fetch(new URL(hint, media))).arrayBuffer());
      for (const b of parts) assert.ok(b.length > 0 && b.equals(direct), 'the part as the edge serves it');
      // A segment is cached by the relay as before.
      const whole = p.segments.find((x) => x.uri !== '');
      await fetch(new URL(whole?.uri ?? '', relayed));
      assert.equal((await fetch(new URL(whole?.uri ?? '', relayed))).headers.get('x-cache-status'), 'HIT');
    } finally {
      await nginx.stop();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });

  it('a copy-mode stream (lowLatency through the API, signed playback) from an RTMP publisher: parts of its video and of its '
    + 'audio, each making its segments, through the signed URL only', async () => {
    const admin = await adminApi(api, a?.dataDir ?? '');
    const made = await createStream(admin, { app: 'live', stream: 'llcopy', mode: 'copy', format: 'fmp4', lowLatency: true,
      signedPlayback: true });
    assert.equal(made.status, 201, await made.text());
    const refused = await createStream(admin, { app: 'live', stream: 'llts', format: 'ts', lowLatency: true });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /\$\.lowLatency: low-latency HLS needs fMP4 segments/);
    const publisher = publishTestPattern(await publishUrl(admin, 'live', 'llcopy', '127.0.0.1'), { seconds: 60, audio: true });
    try {
      const { url: signed } = (await (await fetch(`${api}/streams/live/llcopy/playback`,
        { headers: { Authorization: `Bearer ${admin.token}` } })).json()) as { url: string };
      assert.match(signed, /\/s\/\d+\/[A-Za-z0-9_-]{22}\/live\/llcopy\/master\.m3u8$/);
      for (const rendition of ['source', 'audio']) {
        const url = new URL(`${rendition}/index.m3u8`, signed).href;
        const p = await until(`live/llcopy/${rendition}: parts of two segments`, async () => {
          const res = await fetch(`${url}?_HLS_msn=0`);
          const got = res.ok ? strict(await res.text(), `live/llcopy/${rendition}`) : undefined;
          return got && got.segments.filter((x) => x.uri !== '' && x.parts.length > 0).length >= 2 ? got : undefined;
        }, 60_000, 500);
        assert.deepEqual(p.renditionReports.map((r) => r.uri), [rendition === 'source' ? '../audio/index.m3u8' : '../source/index.m3u8']);
        const whole = p.segments.find((x) => x.uri !== '' && x.parts.length > 0);
        const bytes = async (uri: string): Promise<Buffer> => Buffer.from(await (await fetch(new URL(uri, url))).arrayBuffer());
        const joined = Buffer.concat(await Promise.all((whole?.parts ?? []).map((x) => bytes(x.uri))));
        assert.ok(joined.length > 0 && joined.equals(await bytes(whole?.uri ?? '')), `${rendition}: the parts make the segment`);
        // Without the token: refused, the blocking reload and the part alike (once the edge's maps say it is signed).
        const bare = `http://127.0.0.1:${a?.port ?? 0}/live/llcopy/${rendition}/`;
        await until(`live/llcopy/${rendition}: refused without a token`, async () =>
          ((await fetch(`${bare}index.m3u8?_HLS_msn=0`)).status === 403 ? true : undefined), 20_000, 250);
        assert.equal((await fetch(new URL(whole?.parts[0]?.uri ?? '', bare))).status, 403, 'a part without the token');
      }
    } finally {
      await publisher.stop();
    }
  });

  it('hls.js (low-latency mode) and Shaka Player play at the low-latency edge, from the window\'s start, and back at the edge',
  async function () {
    if (!(await hasChromium())) this.skip();
    const browser = await launchChromium();
    try {
      for (const player of ['hls.js', 'shaka'] as const) {
        await atTheEdgeAndBack(browser, `http://127.0.0.1:${a?.port ?? 0}`, playback, player, 'the demo', 10);
      }
    } finally {
      await browser.close();
    }
  });

  it('a stream an hour long: hls.js and Shaka Player play it at the low-latency edge, an hour back, and back at the edge',
  async function () {
    if (!(await hasChromium())) this.skip();
    this.timeout(300_000);
    const admin = await adminApi(api, a?.dataDir ?? '');
    const made = await createStream(admin, { app: 'live', stream: 'llhour', mode: 'copy', format: 'fmp4', lowLatency: true,
      segmentSeconds: 2, windowSeconds: 2 * HISTORY_SECONDS });
    assert.equal(made.status, 201, await made.text());
    // On air for an hour before this publisher (what a packager leaves on the storage, written in seconds).
    const dir = path.join(a?.dataDir ?? '', 'media', 'live', 'llhour');
    const history = await writeHistory(dir, { video: 'source', audio: 'audio', seconds: HISTORY_SECONDS, endMs: Date.now() - 4000 });
    await fs.writeFile(path.join(dir, STREAM_STATE), JSON.stringify({ status: 'live', eventStartMs: history.startMs, sessions: {} }));
    const publisher = publishTestPattern(await publishUrl(admin, 'live', 'llhour', '127.0.0.1'), { seconds: 240, audio: true });
    const browser = await launchChromium();
    try {
      const master = `http://127.0.0.1:${a?.port ?? 0}/live/llhour/master.m3u8`;
      await until('live/llhour: parts after an hour of segments', async () => {
        const res = await fetch(`http://127.0.0.1:${a?.port ?? 0}/live/llhour/source/index.m3u8?_HLS_msn=0`);
        const text = res.ok ? await res.text() : '';
        return text.includes('#EXT-X-PART:') && text.split('#EXTINF:').length > history.segments ? true : undefined;
      }, 60_000, 500);
      for (const player of ['hls.js', 'shaka'] as const) {
        await atTheEdgeAndBack(browser, `http://127.0.0.1:${a?.port ?? 0}`, master, player, 'an hour long', HISTORY_SECONDS - 60);
      }
    } finally {
      await browser.close();
      await publisher.stop();
    }
  });
});
