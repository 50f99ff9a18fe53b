import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { silentLogger } from '../../common/log.js';
import { PackagerEmitter } from '../../packager/events.js';
import { chunkName, segmentName, streamPaths, type StreamPaths } from '../../packager/layout.js';
import { Manifests, publish, type PublishContext } from '../../packager/write/publish.js';
import { CHUNK_SIZE, renderChunk } from '../../packager/render/hls.js';
import { Rendition } from '../../packager/rendition.js';
import { parseStreamSettings } from '../../packager/settings.js';
import { Catalog, listedSpan, segmentsIn } from '../../agent/timeshift/catalog.js';
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

/** A rendition directory with `count` segments of 2 s (empty files: the index needs only their names). */
async function fabricate(dir: string, count: number): Promise<ReturnType<typeof makeIndex>> {
  await fs.mkdir(path.join(dir, 'chunks'), { recursive: true });
  const index = makeIndex(count, 2);
  for (let p = 0; p < index.length; p++) await fs.writeFile(path.join(dir, segmentName(index.at(p), 'ts')), '');
  return index;
}

function context(paths: StreamPaths, dvr: Record<string, unknown>): PublishContext {
  return { paths, settings: parseStreamSettings({ app: paths.app, stream: paths.stream, segmentSeconds: 2, format: 'ts', ...dvr }),
    ext: 'ts', ended: false, eventStartMs: T0, now: () => T0 + 10_000_000, log: silentLogger(), events: new PackagerEmitter(),
    ref: { app: paths.app, stream: paths.stream } };
}

describe('long playlists, from the packager to the edge', function () {
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
    // 5,000 segments of 2 s on disk, and the text chunks of the first two thousand: what the older packager wrote.
    const index = await fabricate(dir, 5 * CHUNK_SIZE);
    const old = { index, from: 0, ext: 'ts' as const, target: 2, kind: 'live' as const, ended: false, canSkipUntil: 0, chunkedBelow: 0 };
    for (const seq of [0, CHUNK_SIZE]) await fs.writeFile(path.join(dir, 'chunks', chunkName(seq)), renderChunk(old, seq));

    const r = new Rendition('source', dir, path.join(root, 'spool'), 'ts', 2);
    await r.recover();
    assert.deepEqual([...r.pieces.keys()].sort((a, b) => a - b), [0, CHUNK_SIZE], 'pieces made for the older chunks');

    await publish(context(paths, { windowSeconds: 3000 }), r, [r], new Manifests());

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

  it('a window longer than the playlist cap: the live playlist lists the cap, time-shift reaches the whole window', async () => {
    const paths = streamPaths(root, 'live', 'capped');
    const dir = path.join(paths.dir, 'source');
    await fabricate(dir, 4000);
    const r = new Rendition('source', dir, path.join(root, 'spool'), 'ts', 2);
    await r.recover();
    const manifests = new Manifests();
    // A 2 h window with a 1 h cap: 3,600 segments kept and reachable, the newest 1,800 in the live playlist.
    await publish(context(paths, { windowSeconds: 7200, playlistCapSeconds: 3600 }), r, [r], manifests);
    const live = parsePlaylist(await fs.readFile(path.join(dir, 'index.m3u8.ssi'), 'utf8').then(
      (t) => t.replace(/^<!--# include virtual="([^"]+)" -->$/gm, (_m, f: string) => readFileSync(path.join(dir, f), 'utf8'))));
    assert.deepEqual([live.segments.length, live.mediaSequence, live.playlistType], [1800, 2200, undefined]);
    const master = await fs.readFile(path.join(paths.dir, 'master.m3u8'), 'utf8');
    assert.match(master, /^#EXT-X-SESSION-DATA:DATA-ID="org\.dvr-appliance\.window",VALUE="7200"$/m);

    const catalog = new Catalog(root);
    const view = await catalog.rendition('live', 'capped', 'source');
    assert.ok(view);
    assert.deepEqual(listedSpan(view), { fromMs: T0 + 400 * 2000, toMs: T0 + 4000 * 2000 }, 'the catalog sees the whole window');
    assert.equal(segmentsIn(view, T0 + 1000 * 2000, T0 + 1010 * 2000)[0]?.seq, 1000, 'an hour before the live playlist starts');
    // The listing is the catalog's: an edge never stitches it for a viewer.
    assert.ok(edge, 'the edge of the test before');
    for (const [p, status] of [['window.m3u8', 404], ['window.ssi', 403]] as const) {
      assert.equal((await get(`${edge.url}/live/capped/source/${p}`, 'gzip')).status, status, p);
    }

    // The cap lifted: the live playlist never loses its start (its entries only grow in front), the
    // window's listing stays until the two meet.
    await publish(context(paths, { windowSeconds: 7200, playlistCapSeconds: 0 }), r, [r], manifests);
    assert.match(await fs.readFile(path.join(dir, 'index.m3u8.ssi'), 'utf8'), /^#EXT-X-MEDIA-SEQUENCE:2200$/m);
    await fs.access(path.join(dir, 'window.ssi'));
    assert.match(await fs.readFile(path.join(paths.dir, 'master.m3u8'), 'utf8'), /SESSION-DATA/);
    // A listing older than the live playlist (a packager that does not write it took over) is not believed.
    const stale = new Date(Date.now() - 60_000);
    await fs.utimes(path.join(dir, 'window.ssi'), stale, stale);
    const fresh = await new Catalog(root).rendition('live', 'capped', 'source');
    assert.equal(fresh && listedSpan(fresh)?.fromMs, T0 + 2200 * 2000);
  });
});
