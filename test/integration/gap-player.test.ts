// Honest gaps, as players receive them: a publisher that is gone for a few seconds and comes back
// within the reconnect grace leaves EXT-X-GAP entries covering the missing time, so the wall-clock
// timeline stays continuous. hls.js and Shaka Player (headless Chromium, through a real edge) play
// from before the gap across it, never fetch a gap entry, and show the wall-clock time the
// playlist says on either side. Shaka Player also finds the thumbnail track the master playlist
// names, and its pictures.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { TimeShiftServer } from '../../agent/timeshift/server.js';
import { silentLogger } from '../../common/log.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist, type ParsedSegment } from '../support/m3u8.js';
import { kill, publish, startOrigin, type Origin } from '../support/origin.js';
import { freePort, tempDir, until } from '../support/run.js';
import { hasChromium, launchChromium, videoPage } from '../support/chromium.js';

const MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules');
const PLAYERS = {
  'hls.js': path.join(MODULES, 'hls.js/dist/hls.min.js'),
  'Shaka Player': path.join(MODULES, 'shaka-player/dist/shaka-player.compiled.js'),
} as const;
/** How long the publisher stays away: well within the reconnect grace (30 s). */
const AWAY_MS = 6000;

interface Sample { time: number; wallMs: number; paused: boolean; ready: number; errors: string[] }

