// Low-latency HLS as the README's first command serves it: the demo stream's parts, blocking
// reloads and preload hints through the appliance's edge, checked by an independent parser
// (hls-parser, strict) and against RFC 8216bis's rules, and played by hls.js and Shaka Player in
// Chromium at the low-latency edge and from the start of the window it has.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, setOptions, types } from 'hls-parser';
import { freePort, tempDir, until } from '../support/run.js';
import { hasChromium, launchChromium, videoPage } from '../support/chromium.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODULES = path.join(ROOT, '..', 'node_modules');

interface Running { dataDir: string; port: number; proc: ReturnType<typeof spawn>; playback: string; api: string }

/** `dvr start` on free ports; resolves once it prints playback:. */
async function startAppliance(): Promise<Running> {
  const dataDir = await tempDir('ll-appliance');
  const [port, apiPort, rtmpPort, statusPort, timeshiftPort] = [await freePort(), await freePort(), await freePort(), await freePort(),
    await freePort()];
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/dvr.cjs'), 'start'], {
    env: { ...process.env, DVR_DATA_DIR: dataDir, DVR_HTTP_PORT: String(port), DVR_HTTP_HOST: '127.0.0.1', DVR_API_PORT: String(apiPort),
      DVR_RTMP_PORT: String(rtmpPort), DVR_RTMP_STATUS_PORT: String(statusPort), DVR_TIMESHIFT_PORT: String(timeshiftPort),
      DVR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  const line = (name: string): Promise<string> => until(`the ${name}: line`, () => {
    if (proc.exitCode !== null) throw new Error(`dvr start exited (${proc.exitCode}): ${stderr.slice(-2000)}`);
    return lines.map((l) => new RegExp(`^${name}: (\\S+)$`).exec(l)?.[1]).find((u) => u !== undefined);
  }, 90_000, 200);
  const playback = await line('playback');
  return { dataDir, port, proc, playback, api: await line('api') };
}

setOptions({ strictMode: true });

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

describe('low-latency HLS: the appliance\'s demo stream through its edge', function () {
  this.timeout(240_000);
  let a: Running | undefined;
  let media = '';
  before(async () => {
    a = await startAppliance();
    media = new URL('r720/index.m3u8', a.playback).href;
    // Parts, and a window longer than CAN-SKIP-UNTIL (12 s): a delta update skips something.
    await until('parts and 8 segments in a blocking reload', async () => {
      const res = await fetch(`${media}?_HLS_msn=0`);
      const text = res.ok ? await res.text() : '';
      return text.includes('#EXT-X-PART:') && text.split('#EXTINF:').length > 8 ? true : undefined;
    }, 60_000, 250);
  });
  after(async () => {
    if (a) {
      a.proc.kill('SIGINT');
      await new Promise((r) => a?.proc.once('exit', r));
      await fs.rm(a.dataDir, { recursive: true, force: true });
    }
  });

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
    assert.equal((await fetch(`${a?.playback ?? ''}?start=-4`)).status, 200, 'a time-shift URL');
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

  it('a copy-mode stream (lowLatency through the API) from an RTMP publisher: parts of its video and of its audio, each '
    + 'making its segments', async () => {
    const token = (await fs.readFile(path.join(a?.dataDir ?? '', 'controller', 'admin-token'), 'utf8')).trim();
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const made = await fetch(`${a?.api ?? ''}/streams`, { method: 'POST', headers: auth,
      body: JSON.stringify({ app: 'live', stream: 'llcopy', mode: 'copy', format: 'fmp4', lowLatency: true }) });
    assert.equal(made.status, 201, await made.text());
    const refused = await fetch(`${a?.api ?? ''}/streams`, { method: 'POST', headers: auth,
      body: JSON.stringify({ app: 'live', stream: 'llts', format: 'ts', lowLatency: true }) });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /\$\.lowLatency: low-latency HLS needs fMP4 segments/);
    const publish = ((await (await fetch(`${a?.api ?? ''}/streams/live/llcopy/publish`, { headers: auth })).json()) as { url: string }).url
      .replace(/\/\/[^/:]+:/, '//127.0.0.1:');
    const publisher = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast',
      '-g', '50', '-c:a', 'aac', '-f', 'flv', publish], { stdio: 'ignore' });
    try {
      for (const rendition of ['source', 'audio']) {
        const url = `http://127.0.0.1:${a?.port ?? 0}/live/llcopy/${rendition}/index.m3u8`;
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
      }
    } finally {
      publisher.kill('SIGINT');
      await once(publisher, 'exit');
    }
  });

  it('hls.js (low-latency mode) and Shaka Player play at the low-latency edge, from the window\'s start, and back at the edge',
  async function () {
    if (!(await hasChromium())) this.skip();
    const browser = await launchChromium();
    try {
      for (const player of ['hls.js', 'shaka'] as const) {
        const page = await browser.newPage();
        await videoPage(page, `http://127.0.0.1:${a?.port ?? 0}`, player === 'hls.js' ? path.join(MODULES, 'hls.js/dist/hls.min.js')
          : path.join(MODULES, 'shaka-player/dist/shaka-player.compiled.js'));
        await page.evaluate(player === 'hls.js' ? `(() => { const v = document.getElementById('v');
          const hls = new Hls({ lowLatencyMode: true, liveDurationInfinity: true }); window.p = hls;
          hls.loadSource(${JSON.stringify(a?.playback)}); hls.attachMedia(v); v.play();
          window.latency = () => Date.now() - (hls.playingDate ? hls.playingDate.getTime() : NaN);
          window.parts = () => hls.levels.some((l) => l.details && l.details.partList && l.details.partList.length > 0); })()`
          : `(() => { shaka.polyfill.installAll(); const v = document.getElementById('v'); const p = new shaka.Player(); window.p = p;
          p.configure({ streaming: { lowLatencyMode: true } });
          p.attach(v).then(() => p.load(${JSON.stringify(a?.playback)})).then(() => v.play());
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
        console.log(`      ${player}: ${player === 'hls.js' ? 'behind the publisher\'s clock' : 'behind its live edge'} p50 `
          + `${(p50 / 1000).toFixed(2)} s `
          + `(min ${((samples[0] ?? 0) / 1000).toFixed(2)}, max ${((samples[9] ?? 0) / 1000).toFixed(2)})`);
        // Closer than a player without low latency sits (three target durations).
        assert.ok(p50 < 6000, `${player}: ${p50} ms behind`);
        // Back to the window's start, and on from there.
        const target = await page.evaluate(`(() => { const v = document.getElementById('v'); const r = v.seekable;
          v.currentTime = r.start(0) + 1; return v.currentTime; })()`) as number;
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
    } finally {
      await browser.close();
    }
  });
});
