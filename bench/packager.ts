// Packager benchmark: cost per added segment and bytes per client refresh at DVR windows of
// 1 h, 24 h and 7 days of 2 s segments, against the full-rewrite playlist that ffmpeg's HLS
// muxer (hls_list_size 0) and nginx-rtmp-module write per segment; memory per indexed segment;
// and segment-to-playlist latency against both peers running on the same input.
// Usage: node dist/bench/packager.js [--quick]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../common/log.js';
import { ffmpegArgs } from '../agent/encoder/args.js';
import { writeAtomic } from '../common/files.js';
import { segmentName } from '../packager/layout.js';
import { Packager } from '../packager/packager.js';
import { renderDeltaPlaylist, renderMediaPlaylist } from '../packager/render/hls.js';
import { latencyBench } from './latency.js';
import { ffmpeg, percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const SEG = 2;
const ADDED = quick ? 10 : 40;

async function makeSegments(dir: string, count: number): Promise<string[]> {
  await fs.mkdir(path.join(dir, 'src', 'incoming'), { recursive: true });
  const res = await ffmpeg(ffmpegArgs({
    input: { kind: 'test-pattern', width: 320, height: 180, fps: 25, durationSeconds: count * SEG }, mode: 'transcode',
    renditions: [{ name: 'src', height: 180, videoKbps: 200 }], format: 'ts', segmentSeconds: SEG, session: 'sbench',
    streamDir: dir, realtime: false,
  }));
  if (res.code !== 0) throw new Error(res.stderr);
  return Array.from({ length: count }, (_v, i) => path.join(dir, 'src', 'incoming', `sbench-${i}.ts`));
}

interface WindowResult {
  label: string; entries: number; oursMs: number[]; rewriteMs: number[]; oursBytes: number; rewriteBytes: number;
  fullBytes: number; fullGzip: number; deltaBytes: number; deltaGzip: number; memPerSegment: number;
}

async function windowBench(label: string, seconds: number, sources: string[]): Promise<WindowResult> {
  const root = await tempDir('bench');
  const entries = seconds / SEG;
  const dir = path.join(root, 'live', 'w', 'src');
  await fs.mkdir(path.join(dir, 'incoming'), { recursive: true });
  // The window, already full: canonical names are all the index needs to rebuild.
  const t0 = Date.now() - entries * SEG * 1000 - 1000;
  for (let seq = 0; seq < entries; seq += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, entries - seq) }, (_v, k) => fs.writeFile(path.join(dir,
      segmentName({ seq: seq + k, startMs: t0 + (seq + k) * SEG * 1000, durationUs: SEG * 1e6, disc: 0,
        mediaStartUs: (seq + k) * SEG * 1e6 }, 'ts')), '')));
  }
  const heapBefore = process.memoryUsage().arrayBuffers;
  const packager = new Packager({ root, log: silentLogger(), probe: async () => ({ width: 320, height: 180 }) });
  const sp = await packager.addStream({ app: 'live', stream: 'w', renditions: ['src'], format: 'ts', windowSeconds: seconds,
    segmentSeconds: SEG });
  const r = sp.rendition('src');
  if (!r) throw new Error('no rendition');
  const memPerSegment = (process.memoryUsage().arrayBuffers - heapBefore) / r.index.length;

  const oursMs: number[] = [];
  let oursBytes = 0;
  for (let i = 0; i < ADDED; i++) {
    const src = sources[i] as string;
    const dest = path.join(dir, 'incoming', path.basename(src));
    await fs.copyFile(src, path.join(dir, 'incoming', `.${path.basename(src)}.tmp`));
    await fs.rename(path.join(dir, 'incoming', `.${path.basename(src)}.tmp`), dest);
    const t = process.hrtime.bigint();
    await sp.ingest('src');
    oursMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    const full = await fs.stat(path.join(dir, 'index.m3u8')).catch(() => fs.stat(path.join(dir, 'index.m3u8.ssi')));
    oursBytes += full.size + (await fs.stat(path.join(dir, 'index_delta.m3u8'))).size;
  }
  await packager.close();

  // The peers' way: render the whole window and rewrite it on every segment.
  const input = { index: r.index, from: r.listedFrom, ext: 'ts' as const, target: SEG, kind: 'live' as const, ended: false,
    canSkipUntil: 6 * SEG, chunkedBelow: 0 };
  const rewriteMs: number[] = [];
  let rewriteBytes = 0;
  for (let i = 0; i < ADDED; i++) {
    const t = process.hrtime.bigint();
    const text = renderMediaPlaylist(input);
    await writeAtomic(path.join(root, 'rewrite.m3u8'), text);
    rewriteMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    rewriteBytes += Buffer.byteLength(text);
  }
  const full = renderMediaPlaylist(input);
  const delta = renderDeltaPlaylist(input);
  await fs.rm(root, { recursive: true, force: true });
  return {
    label, entries, oursMs, rewriteMs, oursBytes: oursBytes / ADDED, rewriteBytes: rewriteBytes / ADDED,
    fullBytes: Buffer.byteLength(full), fullGzip: gzipSync(full).length, deltaBytes: Buffer.byteLength(delta),
    deltaGzip: gzipSync(delta).length, memPerSegment,
  };
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const ms = (n: number): string => `${n.toFixed(2)} ms`;

