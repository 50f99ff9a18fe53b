// Long playlists on the edge config (one worker, loopback): what a refresh costs at a 3 h (the
// default playlist cap), a 24 h and a 7 d window of 2 s segments, for a player asking for delta
// updates, for one asking for the whole playlist, and for one asking for it with Accept-Encoding:
// gzip (every browser), beside a static file of the same bytes served plain and gzipped per
// request (what the gzip form replaces). The rendition directory is what the packager writes:
// chunks, their compressed pieces, the SSI templates and the delta playlist.
// Usage: node dist/bench/playlists.js [--quick]
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../common/log.js';
import { chunkName, chunkPieceName } from '../packager/layout.js';
import { deflatePiece, renderGzipPlaylist, type ChunkPiece } from '../packager/render/gzip.js';
import {
  CHUNK_SIZE, mediaPlaylistParts, renderChunk, renderDeltaPlaylist, renderMediaPlaylist, ssiPlaylist, type MediaPlaylistInput,
} from '../packager/render/hls.js';
import { SegmentIndex } from '../packager/index/segment-index.js';
import { EDGE_DEFAULTS } from '../nginx/model.js';
import { NginxProcess } from '../nginx/process.js';
import { renderConfig } from '../nginx/render.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const DURATION = quick ? '3s' : '10s';
const PORT = 18_311;

function wrk(url: string, gzip: boolean): Promise<number> {
  const args = ['-t1', '-c16', `-d${DURATION}`, ...(gzip ? ['-H', 'Accept-Encoding: gzip'] : []), url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, (err, stdout) => {
      if (err) { reject(err); return; }
      resolve(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN));
    });
  });
}

/** A rendition of `hours` of 2 s segments as the packager leaves it; returns the sizes a client receives. */
async function writeRendition(dir: string, hours: number): Promise<{ plain: number; gz: number; delta: number }> {
  await fs.mkdir(path.join(dir, 'chunks'), { recursive: true });
  const index = new SegmentIndex();
  const n = Math.round((hours * 3600) / 2);
  const t0 = Date.UTC(2026, 10, 20);
  for (let i = 0; i < n + 500; i++) {
    index.push({ seq: i, startMs: t0 + i * 2000, durationUs: 2_000_000, disc: 0, mediaStartUs: i * 2_000_000, bytes: 500_000 });
  }
  // A sliding window that does not start on a chunk boundary, as a live one mostly does not.
  const input: MediaPlaylistInput = { index, from: 500, ext: 'ts', target: 2, kind: 'live', ended: false, canSkipUntil: 12,
    chunkedBelow: index.nextSequence - (index.nextSequence % CHUNK_SIZE) };
  const pieces = new Map<number, ChunkPiece>();
  for (let seq = 0; seq + CHUNK_SIZE <= input.chunkedBelow; seq += CHUNK_SIZE) {
    const text = renderChunk(input, seq);
    const piece = deflatePiece(text);
    const name = chunkPieceName(seq, piece.crc, piece.length);
    await fs.writeFile(path.join(dir, 'chunks', chunkName(seq)), text);
    await fs.writeFile(path.join(dir, 'chunks', name), piece.data);
    pieces.set(seq, { file: `chunks/${name}`, crc: piece.crc, length: piece.length });
  }
  const parts = mediaPlaylistParts(input);
  const gz = renderGzipPlaylist(parts, (seq) => pieces.get(seq));
  if (!gz) throw new Error('the compressed form could not be made');
  await fs.writeFile(path.join(dir, 'index.m3u8.ssi'), ssiPlaylist(parts));
  await fs.writeFile(path.join(dir, 'index.m3u8.gz.ssi'), gz);
  const delta = renderDeltaPlaylist(input);
  await fs.writeFile(path.join(dir, 'index_delta.m3u8'), delta);
  const full = renderMediaPlaylist({ ...input, chunkedBelow: 0 });
  await fs.writeFile(path.join(dir, 'static.m3u8'), full);
  return { plain: Buffer.byteLength(full), gz: gzipSync(full).length, delta: Buffer.byteLength(delta) };
}

async function main(started: Started): Promise<void> {
  const root = await tempDir('bench-playlists');
  started.add('the media directory', () => fs.rm(root, { recursive: true, force: true }));
  // 3 h: what the default playlist cap lets a live playlist list, whatever the window.
  const windows: Array<[string, number]> = [['3 h', 3], ['24 h', 24], ['7 d', 168]];
  const sizes = new Map<string, { plain: number; gz: number; delta: number }>();
  for (const [label, hours] of windows) sizes.set(label, await writeRendition(path.join(root, 'live', `w${hours}`, 'r'), hours));

  const prefix = await tempDir('bench-playlists-nginx');
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
  started.add('nginx (edge)', async () => { await nginx.stop(); await fs.rm(prefix, { recursive: true, force: true }); });
  await nginx.start(renderConfig({ ...EDGE_DEFAULTS, role: 'edge', prefix, storageRoot: root, workerProcesses: 1,
    listen: [{ host: '127.0.0.1', port: PORT }] }), { host: '127.0.0.1', port: PORT });

  const rounds = quick ? 1 : 3;
  console.log(`wrk -t1 -c16, ${DURATION} per run, ${rounds} interleaved round(s), median req/s; loopback, the edge config with 1 worker`);
  for (const [label, hours] of windows) {
    const base = `http://127.0.0.1:${PORT}/live/w${hours}/r`;
    const cases: Array<[string, string, boolean]> = [
      ['delta', `${base}/index.m3u8?_HLS_skip=YES`, false],
      ['full', `${base}/index.m3u8`, false],
      ['full+gzip', `${base}/index.m3u8`, true],
      ['static', `${base}/static.m3u8`, false],
      ['static+gzip', `${base}/static.m3u8`, true],
    ];
    const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, url, gzip] of cases) samples.get(name)?.push(await wrk(url, gzip));
    }
    const med = (name: string): number => percentile(samples.get(name) ?? [], 50);
    const s = sizes.get(label);
    console.log(`${label}: ${Math.round((hours * 3600) / 2)} entries, full ${((s?.plain ?? 0) / 1e6).toFixed(1)} MB, `
      + `gzip ${((s?.gz ?? 0) / 1e6).toFixed(2)} MB, delta ${((s?.delta ?? 0) / 1e3).toFixed(1)} kB`);
    console.log('  ' + cases.map(([name]) => `${name} ${med(name).toFixed(0)}`).join('   '));
    console.log(`  full / static ${(med('full') / med('static')).toFixed(2)}x   full+gzip / static+gzip `
      + `${(med('full+gzip') / med('static+gzip')).toFixed(1)}x   delta / full+gzip ${(med('delta') / med('full+gzip')).toFixed(0)}x`);
  }
}

await runBench('bench:playlists', main);
