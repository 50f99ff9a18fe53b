// Time-shift benchmark: one hour out of a long DVR window, through the generated edge config (one
// worker) and the edge agent's time-shift service, on loopback. Two windows of 2 s segments as the
// packager stores them (a 1-day and a 7-day live playlist, chunked): every request for a new range
// is a cache miss (latency p50/p99, sequential); the same range again is a hit (wrk req/s), beside
// the edge serving a static playlist file of the same size. Targets: miss p99 < 20 ms whatever the
// window; hit >= 0.9x the static file.
// Usage: node dist/bench/timeshift.js [--quick]
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { silentLogger } from '../common/log.js';
import { TimeShiftServer } from '../agent/timeshift/server.js';
import { CHUNK_SIZE, renderChunk, renderMediaPlaylist, type MediaPlaylistInput } from '../packager/render/hls.js';
import { CHUNK_DIR, CHUNKED_PLAYLIST, MASTER, STREAM_STATE, chunkName } from '../packager/layout.js';
import { SegmentIndex } from '../packager/index/segment-index.js';
import { EDGE_DEFAULTS } from '../nginx/model.js';
import { NginxProcess } from '../nginx/process.js';
import { renderConfig } from '../nginx/render.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const DURATION = quick ? '3s' : '10s';
const MISSES = quick ? 100 : 400;
const SEGMENT_S = 2;

function wrk(url: string, connections: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${DURATION}`, url], (err, stdout) => {
      if (err) { reject(err); return; }
      resolve(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET on a kept-alive connection: status, body length and milliseconds. */
function timedGet(url: string): Promise<{ status: number; bytes: number; ms: number; cache: string }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => { bytes += d.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: Number(process.hrtime.bigint() - t0) / 1e6,
        cache: String(res.headers['x-cache'] ?? '') }));
    }).on('error', reject);
  });
}

/** A live stream whose one rendition lists `seconds` of 2 s segments ending now, as the packager leaves it. */
async function writeStream(root: string, stream: string, seconds: number): Promise<{ firstS: number }> {
  const count = seconds / SEGMENT_S;
  const endMs = Math.floor(Date.now() / 1000) * 1000 - 10_000;
  const startMs = endMs - seconds * 1000;
  const index = new SegmentIndex();
  for (let i = 0; i < count; i++) {
    index.push({ seq: i, startMs: startMs + i * SEGMENT_S * 1000, durationUs: SEGMENT_S * 1e6, disc: 0,
      mediaStartUs: i * SEGMENT_S * 1e6, bytes: 500_000 });
  }
  const chunkedBelow = Math.floor(count / CHUNK_SIZE) * CHUNK_SIZE;
  const input: MediaPlaylistInput = { index, from: 0, ext: 'ts', target: SEGMENT_S, kind: 'live', ended: false, canSkipUntil: 12,
    chunkedBelow };
  const dir = path.join(root, 'live', stream, 'r');
  await fs.mkdir(path.join(dir, CHUNK_DIR), { recursive: true });
  for (let seq = 0; seq < chunkedBelow; seq += CHUNK_SIZE) {
    await fs.writeFile(path.join(dir, CHUNK_DIR, chunkName(seq)), renderChunk(input, seq));
  }
  await fs.writeFile(path.join(dir, CHUNKED_PLAYLIST), renderMediaPlaylist(input));
  await fs.writeFile(path.join(root, 'live', stream, MASTER),
    '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS="avc1.64001f"\nr/index.m3u8\n');
  await fs.writeFile(path.join(root, 'live', stream, STREAM_STATE),
    `${JSON.stringify({ status: 'live', settings: { windowSeconds: seconds } })}\n`);
  return { firstS: Math.floor(startMs / 1000) };
}

async function main(started: Started): Promise<void> {
  const root = await tempDir('bench-timeshift');
  started.add('the media directory', () => fs.rm(root, { recursive: true, force: true }));
  const windows: Array<[string, number]> = [['1 d', 86_400], ['7 d', 7 * 86_400]];
  const streams = new Map<string, { firstS: number }>();
  for (const [label, seconds] of windows) streams.set(label, await writeStream(root, `w${seconds}`, seconds));

  const service = await TimeShiftServer.start({ root, host: '127.0.0.1', port: 18_311, maxClips: 2,
    limits: { maxClipSeconds: 3600, maxRangeSeconds: 86_400 }, log: silentLogger() });
  started.add('the time-shift service', () => service.close());
  const prefix = await tempDir('bench-timeshift-nginx');
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
  started.add('nginx (edge)', async () => { await nginx.stop(); await fs.rm(prefix, { recursive: true, force: true }); });
  await nginx.start(renderConfig({ ...EDGE_DEFAULTS, role: 'edge', prefix, storageRoot: root, workerProcesses: 1,
    listen: [{ host: '127.0.0.1', port: 18_310 }], timeshift: { port: 18_311, cacheMaxSizeMb: 256 } }),
  { host: '127.0.0.1', port: 18_310 });
  const edge = 'http://127.0.0.1:18310';

  console.log(`one hour (1800 segments of 2 s) out of a long window; nginx with 1 worker, loopback; ${MISSES} misses per window`);
  for (const [label, seconds] of windows) {
    const { firstS } = streams.get(label) ?? { firstS: 0 };
    const url = (from: number): string => `${edge}/live/w${seconds}/r/index-${from}-3600.m3u8`;
    // The first request reads the window's playlist and chunks (once per process and window).
    const cold = await timedGet(url(firstS + 3600));
    if (cold.status !== 200) throw new Error(`${url(firstS + 3600)}: ${cold.status}`);
    const misses: number[] = [];
    for (let i = 0; i < MISSES; i++) {
      const from = firstS + 7200 + Math.floor(((seconds - 10_800) / MISSES) * i) + (i % 7);
      const r = await timedGet(url(from));
      if (r.status !== 200 || r.cache !== 'MISS') throw new Error(`${url(from)}: ${r.status} ${r.cache}`);
      misses.push(r.ms);
    }
    const hitUrl = url(firstS + 3600);
    const warm = await timedGet(hitUrl);
    // The static peer: the same playlist as a file the edge serves by its plain playlist location.
    const body = await (await fetch(hitUrl)).text();
    await fs.writeFile(path.join(root, 'live', `w${seconds}`, 'r', 'static.m3u8'), body);
    const hit = await wrk(hitUrl, 64);
    const stat = await wrk(`${edge}/live/w${seconds}/r/static.m3u8`, 64);
    console.log(`${label} window (${seconds / SEGMENT_S} segments): first request ${cold.ms.toFixed(0)} ms (reads the window); `
      + `miss p50 ${percentile(misses, 50).toFixed(1)} ms, p99 ${percentile(misses, 99).toFixed(1)} ms; `
      + `hit (${warm.cache}) ${hit.toFixed(0)} req/s vs static file of ${(body.length / 1024).toFixed(0)} KiB ${stat.toFixed(0)} req/s `
      + `(${(hit / stat).toFixed(2)}x)`);
  }
}

await runBench('bench:timeshift', main);