async function main(started: Started): Promise<void> {
  const scratch = await tempDir('bench-src');
  started.add('the source segments', () => fs.rm(scratch, { recursive: true, force: true }));
  const sources = await makeSegments(scratch, ADDED);
  const windows: Array<[string, number]> = [['1 h', 3600], ['24 h', 86_400], ['7 d', 7 * 86_400]];
  const results: WindowResult[] = [];
  for (const [label, seconds] of windows) results.push(await windowBench(label, seconds, sources));
  await fs.rm(scratch, { recursive: true, force: true });

  console.log(`\ncost per added segment (${ADDED} segments added to a full window, 2 s segments, p50 / p99)`);
  console.log('window  entries   packager            full rewrite (ffmpeg hls / nginx-rtmp model)   '
    + 'ratio p50   bytes written/segment (ours vs rewrite)');
  for (const r of results) {
    const o50 = percentile(r.oursMs, 50), w50 = percentile(r.rewriteMs, 50);
    console.log(`${r.label.padEnd(7)} ${String(r.entries).padStart(7)}   ${ms(o50)} / ${ms(percentile(r.oursMs, 99))}   `
      + `${ms(w50)} / ${ms(percentile(r.rewriteMs, 99))}`.padEnd(47) + `${(o50 / w50).toFixed(2)}x`.padEnd(12)
      + `${kb(r.oursBytes)} vs ${kb(r.rewriteBytes)}`);
  }
  const first = results[0] as WindowResult, last = results[results.length - 1] as WindowResult;
  console.log(`growth 1 h -> 7 d (p50): packager ${(percentile(last.oursMs, 50) / percentile(first.oursMs, 50)).toFixed(2)}x `
    + `(target <= 2x), full rewrite ${(percentile(last.rewriteMs, 50) / percentile(first.rewriteMs, 50)).toFixed(2)}x`);
  console.log('\nbytes per client refresh (raw / gzip)');
  for (const r of results) {
    console.log(`${r.label.padEnd(7)} full ${kb(r.fullBytes)} / ${kb(r.fullGzip)}   `
      + `delta (?_HLS_skip=YES) ${kb(r.deltaBytes)} / ${kb(r.deltaGzip)}   ratio ${(r.fullBytes / r.deltaBytes).toFixed(0)}x`);
  }
  console.log('\nmemory per indexed segment (typed-array index; target < 200 bytes)');
  for (const r of results) console.log(`${r.label.padEnd(7)} ${r.memPerSegment.toFixed(1)} bytes`);

  await latencyBench(quick ? 12 : 40);
}

await runBench('bench:packager', main);
