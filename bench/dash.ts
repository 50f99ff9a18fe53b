// The MPD at long windows: what each added segment costs the packager (render and write the MPD of
// a copy-mode stream, a video and an AAC audio representation, and the patches from the last four
// versions) and what a refresh weighs, whole and as a patch, at 1 h, 24 h and 7 d of 2 s segments
// listed (an unbounded window or no playlist cap: the worst case). Beside it, the same renderer
// listing the audio as measured (each AAC segment's own duration, alternating around 2 s, one <S>
// per segment: the MPD as it was, and as any packager writes it that lists exact audio durations),
// and a publisher whose keyframes do not fall on the segment grid (every 1.5 s, cut at 2 s: 3, 1.5,
// 1.5 s, ...), whose video timeline cannot fold: there the patch is what keeps a refresh small.
// Usage: node dist/bench/dash.js [--quick]
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { writeAtomic } from '../common/files.js';
import { renderMpd, type DashRendition } from '../packager/render/dash.js';
import { parseMpd, renderMpdPatch, type ParsedMpd } from '../packager/render/dash-patch.js';
import type { VariantInfo } from '../packager/render/master.js';
import { SegmentIndex } from '../packager/index/segment-index.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const SEGMENT_US = 2_000_000;
const FRAME_US = (1024 / 48_000) * 1e6;
const T0 = Date.UTC(2026, 10, 1);

const VIDEO: VariantInfo = { rendition: 'source', bandwidth: 2_500_000, averageBandwidth: 2_000_000, codecs: ['avc1.64001f'],
  width: 1280, height: 720, frameRate: 25 };
const AUDIO: VariantInfo = { rendition: 'audio', bandwidth: 128_000, averageBandwidth: 128_000, codecs: ['mp4a.40.2'],
  width: undefined, height: undefined, frameRate: undefined };

/** Where an AAC muxer cuts segment `k`'s start: the first whole frame at or after k x 2 s. */
const audioCut = (k: number): number => Math.round(Math.ceil((k * SEGMENT_US) / FRAME_US - 1e-9) * FRAME_US);

/** Video cut at keyframes every 1.5 s: 3, 1.5, 1.5 s, repeating (the same 2 s on average). */
const unevenStart = (k: number): number => Math.floor(k / 3) * 6_000_000 + ([0, 3_000_000, 4_500_000][k % 3] ?? 0);

type Listing = 'on the grid' | 'as measured' | 'uneven video';

function push(video: SegmentIndex, audio: SegmentIndex, k: number, listing: Listing): void {
  const v = listing === 'uneven video' ? unevenStart : (n: number): number => n * SEGMENT_US;
  video.push({ seq: k, startMs: T0 + v(k) / 1000, durationUs: v(k + 1) - v(k), disc: 0, mediaStartUs: v(k), bytes: 500_000 });
  const a = audioCut(k);
  audio.push({ seq: k, startMs: T0 + a / 1000, durationUs: audioCut(k + 1) - a, disc: 0, mediaStartUs: a, bytes: 32_000 });
}

interface Result { label: string; listing: Listing; ms: number[]; bytes: number; gzip: number; patch: number }

async function windowBench(dir: string, label: string, seconds: number, listing: Listing): Promise<Result> {
  const onGrid = listing !== 'as measured';
  const video = new SegmentIndex();
  const audio = new SegmentIndex();
  const entries = seconds / 2;
  for (let k = 0; k < entries; k++) push(video, audio, k, listing);
  const reps: DashRendition[] = [{ info: VIDEO, index: video, from: 0 },
    { info: AUDIO, index: audio, from: 0, ...(onGrid ? { segmentUs: SEGMENT_US } : {}) }];
  const render = (k: number): string => renderMpd({ renditions: reps, availabilityStartMs: T0, windowSeconds: 0, target: 3,
    ended: false, publishMs: T0 + k * 2000, patch: { mpdId: 'e', location: `manifest-patch-${T0 + k * 2000}.mpp`, ttlSeconds: 8 } });
  // The last four versions, as the packager keeps them for patches.
  const versions: Array<ParsedMpd | undefined> = [parseMpd(render(entries))];
  const added = quick ? 20 : listing === 'on the grid' ? 400 : 60;
  const ms: number[] = [];
  let text = '';
  let patch = 0;
  for (let k = entries; k < entries + added; k++) {
    const t = process.hrtime.bigint();
    push(video, audio, k, listing);
    video.shift();
    audio.shift();
    text = render(k);
    await writeAtomic(path.join(dir, 'manifest.mpd'), text);
    const parsed = parseMpd(text);
    for (const [i, old] of versions.entries()) {
      const p = renderMpdPatch(old, parsed) ?? '';
      await writeAtomic(path.join(dir, `manifest-patch-${i}.mpp`), p);
      if (i === versions.length - 1) patch = Buffer.byteLength(p);
    }
    versions.push(parsed);
    if (versions.length > 4) versions.shift();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { label, listing, ms, bytes: Buffer.byteLength(text), gzip: gzipSync(text).length, patch };
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const ms = (n: number): string => `${n.toFixed(3)} ms`;

async function main(started: Started): Promise<void> {
  const dir = await tempDir('bench-dash');
  started.add('the MPD directory', () => fs.rm(dir, { recursive: true, force: true }));
  const windows: Array<[string, number]> = [['1 h', 3600], ['24 h', 86_400], ['7 d', 7 * 86_400]];
  const results: Result[] = [];
  const listings: Listing[] = ['on the grid', 'as measured', 'uneven video'];
  for (const listing of listings) for (const [label, seconds] of windows) results.push(await windowBench(dir, label, seconds, listing));

  console.log('\nMPD: cost per added segment (append, slide, render, write it and 4 patches; p50 / p99), refresh size');
  console.log('timeline       window   per segment              MPD (raw / gzip)       patch (one version old)');
  for (const r of results) {
    console.log(`${r.listing.padEnd(14)} ${r.label.padEnd(8)} ${`${ms(percentile(r.ms, 50))} / ${ms(percentile(r.ms, 99))}`.padEnd(24)} `
      + `${`${kb(r.bytes)} / ${kb(r.gzip)}`.padEnd(22)} ${kb(r.patch)}`);
  }
  for (const listing of listings) {
    const mine = results.filter((r) => r.listing === listing);
    const hour = mine[0] as Result;
    const week = mine[mine.length - 1] as Result;
    const day = mine[1] as Result;
    console.log(`${listing}: per-segment cost 7 d / 1 h ${(percentile(week.ms, 50) / percentile(hour.ms, 50)).toFixed(2)}x `
      + `(target <= 2x); a 24 h refresh ${kb(day.bytes)} whole, ${kb(day.patch)} as a patch (target < 5 KB)`);
  }
  const grid = results.find((r) => r.listing === 'on the grid' && r.label === '7 d') as Result;
  const measured = results.find((r) => r.listing === 'as measured' && r.label === '7 d') as Result;
  console.log(`7 d, as measured / on the grid: ${(percentile(measured.ms, 50) / percentile(grid.ms, 50)).toFixed(0)}x the time, `
    + `${(measured.bytes / grid.bytes).toFixed(0)}x the bytes`);
}

await runBench('bench:dash', main);
