import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfig } from '../../nginx/render.js';
import {
  CHUNK_SIZE, renderChunk, renderDeltaPlaylist, renderMediaPlaylist, type MediaPlaylistInput,
} from '../../agent/packager/render/hls.js';
import { chunkName } from '../../agent/packager/layout.js';
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
    const gz = await fetch(`${edge.url}/${dir}/index.m3u8`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    const seg = await fetch(`${edge.url}/${dir}/r.ts`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(seg.headers.get('content-encoding'), null, 'media is never gzipped');
  });
});
