import assert from 'node:assert/strict';
import { crc32, gunzipSync } from 'node:zlib';
import { crc32Combine, deflatePiece, renderGzipPlaylist, type ChunkPiece } from '../../packager/render/gzip.js';
import {
  CHUNK_SIZE, mediaPlaylistParts, renderChunk, renderMediaPlaylist, type MediaPlaylistInput,
} from '../../packager/render/hls.js';
import { makeIndex } from '../support/index-fixture.js';

describe('compressed playlists', () => {
  it('combines CRC-32s as the CRC of the concatenation, for any lengths', () => {
    const a = Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n');
    for (const len of [0, 1, 7, 1000, 65_537]) {
      const b = Buffer.alloc(len, 'x');
      assert.equal(crc32Combine(crc32(a), crc32(b), len), crc32(Buffer.concat([a, b])), `length ${len}`);
    }
  });

  it('stitches pieces compressed alone into one gzip member that inflates to the playlist', () => {
    const input: MediaPlaylistInput = { index: makeIndex(CHUNK_SIZE * 3 + 12, 2), from: 3, ext: 'ts', target: 2, kind: 'live',
      ended: true, canSkipUntil: 0, chunkedBelow: CHUNK_SIZE * 3 };
    const parts = mediaPlaylistParts(input);
    const pieces = new Map<number, { piece: ChunkPiece; data: Buffer }>();
    for (const seq of parts.chunks) {
      const p = deflatePiece(renderChunk(input, seq));
      pieces.set(seq, { piece: { file: `chunks/${seq}`, crc: p.crc, length: p.length }, data: p.data });
    }
    const template = renderGzipPlaylist(parts, (seq) => pieces.get(seq)?.piece);
    assert.ok(template);
    // What nginx does: each include replaced by the included file's bytes.
    let stitched = template;
    for (const [seq, { data }] of pieces) {
      const directive = Buffer.from(`<!--# include virtual="chunks/${seq}" -->`);
      const at = stitched.indexOf(directive);
      assert.ok(at > 0, `include of ${seq}`);
      stitched = Buffer.concat([stitched.subarray(0, at), data, stitched.subarray(at + directive.length)]);
    }
    assert.equal(gunzipSync(stitched).toString(), renderMediaPlaylist({ ...input, chunkedBelow: 0 }));
    assert.equal(renderGzipPlaylist(parts, () => undefined), undefined, 'a chunk without its piece: no compressed form');
  });
});
