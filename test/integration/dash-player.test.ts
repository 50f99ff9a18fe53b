// DASH as dash.js (the DASH-IF reference player) receives it, for every fMP4 stream the API can
// create: copy mode (the publisher's video and audio split into two representations; dash.js plays
// no Representation that muxes both) and a transcode ladder, live from an RTMP publisher through a
// real edge. dash.js takes its clock from the edge's /_time (never a public time server), plays,
// seeks back into the window, plays from there and returns live; and in a window of more than an
// hour, seeks back an hour.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { STREAM_STATE } from '../../packager/layout.js';
import { silentLogger } from '../../common/log.js';
import { startEdge, type Edge } from '../support/edge.js';
import { writeHistory } from '../support/history.js';
import { kill, publish, startOrigin, type Origin } from '../support/origin.js';
import { tempDir, until } from '../support/run.js';
import { hasChromium, launchChromium, videoPage } from '../support/chromium.js';

const DASHJS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules/dashjs/dist/modern/umd/dash.all.min.js');

/** How much live/long holds when the agent starts: an hour and a minute. */
const HISTORY_SECONDS = 3664;

interface State { time: number; paused: boolean; ready: number; live: number; start: number; errors: string[]; tracks: string[] }

/** dash.js on a page of the edge's origin, playing `mpdUrl`: its state, and a wait for it to play as wanted. */
async function openPlayer(browser: Browser, edgeUrl: string, mpdUrl: string): Promise<{
  page: Page; requests: string[]; patches: string[]; state: () => Promise<State>;
  playing: (what: string, check: (s: State) => boolean) => Promise<State>;
}> {
  const page: Page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => { requests.push(r.url()); });
  // The MPD updates answered as patches (the others were the whole MPD: no newer version yet).
  const patches: string[] = [];
  page.on('response', (r) => { if (r.headers()['content-type'] === 'application/dash-patch+xml') patches.push(r.url()); });
  await videoPage(page, edgeUrl, DASHJS);
  await page.evaluate(`(() => {
    window.errors = [];
    const p = dashjs.MediaPlayer().create();
    p.updateSettings({ debug: { logLevel: 1 } });
    p.on('error', (e) => window.errors.push(JSON.stringify(e.error ?? e).slice(0, 300)));
    p.initialize(document.getElementById('v'), ${JSON.stringify(mpdUrl)}, true);
    window.player = p;
  })()`);
  const state = async (): Promise<State> => await page.evaluate(`(() => {
    const v = document.getElementById('v');
    const p = window.player;
    const w = p.getDvrWindow ? p.getDvrWindow() : undefined;
    return { time: v.currentTime, paused: v.paused, ready: v.readyState, live: w ? w.end : NaN, start: w ? w.start : NaN,
      errors: window.errors, tracks: ['video', 'audio'].filter((t) => (p.getTracksFor(t) || []).length > 0) };
  })()`) as State;
  let last: State | undefined;
  const playing = async (what: string, check: (s: State) => boolean): Promise<State> => until(what, async () => {
    const s = await state();
    last = s;
    assert.deepEqual(s.errors, [], `dash.js reported errors (${mpdUrl})`);
    return !s.paused && s.ready >= 3 && check(s) ? s : undefined;
  }, 40_000, 100).catch((err: Error) => { throw new Error(`${err.message}; dash.js last said ${JSON.stringify(last)}`); });
  return { page, requests, patches, state, playing };
}

/** Seconds of media an MPD lists, summed over its representations. */
function listedSeconds(mpd: string): number {
  return [...mpd.matchAll(/<S [^>]*d="(\d+)"(?: r="(\d+)")?/g)].reduce((a, m) => a + Number(m[1]) * (1 + Number(m[2] ?? 0)), 0) / 1e6;
}

