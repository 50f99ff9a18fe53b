// The MPD at long windows: what each added segment costs the packager (render and write the MPD of
// a copy-mode stream: a video and an AAC audio representation) and what a refresh weighs, at 1 h,
// 24 h and 7 d of 2 s segments listed (an unbounded window or no playlist cap: the worst case).
// Beside it, the same renderer listing the audio as measured (each AAC segment's own duration,
// alternating around 2 s, one <S> per segment): the MPD as it was, and as any packager writes it
// that lists exact audio durations.
// Usage: node dist/bench/dash.js [--quick]
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { writeAtomic } from '../agent/packager/files.js';
import { renderMpd, type DashRendition } from '../agent/packager/render/dash.js';
import type { VariantInfo } from '../agent/packager/render/master.js';
import { SegmentIndex } from '../agent/packager/segment-index.js';
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

function push(video: SegmentIndex, audio: SegmentIndex, k: number): void {
  video.push({ seq: k, startMs: T0 + k * 2000, durationUs: SEGMENT_US, disc: 0, mediaStartUs: k * SEGMENT_US, bytes: 500_000 });
  const a = audioCut(k);
  audio.push({ seq: k, startMs: T0 + a / 1000, durationUs: audioCut(k + 1) - a, disc: 0, mediaStartUs: a, bytes: 32_000 });
}

interface Result { label: string; listing: string; ms: number[]; bytes: number; gzip: number }

async function windowBench(dir: string, label: string, seconds: number, onGrid: boolean): Promise<Result> {
  const video = new SegmentIndex();
  const audio = new SegmentIndex();
  const entries = seconds / 2;
  for (let k = 0; k < entries; k++) push(video, audio, k);
  const reps: DashRendition[] = [{ info: VIDEO, index: video, from: 0 },
    { info: AUDIO, index: audio, from: 0, ...(onGrid ? { segmentUs: SEGMENT_US } : {}) }];
  const render = (k: number): string => renderMpd({ renditions: reps, availabilityStartMs: T0, windowSeconds: 0, target: 2,
    ended: false, publishMs: T0 + k * 2000 });
  render(entries);
  const added = quick ? 20 : onGrid ? 400 : 60;
  const ms: number[] = [];
  let text = '';
  for (let k = entries; k < entries + added; k++) {
    const t = process.hrtime.bigint();
    push(video, audio, k);
    video.shift();
    audio.shift();
    text = render(k);
    await writeAtomic(path.join(dir, 'manifest.mpd'), text);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { label, listing: onGrid ? 'on the grid' : 'as measured', ms, bytes: Buffer.byteLength(text), gzip: gzipSync(text).length };
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const ms = (n: number): string => `${n.toFixed(3)} ms`;

async function main(started: Started): Promise<void> {
  const dir = await tempDir('bench-dash');
  started.add('the MPD directory', () => fs.rm(dir, { recursive: true, force: true }));
  const windows: Array<[string, number]> = [['1 h', 3600], ['24 h', 86_400], ['7 d', 7 * 86_400]];
  const results: Result[] = [];
  for (const onGrid of [true, false]) for (const [label, seconds] of windows) results.push(await windowBench(dir, label, seconds, onGrid));

  console.log('\nMPD: cost per added segment (append to both indexes, slide, render, write; p50 / p99) and refresh size');
  console.log('audio listed   window   per segment              MPD (raw / gzip)');
  for (const r of results) {
    console.log(`${r.listing.padEnd(14)} ${r.label.padEnd(8)} ${`${ms(percentile(r.ms, 50))} / ${ms(percentile(r.ms, 99))}`.padEnd(24)} `
      + `${kb(r.bytes)} / ${kb(r.gzip)}`);
  }
  for (const listing of ['on the grid', 'as measured']) {
    const mine = results.filter((r) => r.listing === listing);
    const hour = mine[0] as Result;
    const week = mine[mine.length - 1] as Result;
    const day = mine[1] as Result;
    console.log(`${listing}: per-segment cost 7 d / 1 h ${(percentile(week.ms, 50) / percentile(hour.ms, 50)).toFixed(2)}x `
      + `(target <= 2x); a 24 h refresh ${kb(day.bytes)} (target < 5 KB)`);
  }
  const grid = results.find((r) => r.listing === 'on the grid' && r.label === '7 d') as Result;
  const measured = results.find((r) => r.listing === 'as measured' && r.label === '7 d') as Result;
  console.log(`7 d, as measured / on the grid: ${(percentile(measured.ms, 50) / percentile(grid.ms, 50)).toFixed(0)}x the time, `
    + `${(measured.bytes / grid.bytes).toFixed(0)}x the bytes`);
}

await runBench('bench:dash', main);
