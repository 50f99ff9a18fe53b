import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CHUNK_DIR, chunkName } from '../../packager/layout.js';
import { CHUNK_SIZE, renderChunk, renderMediaPlaylist, type MediaPlaylistInput } from '../../packager/render/hls.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';
import { Catalog, segmentsIn } from '../../agent/timeshift/catalog.js';
import { indexWithGap, T0 } from '../support/index-fixture.js';
import { tempDir } from '../support/run.js';

// The time-shift catalog reads what the packager wrote: its gap entries stay gaps, in the
// playlist's own lines as in its chunks.
describe('the time-shift catalog', () => {
  let root: string;
  before(async () => { root = await tempDir('catalog'); });
  after(async () => fs.rm(root, { recursive: true, force: true }));

  const input = (index: SegmentIndex, over: Partial<MediaPlaylistInput> = {}): MediaPlaylistInput => ({ index, from: 0, ext: 'ts',
    target: 2, kind: 'event', ended: false, canSkipUntil: 0, chunkedBelow: 0, ...over });

  it('knows the gap entries of a playlist, whether listed in it or in a chunk it includes', async () => {
    const inline = path.join(root, 'live', 'a', 'v');
    await fs.mkdir(inline, { recursive: true });
    await fs.writeFile(path.join(inline, 'index.m3u8'), renderMediaPlaylist(input(indexWithGap())));
    const catalog = new Catalog(root);
    const view = await catalog.rendition('live', 'a', 'v');
    assert.ok(view);
    assert.deepEqual(segmentsIn(view, T0, undefined).map((s) => s.gap === true),
      [false, false, false, false, true, true, true, false, false, false, false]);

    // A chunk of CHUNK_SIZE entries with a gap in it, then the same kind of gap in the playlist's tail.
    const index = new SegmentIndex();
    for (let k = 0; k < CHUNK_SIZE + 20; k++) {
      const gap = k === 500 || k === CHUNK_SIZE + 10;
      index.push({ seq: k, startMs: T0 + k * 2000, durationUs: 2e6, disc: k > 500 ? (k > CHUNK_SIZE + 10 ? 2 : 1) : 0,
        mediaStartUs: k * 2e6, bytes: gap ? 0 : 1, ...(gap ? { gap: true } : {}) });
    }
    const chunked = path.join(root, 'live', 'b', 'v');
    await fs.mkdir(path.join(chunked, CHUNK_DIR), { recursive: true });
    await fs.writeFile(path.join(chunked, CHUNK_DIR, chunkName(0)), renderChunk(input(index), 0));
    await fs.writeFile(path.join(chunked, 'index.m3u8.ssi'), renderMediaPlaylist(input(index, { chunkedBelow: CHUNK_SIZE })));
    const long = await catalog.rendition('live', 'b', 'v');
    assert.ok(long);
    const gaps = segmentsIn(long, T0, undefined).filter((s) => s.gap === true).map((s) => s.seq);
    assert.deepEqual(gaps, [500, CHUNK_SIZE + 10]);
  });
});
