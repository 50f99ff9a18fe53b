// "Start over", the DVR's most common use, for every player and every kind of stream: hls.js, dash.js
// and Shaka Player (HLS and DASH) in headless Chromium seek to 1 s after the start of the window of
// a published stream (copy and transcode, fMP4 and TS, with and without audio, and a window that
// has slid) and play on from there. The publisher is a camera as they come: B-frames, and video
// that starts 0.7 s after the audio. The listed times are the media's own: an MPD's S@t is its
// segment's first presentation time, and the HLS renditions' dates keep audio and video in step.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { TimeShiftServer } from '../../agent/timeshift/server.js';
import { silentLogger } from '../../common/log.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist } from '../support/m3u8.js';
import { kill, startOrigin, type Origin } from '../support/origin.js';
import { freePort, run, tempDir, until } from '../support/run.js';
import { hasChromium, launchChromium, videoPage } from '../support/chromium.js';

const MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules');
const SCRIPTS = {
  'hls.js': path.join(MODULES, 'hls.js/dist/hls.min.js'),
  'dash.js': path.join(MODULES, 'dashjs/dist/modern/umd/dash.all.min.js'),
  shaka: path.join(MODULES, 'shaka-player/dist/shaka-player.compiled.js'),
} as const;

/** The streams: what each is, its job, and whether it has a DASH MPD (fMP4). */
const STREAMS = {
  copy: { what: 'copy mode, fMP4, video and audio', job: { mode: 'copy', format: 'fmp4' }, source: 'camera', dash: true },
  mute: { what: 'copy mode, fMP4, video only', job: { mode: 'copy', format: 'fmp4' }, source: 'mute', dash: true },
  ladder: { what: 'a transcode ladder, fMP4', job: { mode: 'transcode', format: 'fmp4',
    ladder: [{ name: 'r180', height: 180, videoKbps: 300 }, { name: 'audio', audioKbps: 64 }] }, source: 'camera', dash: true },
  ts: { what: 'copy mode, TS', job: { mode: 'copy', format: 'ts' }, source: 'camera', dash: false },
  tsladder: { what: 'a transcode ladder, TS', job: { mode: 'transcode', format: 'ts',
    ladder: [{ name: 'r180', height: 180, videoKbps: 300, audioKbps: 64 }] }, source: 'camera', dash: false },
  slid: { what: 'copy mode, fMP4, a 24 s window that has slid', job: { mode: 'copy', format: 'fmp4', dvr: { windowSeconds: 24 } },
    source: 'camera', dash: true },
  // The keyframe interval libx264 and OBS default to: copied, every segment is 10 s long.
  slow: { what: 'copy mode, fMP4, 10 s between keyframes', job: { mode: 'copy', format: 'fmp4' }, source: 'slowcam', dash: true },
} as const;
type StreamName = keyof typeof STREAMS;

/** A camera as publishers send it: libx264's B-frames, 2 s GOPs (or `gop` frames), and its video 0.7 s after its audio. */
function camera(url: string, audio: boolean, gop = 50): ReturnType<typeof spawn> {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error',
    '-re', '-itsoffset', '0.7', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
    ...(audio ? ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-map', '0:v', '-map', '1:a',
      '-c:a', 'aac', '-b:a', '64k'] : ['-map', '0:v']),
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-b:v', '400k',
    '-f', 'flv', url], { stdio: 'ignore' });
}

interface Sample { time: number; start: number; paused: boolean; ready: number; errors: string[] }

/**
 * Player set-ups: each exposes window.sample() and window.seekTo(offset), which seeks `offset`
 * seconds after the start of the window as the player sees it at that moment (Shaka Player moves
 * the start of a live HLS window with the clock) and returns where that is.
 */