describe('players across a gap (the publisher gone and back within the reconnect grace)', function () {
  this.timeout(240_000);
  let root: string;
  let origin: Origin;
  let edge: Edge;
  let agent: Agent;
  let browser: Browser;
  let service: TimeShiftServer;
  let publisher: ReturnType<typeof publish> | undefined;
  /** The gap as the video playlist lists it: wall-clock ms. */
  let gap: { fromMs: number; toMs: number };

  before(async function () {
    if (!await hasChromium()) { console.log('      skipped: no Chromium'); this.skip(); }
    root = await tempDir('gaps');
    origin = await startOrigin();
    publisher = publish(origin.rtmpUrl('gap'));
    agent = await Agent.start(parseAgentConfig({ nodeId: 'tc-gap', storageRoot: root,
      encoder: { initialDelayMs: 300, maxDelayMs: 1000 }, jobs: [{ app: 'live', stream: 'gap', source: { url: origin.rtmpUrl('gap') },
        format: 'fmp4', mode: 'copy', segmentSeconds: 1, reconnectGraceSeconds: 30, dvr: { windowSeconds: 600 } }] }),
    silentLogger());
    const port = await freePort();
    service = await TimeShiftServer.start({ root, host: '127.0.0.1', port, maxClips: 1,
      limits: { maxClipSeconds: 30, maxRangeSeconds: 3600 }, log: silentLogger() });
    edge = await startEdge(root, { timeshift: { port, cacheMaxSizeMb: 16 } });
    const playlist = `${edge.url}/live/gap/source/index.m3u8`;
    const segments = async (): Promise<ParsedSegment[]> => {
      const res = await fetch(playlist);
      return res.ok ? parsePlaylist(await res.text()).segments : [];
    };
    await until('eight seconds before the publisher goes', async () => ((await segments()).length >= 8 ? true : undefined), 60_000, 250);
    await kill(publisher);
    await sleep(AWAY_MS);
    publisher = publish(origin.rtmpUrl('gap'));
    const listed = await until('the gap listed, and six seconds after it', async () => {
      const all = await segments();
      const lastGap = all.map((s) => s.gap).lastIndexOf(true);
      return lastGap >= 0 && all.length - lastGap > 6 ? all : undefined;
    }, 60_000, 250);
    const gaps = listed.filter((s) => s.gap);
    const first = gaps[0];
    const last = gaps[gaps.length - 1];
    assert.ok(first && last && first.wallStart !== undefined && last.wallStart !== undefined);
    gap = { fromMs: first.wallStart, toMs: last.wallStart + last.duration * 1000 };
    assert.ok(gap.toMs - gap.fromMs >= AWAY_MS - 2000, `the gap covers the time away (${gap.toMs - gap.fromMs} ms listed)`);
    const audio = parsePlaylist(await (await fetch(`${edge.url}/live/gap/audio/index.m3u8`)).text());
    assert.ok(audio.segments.some((s) => s.gap), 'the audio rendition lists its gap too');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (publisher) await kill(publisher);
    await agent?.close();
    await edge?.stop();
    await service?.close();
    await origin?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  for (const [name, script] of Object.entries(PLAYERS)) {
    it(`${name} plays from before the gap across it, skips it and keeps the wall-clock timeline`, async () => {
      const master = `${edge.url}/live/gap/master.m3u8`;
      const page: Page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => { requests.push(r.url()); });
      try {
        await videoPage(page, edge.url, script);
        // Each player reports the wall-clock time of the frame on screen its own way.
        await page.evaluate(name === 'hls.js' ? `(() => {
          window.errors = [];
          const hls = new Hls({ liveDurationInfinity: true });
          hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.errors.push(d.details); });
          hls.loadSource(${JSON.stringify(master)});
          hls.attachMedia(document.getElementById('v'));
          hls.on(Hls.Events.MANIFEST_PARSED, () => { document.getElementById('v').play().catch(() => undefined); });
          window.wallMs = () => (hls.playingDate ? hls.playingDate.getTime() : NaN);
        })()` : `(() => {
          window.errors = [];
          shaka.polyfill.installAll();
          const player = new shaka.Player();
          player.addEventListener('error', (e) => window.errors.push(String(e.detail && e.detail.code)));
          window.wallMs = () => { const d = player.getPlayheadTimeAsDate(); return d ? d.getTime() : NaN; };
          player.attach(document.getElementById('v')).then(() => player.load(${JSON.stringify(master)}))
            .then(() => document.getElementById('v').play()).catch((e) => window.errors.push(String(e && e.code)));
        })()`);
        const sample = async (): Promise<Sample> => await page.evaluate(`(() => {
          const v = document.getElementById('v');
          return { time: v.currentTime, wallMs: window.wallMs(), paused: v.paused, ready: v.readyState, errors: window.errors };
        })()`) as Sample;
        const playing = (what: string, check: (s: Sample) => boolean): Promise<Sample> => until(what, async () => {
          const s = await sample();
          assert.deepEqual(s.errors, [], `${name} reported errors`);
          return !s.paused && s.ready >= 3 && Number.isFinite(s.wallMs) && check(s) ? s : undefined;
        }, 60_000, 100);

        const live = await playing(`${name}: playing live`, () => true);
        // Four seconds before the gap, by the player's own mapping of media time to wall-clock time.
        const target = live.time - (live.wallMs - (gap.fromMs - 4000)) / 1000;
        await page.evaluate(`document.getElementById('v').currentTime = ${target}`);
        const before = await playing(`${name}: playing before the gap`,
          (s) => s.wallMs < gap.fromMs && s.wallMs > gap.fromMs - 6000);
        const after = await playing(`${name}: playing after the gap`, (s) => s.wallMs > gap.toMs + 1000);
        const wallSpan = after.wallMs - before.wallMs;
        const mediaSpan = (after.time - before.time) * 1000;
        assert.ok(Math.abs(wallSpan - mediaSpan) < 1000,
          `the player's timeline keeps the gap: ${wallSpan} ms of wall-clock time over ${mediaSpan.toFixed(0)} ms of its timeline`);
        assert.ok(after.wallMs - before.wallMs > gap.toMs - gap.fromMs, 'crossed the whole gap');
        assert.deepEqual(requests.filter((u) => u.endsWith('.gap')), [], 'no gap entry was fetched');
      } finally {
        await page.close();
      }
    });
  }

  it('Shaka Player finds the thumbnail track the master playlist names, and a picture of the moment asked', async () => {
    const page: Page = await browser.newPage();
    try {
      await videoPage(page, edge.url, PLAYERS['Shaka Player']);
      const found = await page.evaluate(`(async () => {
        shaka.polyfill.installAll();
        const player = new shaka.Player();
        await player.attach(document.getElementById('v'));
        await player.load(${JSON.stringify(`${edge.url}/live/gap/master.m3u8`)});
        const tracks = player.getImageTracks();
        const range = player.seekRange();
        const thumb = tracks.length ? await player.getThumbnails(tracks[0].id, range.start + 4) : null;
        return { tracks: tracks.map((t) => ({ width: t.width, height: t.height })), uris: thumb ? thumb.uris : [] };
      })()`) as { tracks: Array<{ width: number; height: number }>; uris: string[] };
      assert.deepEqual(found.tracks, [{ width: 160, height: 90 }], 'one thumbnail track, 160x90');
      const uri = found.uris[0] ?? '';
      assert.match(uri, /\/live\/gap\/thumb-\d+\.jpg$/);
      const picture = await fetch(uri);
      assert.equal(picture.status, 200, `${uri}: ${picture.status}`);
      assert.equal(picture.headers.get('content-type'), 'image/jpeg');
    } finally {
      await page.close();
    }
  });
});