describe('dash.js plays every fMP4 stream (headless Chromium, live through an edge)', function () {
  this.timeout(240_000);
  let root: string;
  let origin: Origin;
  let edge: Edge;
  let agent: Agent;
  let browser: Browser;
  const publishers: Array<ReturnType<typeof publish>> = [];

  before(async function () {
    if (!await hasChromium()) { console.log('      skipped: no Chromium'); this.skip(); }
    root = await tempDir('dashjs');
    origin = await startOrigin();
    // live/long was on air for an hour before this agent started (2 s segments); its publisher is back.
    const longDir = path.join(root, 'live', 'long');
    const history = await writeHistory(longDir, { video: 'source', audio: 'audio', seconds: HISTORY_SECONDS, endMs: Date.now() - 4000 });
    await fs.writeFile(path.join(longDir, STREAM_STATE), JSON.stringify({ status: 'live', eventStartMs: history.startMs, sessions: {} }));
    publishers.push(publish(origin.rtmpUrl('copy')), publish(origin.rtmpUrl('ladder')), publish(origin.rtmpUrl('long')));
    const job = (stream: string): Record<string, unknown> => ({ app: 'live', stream, source: { url: origin.rtmpUrl(stream) },
      format: 'fmp4', segmentSeconds: 1, dvr: { windowSeconds: 120 } });
    agent = await Agent.start(parseAgentConfig({ nodeId: 'tc-dash', storageRoot: root,
      encoder: { initialDelayMs: 300, maxDelayMs: 2000 }, jobs: [{ ...job('copy'), mode: 'copy' },
        { ...job('ladder'), mode: 'transcode',
          ladder: [{ name: 'r360', height: 360, videoKbps: 500 }, { name: 'audio', audioKbps: 64 }] },
        { ...job('long'), mode: 'copy', segmentSeconds: 2, dvr: { windowSeconds: 2 * HISTORY_SECONDS } }] }),
    silentLogger());
    edge = await startEdge(root);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const p of publishers) await kill(p);
    await agent?.close();
    await edge?.stop();
    await origin?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  for (const stream of ['copy', 'ladder']) {
    it(`${stream === 'copy' ? 'copy mode (the source split into video and audio)' : 'a transcode ladder'}: plays live, seeks back `
      + 'and returns live, its clock from the edge', async () => {
      const mpdUrl = `${edge.url}/live/${stream}/manifest.mpd`;
      // Fourteen seconds of DVR to seek into (the S@d of both representations add up to twice that).
      await until(`${stream}: 14 s in the MPD`, async () => {
        const res = await fetch(mpdUrl);
        const text = res.ok ? await res.text() : '';
        return text.includes('contentType="audio"') && listedSeconds(text) >= 28 ? text : undefined;
      }, 60_000, 500);
      const mpd = await (await fetch(mpdUrl)).text();
      assert.match(mpd, /<AdaptationSet id="0" contentType="video"[^>]*>\n<Representation [^>]*codecs="avc1\.[0-9a-fA-F]+"/,
        'video without audio');
      assert.match(mpd, /<AdaptationSet id="1" contentType="audio"[^>]*>\n<Representation [^>]*codecs="mp4a\.40\.2"/, 'audio on its own');

      const { page, requests, patches, playing } = await openPlayer(browser, edge.url, mpdUrl);
      try {
        const first = await playing(`${stream}: dash.js to play live`, () => true);
        const atLive = await playing(`${stream}: playback to advance`, (s) => s.time > first.time + 2);
        assert.deepEqual(atLive.tracks, ['video', 'audio'], 'a video and an audio track');
        assert.ok(atLive.live - atLive.time < 12, `near the live edge (${(atLive.live - atLive.time).toFixed(1)} s behind)`);

        const target = atLive.start + 3;
        await page.evaluate(`window.player.seek(${target - atLive.start})`);
        const back = await playing(`${stream}: playing from the start of the window`,
          (s) => Math.abs(s.time - target) < 4 && s.time > target);
        assert.ok(back.live - back.time > 8, `rewound: ${(back.live - back.time).toFixed(1)} s behind live`);

        await page.evaluate('window.player.seekToOriginalLive()');
        const again = await playing(`${stream}: back at live`, (s) => s.live - s.time < 12);
        assert.ok(again.time > back.time + 5, 'went forward to live');
        // Its MPD updates were patches (MPD Patch: PatchLocation), and it kept up with the live edge on them.
        const patched = await until(`${stream}: MPD updates by patch`, () => (patches.length >= 3 ? patches.length : undefined),
          30_000, 200);
        assert.ok(patched >= 3, 'dash.js updated the MPD by patches');
        // A patch dash.js refuses makes it load the MPD itself again.
        assert.equal(requests.filter((u) => u === mpdUrl).length, 1, 'every patch applied: the MPD was loaded once');
        await playing(`${stream}: still at live after the patches`, (s) => s.live - s.time < 12 && s.time > again.time + 2);

        assert.ok(requests.some((u) => u === `${edge.url}/_time`), 'dash.js read the clock from the edge');
        const elsewhere = requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('data:') && !u.startsWith('about:'));
        assert.deepEqual(elsewhere, [], 'nothing fetched beyond the edge (no public time server)');
      } finally {
        await page.close();
      }
    });
  }

  it('a window of more than an hour: the MPD stays small, dash.js seeks back an hour, plays from there and returns live',
    async () => {
      const mpdUrl = `${edge.url}/live/long/manifest.mpd`;
      // The stored hour is Period p0; the publisher's new session, p1.
      const mpd = await until('live/long: the new session listed after the stored hour', async () => {
        const res = await fetch(mpdUrl);
        const text = res.ok ? await res.text() : '';
        return /<Period id="p1"[^]*contentType="audio"/.test(text) && listedSeconds(text) >= 2 * HISTORY_SECONDS + 12 ? text : undefined;
      }, 60_000, 500);
      assert.ok(mpd.length < 5000, `an hour of video and audio listed in ${mpd.length} bytes`);
      const timelines = /<Representation id="([^"]+)"[^>]*>\s*<SegmentTemplate [^>]*>\s*<SegmentTimeline>(.*?)<\/SegmentTimeline>/gs;
      for (const m of mpd.matchAll(timelines)) {
        const entries = (m[2] ?? '').match(/<S /g)?.length ?? 0;
        assert.ok(entries <= 2, `${m[1]}: ${entries} <S> in one Period (${m[2]}): the audio's alternating durations are not folded`);
      }

      const { page, playing } = await openPlayer(browser, edge.url, mpdUrl);
      try {
        const atLive = await playing('long: dash.js to play live', (s) => s.live - s.time < 12);
        assert.ok(atLive.live - atLive.start > HISTORY_SECONDS, `a DVR window of ${(atLive.live - atLive.start).toFixed(0)} s`);
        const target = atLive.live - 3600;
        await page.evaluate(`window.player.seek(${target - atLive.start})`);
        const back = await playing('long: playing an hour back', (s) => Math.abs(s.time - target) < 6 && s.time > target);
        const onward = await playing('long: playing on from an hour back', (s) => s.time > back.time + 3);
        assert.ok(onward.live - onward.time > 3500, `an hour back: ${(onward.live - onward.time).toFixed(1)} s behind live`);

        await page.evaluate('window.player.seekToOriginalLive()');
        const again = await playing('long: back at live', (s) => s.live - s.time < 12);
        assert.ok(again.time > onward.time + 3000, 'went forward to live');
      } finally {
        await page.close();
      }
    });
});