function setup(player: 'hls.js' | 'dash.js' | 'shaka', url: string): string {
  const common = `window.errors = []; const v = document.getElementById('v');
    window.sample = () => ({ time: v.currentTime, start: window.windowStart(), paused: v.paused, ready: v.readyState,
      errors: window.errors });`;
  if (player === 'hls.js') {
    return `(() => { ${common}
      // As the player page sets it up: the window is the seekable range (by default hls.js's starts at 0).
      const hls = new Hls({ liveDurationInfinity: true });
      hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.errors.push(d.details); });
      hls.loadSource(${JSON.stringify(url)});
      hls.attachMedia(v);
      hls.on(Hls.Events.MANIFEST_PARSED, () => { v.play().catch(() => undefined); });
      window.windowStart = () => (v.seekable.length ? v.seekable.start(0) : NaN);
      // Right after a playlist refresh, from the window it lists: a sliding window's first segment
      // leaves it at the next one, and hls.js goes to live when its position is outside the window
      // before it has enough to play (the player page keeps 2 s inside the window for that reason).
      window.seekTo = (offset) => new Promise((resolve) => hls.once(Hls.Events.LEVEL_UPDATED, (_e, d) => {
        v.currentTime = Math.max(0, d.details.fragmentStart) + offset;
        resolve(v.currentTime);
      }));
    })()`;
  }
  if (player === 'dash.js') {
    return `(() => { ${common}
      const p = dashjs.MediaPlayer().create();
      p.updateSettings({ debug: { logLevel: 1 } });
      p.on('error', (e) => window.errors.push(JSON.stringify(e.error ?? e).slice(0, 300)));
      p.initialize(v, ${JSON.stringify(url)}, true);
      window.windowStart = () => { const w = p.getDvrWindow ? p.getDvrWindow() : undefined; return w ? w.start : NaN; };
      // dash.js seeks within its DVR window: a time from the window's start.
      window.seekTo = (offset) => { const start = window.windowStart(); p.seek(offset); return start + offset; };
    })()`;
  }
  return `(() => { ${common}
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    // Where it is asked to: not moved on towards live to keep a safety margin from the window's start.
    p.configure({ streaming: { safeSeekOffset: 0 } });
    p.addEventListener('error', (e) => window.errors.push(String(e.detail && e.detail.code)));
    p.attach(v).then(() => p.load(${JSON.stringify(url)})).then(() => v.play()).catch((e) => window.errors.push(String(e && e.code)));
    window.windowStart = () => p.seekRange().start;
    window.seekTo = (offset) => { v.currentTime = window.windowStart() + offset; return v.currentTime; };
  })()`;
}

