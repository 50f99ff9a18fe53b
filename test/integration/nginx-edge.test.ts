import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { renderConfig } from '../../nginx/render.js';
import {
  CHUNK_SIZE, mediaPlaylistParts, renderChunk, renderDeltaPlaylist, renderMediaPlaylist, ssiPlaylist, type MediaPlaylistInput,
} from '../../packager/render/hls.js';
import { deflatePiece, renderGzipPlaylist, type ChunkPiece } from '../../packager/render/gzip.js';
import { chunkName, chunkPieceName } from '../../packager/layout.js';
import { edgeModel, startEdge, type Edge } from '../support/edge.js';
import { makeIndex } from '../support/index-fixture.js';
import { parsePlaylist } from '../support/m3u8.js';
import { tempDir } from '../support/run.js';

const golden = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/golden/edge.conf');

describe('nginx edge config', function () {
  this.timeout(30_000);
  let root: string;
  let edge: Edge;
  const dir = 'live/big/r1';

  before(async () => {
    root = await tempDir('edge');
    await fs.mkdir(path.join(root, dir, 'chunks'), { recursive: true });
    await fs.mkdir(path.join(root, dir, 'incoming'), { recursive: true });
    edge = await startEdge(root);
  });
  after(async () => {
    await edge.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('matches the golden file (regenerate with UPDATE_GOLDEN=1)', async () => {
    const text = renderConfig(edgeModel('/srv/dvr/media', '/srv/dvr/nginx', 8080));
    if (process.env['UPDATE_GOLDEN'] === '1') await fs.writeFile(golden, text);
    assert.equal(text, await fs.readFile(golden, 'utf8'));
  });

  it('serves its clock at /_time (the MPD\'s UTCTiming source): ISO 8601, never cached, with CORS', async () => {
    const res = await fetch(`${edge.url}/_time`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.ok(Math.abs(Date.parse(text) - Date.now()) < 5_000, `${text} is now`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  it('serves each file type with its MIME type, cache policy and CORS', async () => {
    const files: Array<[string, string, RegExp]> = [
      ['a.m3u8', 'application/vnd.apple.mpegurl', /max-age=1$/],
      ['a.ts', 'video/mp2t', /immutable/],
      ['a.m4s', 'video/iso.segment', /immutable/],
      ['init_0.mp4', 'video/mp4', /immutable/],
      ['m.mpd', 'application/dash+xml', /max-age=1$/],
      ['a.vtt', 'text/vtt', /immutable/],
      ['a.aac', 'audio/aac', /immutable/],
    ];
    for (const [name] of files) await fs.writeFile(path.join(root, dir, name), '#EXTM3U\n');
    for (const [name, type, cache] of files) {
      const res = await fetch(`${edge.url}/${dir}/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('content-type'), type, name);
      assert.match(res.headers.get('cache-control') ?? '', cache, name);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', name);
      if (name.endsWith('.m3u8')) assert.equal(res.headers.get('etag'), null, 'no ETag/304 loop on playlists');
    }
  });

  it('serves an MPD patch where it is written, and the MPD itself where it is not (yet, or no longer)', async () => {
    const stream = 'live/big';
    await fs.writeFile(path.join(root, stream, 'manifest.mpd'), '<MPD/>\n');
    await fs.writeFile(path.join(root, stream, 'manifest-patch-1800000000000.mpp'), '<Patch/>\n');
    const patch = await fetch(`${edge.url}/${stream}/manifest-patch-1800000000000.mpp`);
    assert.equal(patch.status, 200);
    assert.equal(patch.headers.get('content-type'), 'application/dash-patch+xml');
    assert.equal(await patch.text(), '<Patch/>\n');
    assert.match(patch.headers.get('cache-control') ?? '', /max-age=1$/, 'rewritten as newer MPDs come: short-lived');
    assert.equal(patch.headers.get('access-control-allow-origin'), '*');
    const none = await fetch(`${edge.url}/${stream}/manifest-patch-1800000002000.mpp`);
    assert.equal(none.status, 200, 'a patch not written: the MPD answers, a full update for the player');
    assert.equal(none.headers.get('content-type'), 'application/dash+xml');
    assert.equal(await none.text(), '<MPD/>\n');
    assert.equal((await fetch(`${edge.url}/live/none/manifest-patch-1800000002000.mpp`)).status, 404, 'no stream, no MPD');
  });

  it('a 404 keeps CORS and is not cacheable; temp files, incoming/ and traversal are refused', async () => {
    const missing = await fetch(`${edge.url}/${dir}/nope.ts`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('access-control-allow-origin'), '*');
    assert.equal(missing.headers.get('cache-control'), 'no-store');
    // A playlist that does not exist in any form (plain, delta, chunked) is the same CORS 404.
    for (const p of ['nope.m3u8', 'nope.m3u8?_HLS_skip=YES']) {
      const res = await fetch(`${edge.url}/${dir}/${p}`);
      assert.deepEqual([res.status, res.headers.get('access-control-allow-origin'), res.headers.get('cache-control')],
        [404, '*', 'no-store'], p);
    }
    await fs.writeFile(path.join(root, dir, '.index.m3u8.ab12.tmp'), 'partial');
    await fs.writeFile(path.join(root, dir, 'index.m3u8.ssi'), '<!--# include virtual="x" -->');
    await fs.writeFile(path.join(root, dir, 'incoming', 's1-1.ts'), 'x');
    for (const p of ['.index.m3u8.ab12.tmp', 'incoming/s1-1.ts', `chunks/${chunkName(0)}`, 'index.m3u8.ssi']) {
      const res = await fetch(`${edge.url}/${dir}/${p}`);
      assert.ok(res.status === 403 || res.status === 404, `${p} answered ${res.status}`);
    }
    const traversal = await fetch(`${edge.url}/live/../../etc/passwd`);
    assert.notEqual(traversal.status, 200);
  });

  it('answers a CORS preflight and range requests', async () => {
    const pre = await fetch(`${edge.url}/${dir}/a.ts`, { method: 'OPTIONS', headers: { Origin: 'http://player.example', 'Access-Control-Request-Headers': 'range' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Range/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /GET/);
    await fs.writeFile(path.join(root, dir, 'r.ts'), Buffer.alloc(1000, 7));
    const part = await fetch(`${edge.url}/${dir}/r.ts`, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal((await part.arrayBuffer()).byteLength, 10);
  });

  it('assembles a chunked week-long playlist with SSI and maps ?_HLS_skip=YES to the delta playlist', async () => {
    const index = makeIndex(CHUNK_SIZE * 4 + 10, 2);
    const input: MediaPlaylistInput = { index, from: 0, ext: 'ts', target: 2, kind: 'event', ended: false, canSkipUntil: 12,
      chunkedBelow: CHUNK_SIZE * 4 };
    for (let seq = CHUNK_SIZE; seq < CHUNK_SIZE * 4; seq += CHUNK_SIZE) {
      await fs.writeFile(path.join(root, dir, 'chunks', chunkName(seq)), renderChunk(input, seq));
    }
    await fs.rm(path.join(root, dir, 'index.m3u8'), { force: true });
    await fs.writeFile(path.join(root, dir, 'index.m3u8.ssi'), renderMediaPlaylist(input));
    await fs.writeFile(path.join(root, dir, 'index_delta.m3u8'), renderDeltaPlaylist(input));
    const fullRes = await fetch(`${edge.url}/${dir}/index.m3u8`);
    assert.deepEqual(
      [fullRes.headers.get('access-control-allow-origin'), fullRes.headers.get('cache-control'), fullRes.headers.get('content-type')],
      ['*', 'public, max-age=1', 'application/vnd.apple.mpegurl']);
    const full = await fullRes.text();
    assert.equal(full.replace(/\n+/g, '\n'), renderMediaPlaylist({ ...input, chunkedBelow: 0 }));
    const parsed = parsePlaylist(full);
    assert.equal(parsed.segments.length, CHUNK_SIZE * 4 + 10);
    assert.equal(parsed.ssiIncludes, 0);
    const res = await fetch(`${edge.url}/${dir}/index.m3u8?_HLS_skip=YES`, { headers: { 'Accept-Encoding': 'identity' } });
    const delta = parsePlaylist(await res.text());
    assert.ok(delta.skipped > CHUNK_SIZE * 3, `skipped ${delta.skipped}`);
    assert.ok(delta.segments.length < 10);
    // Before the packager has written a delta, a player asking for one gets the whole playlist.
    await fs.rm(path.join(root, dir, 'index_delta.m3u8'));
    const noDelta = await (await fetch(`${edge.url}/${dir}/index.m3u8?_HLS_skip=YES`)).text();
    assert.equal(noDelta, full);
    const seg = await fetch(`${edge.url}/${dir}/r.ts`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(seg.headers.get('content-encoding'), null, 'media is never gzipped');
  });

  it('serves a chunked playlist compressed once to players that accept gzip, and plain to the others', async () => {
    const index = makeIndex(CHUNK_SIZE * 3 + 7, 2);
    const input: MediaPlaylistInput = { index, from: 5, ext: 'ts', target: 2, kind: 'live', ended: false, canSkipUntil: 0,
      chunkedBelow: CHUNK_SIZE * 3 };
    const pieces = new Map<number, ChunkPiece>();
    for (let seq = CHUNK_SIZE; seq < CHUNK_SIZE * 3; seq += CHUNK_SIZE) {
      const text = renderChunk(input, seq);
      const piece = deflatePiece(text);
      const name = chunkPieceName(seq, piece.crc, piece.length);
      await fs.writeFile(path.join(root, dir, 'chunks', chunkName(seq)), text);
      await fs.writeFile(path.join(root, dir, 'chunks', name), piece.data);
      pieces.set(seq, { file: `chunks/${name}`, crc: piece.crc, length: piece.length });
    }
    const parts = mediaPlaylistParts(input);
    assert.equal(parts.chunks.length, 2);
    const gzForm = renderGzipPlaylist(parts, (seq) => pieces.get(seq));
    assert.ok(gzForm);
    await fs.rm(path.join(root, dir, 'index.m3u8'), { force: true });
    await fs.writeFile(path.join(root, dir, 'index.m3u8.ssi'), ssiPlaylist(parts));
    await fs.writeFile(path.join(root, dir, 'index.m3u8.gz.ssi'), gzForm);
    const expected = renderMediaPlaylist({ ...input, chunkedBelow: 0 });

    const gz = await rawGet(`${edge.url}/${dir}/index.m3u8`, 'gzip, deflate, br');
    assert.equal(gz.status, 200);
    assert.deepEqual([gz.headers['content-encoding'], gz.headers['content-type'], gz.headers['vary'], gz.headers['cache-control']],
      ['gzip', 'application/vnd.apple.mpegurl', 'Accept-Encoding', 'public, max-age=1']);
    // gunzip checks the CRC-32 and the length in the trailer: the stitched stream is one valid member.
    const text = gunzipSync(gz.body).toString();
    assert.equal(text, expected);
    assert.equal(parsePlaylist(text).segments.length, CHUNK_SIZE * 3 + 2);
    assert.ok(gz.body.length * 4 < expected.length, `compressed ${gz.body.length} of ${expected.length} bytes`);

    const plain = await rawGet(`${edge.url}/${dir}/index.m3u8`, 'identity');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal((await rawGet(`${edge.url}/${dir}/index.m3u8`, 'gzip;q=0, identity')).headers['content-encoding'], undefined,
      'gzip refused with q=0');
    assert.equal(plain.body.toString().replace(/\n+/g, '\n'), expected);

    // Without the compressed form (an older packager, or one it could not make) a gzip player gets the plain one
    // compressed on the fly.
    await fs.rm(path.join(root, dir, 'index.m3u8.gz.ssi'));
    const fallback = await rawGet(`${edge.url}/${dir}/index.m3u8`, 'gzip');
    assert.equal(fallback.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(fallback.body).toString().replace(/\n+/g, '\n'), expected);
    // The pieces are never served on their own, nor the templates.
    assert.equal((await rawGet(`${edge.url}/${dir}/${[...pieces.values()][0]?.file ?? ''}`, 'gzip')).status, 404);
    assert.equal((await rawGet(`${edge.url}/${dir}/index.m3u8.ssi`, 'gzip')).status, 403);
  });
});

function rawGet(url: string, acceptEncoding: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
