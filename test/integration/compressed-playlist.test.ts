import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { silentLogger } from '../../common/log.js';
import { PackagerEmitter } from '../../agent/packager/events.js';
import { chunkName, segmentName, streamPaths } from '../../agent/packager/layout.js';
import { Manifests, publish, type PublishContext } from '../../agent/packager/publish.js';
import { CHUNK_SIZE, renderChunk } from '../../agent/packager/render/hls.js';
import { Rendition } from '../../agent/packager/rendition.js';
import { parseStreamSettings } from '../../agent/packager/settings.js';
import { startEdge, type Edge } from '../support/edge.js';
import { T0, makeIndex } from '../support/index-fixture.js';
import { parsePlaylist } from '../support/m3u8.js';
import { tempDir } from '../support/run.js';

function get(url: string, acceptEncoding: string): Promise<{ status: number; encoding: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'], body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('compressed long playlists, from the packager to the edge', function () {
  this.timeout(60_000);
  let root: string;
  let edge: Edge | undefined;

  before(async () => { root = await tempDir('gzpl'); });
  after(async () => {
    await edge?.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('a rendition an older packager left (chunks without compressed pieces) is served compressed once, and purges both forms', async () => {
    const paths = streamPaths(root, 'live', 'wk');
    const dir = path.join(paths.dir, 'source');
    await fs.mkdir(path.join(dir, 'chunks'), { recursive: true });
    // 5,000 segments of 2 s on disk, and the text chunks of the first two thousand: what the older packager wrote.
    const index = makeIndex(5 * CHUNK_SIZE, 2);
    for (let p = 0; p < index.length; p++) {
      await fs.writeFile(path.join(dir, segmentName(index.at(p), 'ts')), '');
    }
    const old = { index, from: 0, ext: 'ts' as const, target: 2, kind: 'live' as const, ended: false, canSkipUntil: 0, chunkedBelow: 0 };
    for (const seq of [0, CHUNK_SIZE]) await fs.writeFile(path.join(dir, 'chunks', chunkName(seq)), renderChunk(old, seq));

    const r = new Rendition('source', dir, path.join(root, 'spool'), 'ts', 2);
    await r.recover();
    assert.deepEqual([...r.pieces.keys()].sort((a, b) => a - b), [0, CHUNK_SIZE], 'pieces made for the older chunks');

    const settings = parseStreamSettings({ app: 'live', stream: 'wk', windowSeconds: 3000, segmentSeconds: 2 });
    const ctx: PublishContext = { paths, settings, ext: 'ts', ended: false, eventStartMs: T0, now: () => T0 + 10_000_000,
      log: silentLogger(), events: new PackagerEmitter(), ref: { app: 'live', stream: 'wk' } };
    await publish(ctx, r, [r], new Manifests());

    const files = await fs.readdir(path.join(dir, 'chunks'));
    // 1,998 segments are past the window and its grace: chunk 0 went, text and piece; the others stay or were written.
    assert.deepEqual(files.filter((f) => f.endsWith('.m3u8')).sort(), [1, 2, 3, 4].map((k) => chunkName(k * CHUNK_SIZE)));
    assert.deepEqual(files.filter((f) => f.endsWith('.deflate')).map((f) => Number(f.slice(0, 9))).sort((a, b) => a - b),
      [1, 2, 3, 4].map((k) => k * CHUNK_SIZE));
    assert.deepEqual((await fs.readdir(dir)).filter((f) => f.startsWith('index')).sort(),
      ['index.m3u8.gz.ssi', 'index.m3u8.ssi', 'index_delta.m3u8']);

    edge = await startEdge(root);
    const url = `${edge.url}/live/wk/source/index.m3u8`;
    const plain = await get(url, 'identity');
    const gz = await get(url, 'gzip');
    assert.deepEqual([plain.status, plain.encoding, gz.status, gz.encoding], [200, undefined, 200, 'gzip']);
    const text = gunzipSync(gz.body).toString();
    assert.equal(text, plain.body.toString().replace(/\n+/g, '\n'));
    const listed = parsePlaylist(text);
    assert.equal(listed.segments.length, 1500);
    assert.equal(listed.mediaSequence, 3500);
  });
});
