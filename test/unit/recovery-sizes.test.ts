// Recovery takes the segments' sizes from the chunks' size files (one read per 1,000 segments)
// and stats only what no valid size file covers: a week's recovery on a network mount was its
// 302,400 stat calls.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { chunkName, chunkSizesName, segmentName } from '../../packager/layout.js';
import { CHUNK_SIZE, renderChunk } from '../../packager/render/hls.js';
import { Rendition } from '../../packager/rendition.js';
import { makeIndex } from '../support/index-fixture.js';
import { tempDir } from '../support/run.js';

const COUNT = 2 * CHUNK_SIZE + 300;
/** A segment's size on disk: different for each, so a wrong one shows. */
const sizeOf = (seq: number): number => 10 + (seq % 97);

/** `COUNT` segments of their own sizes on disk, as a packager left them, its chunks written by the rendition itself. */
async function fabricate(dir: string): Promise<Rendition> {
  await fs.mkdir(dir, { recursive: true });
  const index = makeIndex(COUNT, 2);
  const r = new Rendition('source', dir, path.join(dir, '..', 'spool'), 'ts', 2);
  for (let p = 0; p < index.length; p++) {
    const rec = { ...index.at(p), bytes: sizeOf(index.seqAt(p)) };
    await fs.writeFile(path.join(dir, segmentName(rec, 'ts')), Buffer.alloc(rec.bytes, 1));
    r.index.push(rec);
  }
  const input = { index: r.index, from: 0, ext: 'ts' as const, target: 2, kind: 'live' as const, ended: false, canSkipUntil: 0,
    chunkedBelow: 0 };
  for (const seq of [0, CHUNK_SIZE]) await r.writeChunk(seq, renderChunk(input, seq));
  return r;
}

async function recovered(dir: string): Promise<Rendition> {
  const r = new Rendition('source', dir, path.join(dir, '..', 'spool'), 'ts', 2);
  await r.recover();
  return r;
}

const sizesOf = (r: Rendition): number[] => Array.from({ length: r.index.length }, (_, p) => r.index.bytesAt(p));
const expected = Array.from({ length: COUNT }, (_, seq) => sizeOf(seq));

describe('recovery reads segment sizes from the chunks\' size files', () => {
  let root: string;
  before(async () => { root = await tempDir('recovery-sizes'); });
  after(async () => { await fs.rm(root, { recursive: true, force: true }); });

  it('a chunk is written with its size file; recovery lists every segment with its size on disk', async () => {
    const dir = path.join(root, 'a', 'source');
    await fabricate(dir);
    const sizes = (await fs.readFile(path.join(dir, 'chunks', chunkSizesName(CHUNK_SIZE)), 'utf8')).trim().split('\n').map(Number);
    assert.deepEqual(sizes, expected.slice(CHUNK_SIZE, 2 * CHUNK_SIZE));
    const r = await recovered(dir);
    assert.deepEqual(sizesOf(r), expected);
    assert.equal(r.chunkedBelow, 2 * CHUNK_SIZE);
  });

  it('a valid size file is what recovery believes; one that does not read as a size per segment is passed over', async () => {
    const dir = path.join(root, 'b', 'source');
    await fabricate(dir);
    // The first chunk's file says 5 for each; the second's is cut short (a torn copy, a hand edit).
    await fs.writeFile(path.join(dir, 'chunks', chunkSizesName(0)), '5\n'.repeat(CHUNK_SIZE));
    await fs.writeFile(path.join(dir, 'chunks', chunkSizesName(CHUNK_SIZE)), '7\n'.repeat(10));
    const r = await recovered(dir);
    assert.deepEqual(sizesOf(r), [...new Array<number>(CHUNK_SIZE).fill(5), ...expected.slice(CHUNK_SIZE)]);
  });

  it('chunks an older packager wrote (no size files) are sized by stat and gain their size file once', async () => {
    const dir = path.join(root, 'c', 'source');
    await fabricate(dir);
    for (const seq of [0, CHUNK_SIZE]) await fs.rm(path.join(dir, 'chunks', chunkSizesName(seq)));
    const r = await recovered(dir);
    assert.deepEqual(sizesOf(r), expected);
    const files = await fs.readdir(path.join(dir, 'chunks'));
    assert.ok(files.includes(chunkSizesName(0)) && files.includes(chunkSizesName(CHUNK_SIZE)), files.join(' '));
    assert.deepEqual(sizesOf(await recovered(dir)), expected);
  });

  it('a chunk deleted by the purge takes its size file with it', async () => {
    const dir = path.join(root, 'd', 'source');
    const r = await fabricate(dir);
    await r.deleteChunk(0);
    const files = await fs.readdir(path.join(dir, 'chunks'));
    assert.ok(!files.includes(chunkName(0)) && !files.includes(chunkSizesName(0)), files.join(' '));
    assert.ok(files.includes(chunkSizesName(CHUNK_SIZE)));
  });
});