/** The first presentation time of a segment (ffprobe, applying its init's edit list), seconds. */
async function firstPts(initUrl: string | undefined, segmentUrl: string): Promise<number> {
  const dir = await tempDir('pts');
  try {
    const parts = await Promise.all([...(initUrl ? [initUrl] : []), segmentUrl]
      .map(async (u) => Buffer.from(await (await fetch(u)).arrayBuffer())));
    const file = path.join(dir, 'segment');
    await fs.writeFile(file, Buffer.concat(parts));
    const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
    const times = r.stdout.trim().split('\n').map(Number).filter((t) => Number.isFinite(t));
    assert.ok(times.length > 0, `${segmentUrl}: ffprobe read no packets: ${r.stderr}`);
    return Math.min(...times);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('start over: every player plays from the first seconds of the window of every kind of stream (headless Chromium)', function () {
  this.timeout(240_000);
  let root: string;
  let origin: Origin;
  let edge: Edge;
  let agent: Agent;
  let browser: Browser;
  let service: TimeShiftServer;
  const publishers: Array<ReturnType<typeof spawn>> = [];

  before(async function () {
    if (!await hasChromium()) { console.log('      skipped: no Chromium'); this.skip(); }
    root = await tempDir('start-over');
    origin = await startOrigin();
    publishers.push(camera(origin.rtmpUrl('camera'), true), camera(origin.rtmpUrl('mute'), false),
      camera(origin.rtmpUrl('slowcam'), true, 250));
    agent = await Agent.start(parseAgentConfig({ nodeId: 'tc-start-over', storageRoot: root,
      encoder: { initialDelayMs: 300, maxDelayMs: 2000 },
      jobs: Object.entries(STREAMS).map(([stream, s]) => ({ app: 'live', stream, source: { url: origin.rtmpUrl(s.source) },
        segmentSeconds: 2, dvr: { windowSeconds: 600 }, ...s.job })) }), silentLogger());
    // The edge as deployed: with its time-shift service (Shaka Player loads the thumbnail track it makes).
    const port = await freePort();
    service = await TimeShiftServer.start({ root, host: '127.0.0.1', port, maxClips: 1,
      limits: { maxClipSeconds: 30, maxRangeSeconds: 3600 }, log: silentLogger() });
    edge = await startEdge(root, { timeshift: { port, cacheMaxSizeMb: 16 } });
    // A window worth starting over in (its live edge 3 segments back), and the short one slid past its start.
    for (const stream of Object.keys(STREAMS)) {
      const seconds = stream === 'slow' ? 50 : 20;
      await until(`live/${stream}: ${seconds} s listed`, async () => {
        const master = await fetch(`${edge.url}/live/${stream}/master.m3u8`);
        if (!master.ok) return undefined;
        const variant = parsePlaylist(await master.text()).variants[0]?.uri ?? '';
        const res = await fetch(new URL(variant, `${edge.url}/live/${stream}/master.m3u8`));
        const p = res.ok ? parsePlaylist(await res.text()) : undefined;
        return p && p.segments.reduce((a, x) => a + x.duration, 0) >= seconds ? p : undefined;
      }, 90_000, 500);
    }
    await until('live/slid: its oldest segments purged', async () => {
      const p = parsePlaylist(await (await fetch(`${edge.url}/live/slid/source/index.m3u8`)).text());
      return p.mediaSequence >= 3 ? true : undefined;
    }, 60_000, 500);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const p of publishers) await kill(p);
    await agent?.close();
    await edge?.stop();
    await service?.close();
    await origin?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('the listed times are the media\'s own: S@t is each segment\'s first presentation time, the Period\'s offset one for all; '
    + 'the HLS renditions\' dates keep audio and video in step', async () => {
    const base = `${edge.url}/live/copy/`;
    const mpd = await (await fetch(`${base}manifest.mpd`)).text();
    const reps = [...mpd.matchAll(/<Representation id="([^"]+)"[^>]*>\s*<SegmentTemplate ([^>]*)>\s*<SegmentTimeline><S t="(\d+)"/g)]
      .map((m) => ({ id: m[1] ?? '', attrs: m[2] ?? '', t: Number(m[3]) }));
    assert.deepEqual(reps.map((r) => r.id), ['source', 'audio']);
    const pto = reps.map((r) => Number(/presentationTimeOffset="(\d+)"/.exec(r.attrs)?.[1]));
    assert.equal(pto[0], pto[1], `one offset for both representations of the Period: ${pto.join(', ')}`);
    for (const r of reps) {
      const start = Number(/startNumber="(\d+)"/.exec(r.attrs)?.[1]);
      const init = /initialization="([^"]+)"/.exec(r.attrs)?.[1] ?? '';
      const media = `${base}${r.id}/dash/${String(start).padStart(9, '0')}.m4s`;
      const pts = await firstPts(`${base}${init}`, media);
      const frame = r.id === 'audio' ? 1024 / 48_000 : 1 / 25;
      assert.ok(Math.abs(r.t / 1e6 - pts) <= frame + 0.001, `${r.id}: S@t ${r.t / 1e6} s, its media starts at ${pts} s`);
    }
    // HLS: the first segments of video and audio, dated by the one clock of their encoder session.
    const firstOf = async (rendition: string): Promise<{ pdt: number; pts: number }> => {
      const url = `${base}${rendition}/index.m3u8`;
      const p = parsePlaylist(await (await fetch(url)).text());
      const seg = p.segments[0];
      assert.ok(seg?.programDateTime !== undefined && seg.map !== undefined, `${rendition}: a dated fMP4 segment`);
      return { pdt: seg.programDateTime, pts: await firstPts(new URL(seg.map, url).href, new URL(seg.uri, url).href) };
    };
    const [v, a] = [await firstOf('source'), await firstOf('audio')];
    const skew = (v.pdt - a.pdt) / 1000 - (v.pts - a.pts);
    assert.ok(Math.abs(skew) <= 1 / 25 + 0.002, `audio and video ${skew.toFixed(3)} s apart by their dates (video starts at `
      + `${v.pts} s, audio at ${a.pts} s of media)`);
  });

  it('a copied source with 10 s between keyframes is not taken for stalled: its encoder was never restarted', async () => {
    const figures = (await agent.heartbeatBody()).streams.find((f) => f.stream === 'slow');
    assert.equal(figures?.restarts, 0, 'the encoder ran on through 10 s segments');
    const p = parsePlaylist(await (await fetch(`${edge.url}/live/slow/source/index.m3u8`)).text());
    assert.ok(p.segments.every((x) => !x.discontinuity && !x.gap), 'one session: no discontinuity, no gap');
    assert.ok(p.segments.slice(0, -1).every((x) => Math.abs(x.duration - 10) < 0.1), `10 s segments: ${p.segments.map((x) => x.duration)}`);
  });

  for (const [stream, s] of Object.entries(STREAMS) as Array<[StreamName, (typeof STREAMS)[StreamName]]>) {
    type Run = readonly ['hls.js' | 'dash.js' | 'shaka', 'master.m3u8' | 'manifest.mpd'];
    const dash: Run[] = [['dash.js', 'manifest.mpd'], ['shaka', 'manifest.mpd']];
    const runs: Run[] = [['hls.js', 'master.m3u8'], ['shaka', 'master.m3u8'], ...(s.dash ? dash : [])];
    for (const [player, file] of runs) {
      const label = player !== 'shaka' ? player : `Shaka Player (${file === 'manifest.mpd' ? 'DASH' : 'HLS'})`;
      it(`${label}, ${s.what}: ${stream === 'slid' ? 'seconds' : '1 s'} after the window's start, it plays on from there`, async () => {
        const page: Page = await browser.newPage();
        try {
          await videoPage(page, edge.url, SCRIPTS[player]);
          await page.evaluate(setup(player, `${edge.url}/live/${stream}/${file}`));
          const sample = async (): Promise<Sample> => await page.evaluate('window.sample()') as Sample;
          let last: Sample | undefined;
          const playing = (what: string, check: (x: Sample) => boolean): Promise<Sample> => until(`${label}, ${stream}: ${what}`,
            async () => {
              const x = await sample();
              last = x;
              assert.deepEqual(x.errors, [], `${label} reported errors on live/${stream}`);
              return !x.paused && x.ready >= 3 && Number.isFinite(x.start) && check(x) ? x : undefined;
            }, 40_000, 100).catch((err: Error) => { throw new Error(`${err.message}; the player last said ${JSON.stringify(last)}`); });
          // The slid window starts after the three segments (6 s) purged before the test: a player that
          // says it starts earlier (Shaka Player said 0.07 once, on a loaded machine) has not read its playlist yet.
          const first = await playing('playing live', (x) => stream !== 'slid' || x.start >= 4);
          // Settled at live before the seek: a second played on (Shaka Player, just started on a loaded
          // machine, once put itself back at live after a seek made at once, and played on from there).
          const live = await playing('playing live for a second', (x) => x.time >= first.time + 1);
          assert.ok(live.time - live.start > 12, `a window to start over in: ${live.start.toFixed(1)} .. ${live.time.toFixed(1)}`);
          // A sliding window drops its first segment every 2 s: where that is, the seek goes two segments further
          // in, so a player that takes a second or two to load (a loaded machine) still lands inside the window
          // (hls.js jumps to live from a position before it, as it should).
          const offset = stream === 'slid' ? 5 : 1;
          const target = await page.evaluate(`window.seekTo(${offset})`) as number;
          // A player that finds the target's segment outside its window takes the next one: at most a segment later.
          const segment = stream === 'slow' ? 10 : 2;
          const landed = await playing(`playing from ${offset} s into the window (at ${target.toFixed(2)}; live was `
            + `${JSON.stringify(live)})`,
            (x) => x.time >= target - 1 && x.time < target + segment + 2);
          const onward = await playing('playing on', (x) => x.time > landed.time + 2);
          assert.ok(onward.time < landed.time + 8, `it played on from where it landed, not back at live (${landed.time.toFixed(1)} -> `
            + `${onward.time.toFixed(1)}, live at ${live.time.toFixed(1)})`);
        } finally {
          await page.close();
        }
      });
    }
  }
});
